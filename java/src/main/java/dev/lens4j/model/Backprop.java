package dev.lens4j.model;

import dev.lens4j.backend.Activation;
import dev.lens4j.backend.Backend;
import dev.lens4j.hooks.ActivationCache;
import dev.lens4j.hooks.HookNames;
import dev.lens4j.hooks.HookPoint;
import dev.lens4j.hooks.Hooks;
import dev.lens4j.tensor.Tensor;
import dev.lens4j.tensor.TensorOps;
import dev.lens4j.tensor.TensorScope;

import java.util.Arrays;
import java.util.function.Predicate;

/**
 * The reverse pass of {@link HookedTransformer} over a {@link Tape}: gradients of a scalar metric at every hook
 * point (TL names; each fires once with the total gradient), backward hooks that read or replace a gradient, and,
 * when asked, weight gradients under TL's parameter names. Forward hooks count as the identity here.
 */
final class Backprop {
    private final HookedTransformer m;
    private final Config cfg;
    private final Weights w;
    private final Backend be;
    private final Tape tape;
    private final Hooks hooks;
    private final ActivationCache grads;     // gradient cache, or null
    private final Predicate<String> gradFilter;
    private final Weights wg;                 // weight gradients, or null
    private final TensorScope scope;
    private final int B, S;
    private final long N;
    private final StepScratch scratch; // each block's gradients are freed when its backward ends

    Backprop(HookedTransformer m, Tape tape, Hooks hooks, ActivationCache grads, Predicate<String> gradFilter,
             Weights weightGrads, TensorScope scope, int B, int S) {
        this.m = m; this.cfg = m.cfg(); this.w = m.weights(); this.be = m.backend(); this.tape = tape;
        this.hooks = hooks == null ? Hooks.none() : hooks; this.grads = grads; this.gradFilter = gradFilter;
        this.wg = weightGrads; this.scope = scope; this.B = B; this.S = S; this.N = (long) B * S;
        this.scratch = new StepScratch(scope);
    }

    private Tensor z(long... shape) { return scratch.track(be.zeros(shape)); }

    private Tensor wgrad(String name) { return wg == null ? null : wg.getOrNull(name); }

    private boolean wanted(String name) {
        return (grads != null && gradFilter.test(name)) || hooks.anyMatch(name);
    }

    /** Backward hooks, then the gradient cache; returns the gradient that flows on. */
    private Tensor fire(String name, int layer, Tensor g) {
        Tensor cur = g;
        if (!hooks.isEmpty()) {
            HookPoint hp = new HookPoint(name, layer);
            for (Hooks.Entry e : hooks.entries()) {
                if (!e.filter().test(name)) continue;
                Tensor r = e.fn().apply(cur, hp);
                if (r != null && r != cur) {
                    if (!Arrays.equals(r.shape(), cur.shape()))
                        throw new IllegalArgumentException("backward hook at " + name + " returned shape " + Arrays.toString(r.shape())
                                + ", expected " + Arrays.toString(cur.shape()));
                    cur = r;
                }
            }
        }
        if (grads != null && gradFilter.test(name)) {
            // take the tensor itself when we own it (nothing writes a gradient after it fires); copy a view, a
            // hook's tensor, or one a first name already took (residual branches share one gradient)
            Tensor c = !cur.isView() && scope.release(cur) ? cur : cur.copy();
            scope.release(c);
            grads.put(name, c);
        }
        if (hooks.anyMatch(name)) { scratch.pin(g); scratch.pin(cur); } // a backward hook may keep it
        return cur;
    }

    /** A gradient that a hook may change without touching `g` (which also flows elsewhere). */
    private Tensor branch(String name, Tensor g) {
        if (!hooks.anyMatch(name)) return g;
        Tensor c = g.copy();
        return c;
    }

    /** Runs the reverse pass from dLogits (shaped like the logits the metric saw) down to block `first` (0: the embeddings too). */
    void run(Tensor dLogits, int first) {
        long D = cfg.dModel, V = cfg.dVocabOut();
        if (tape.cappedLogits != null) { // logits = cap * tanh(raw / cap)
            Tensor dRaw = z(dLogits.shape());
            be.softcapBackward(tape.cappedLogits, dLogits, (float) cfg.outputLogitsSoftCap, dRaw);
            dLogits = dRaw;
        }
        // unembed: logits = h @ W_U + b_U (h: all rows, or the last row per sequence)
        Tensor h = tape.unembedIn;
        long rows = h.numel() / D;
        Tensor dhRows = z(rows, D);
        be.linearBackward(h, w.W_U(), dLogits, dhRows, wgrad("unembed.W_U"), wgrad("unembed.b_U"));
        Tensor dh;
        if (tape.lastOnly) {
            // each row's gradient to its last (real) position, zero elsewhere: a scatter into distinct rows, which is
            // what the embedding's backward does (on the backend's device)
            int[] lastRows = new int[B];
            for (int b = 0; b < B; b++) lastRows[b] = b * S + (tape.lastIndices == null ? S - 1 : tape.lastIndices[b]);
            dh = z(B, S, D);
            be.embedBackward(Tensor.ofInts(lastRows, B), dhRows, dh.reshape(N, D));
        } else {
            dh = dhRows.reshape(B, S, D);
        }
        Tensor g = normBackward("ln_final.", -1, dh, "ln_final.w", "ln_final.b");
        for (int l = cfg.nLayers - 1; l >= first; l--) g = block(l, g);
        if (first > 0) return; // started from a residual: no embeddings ran
        // embeddings: resid_pre(0) = embed (+ pos_embed)
        Tensor dEmbed = fire(HookNames.EMBED, -1, branch(HookNames.EMBED, g));
        Tensor dW_E = wgrad("embed.W_E");
        if (dW_E != null) be.embedBackward(tape.tokens, dEmbed, dW_E);
        if (!cfg.isRotary()) {
            Tensor dPos = fire(HookNames.POS_EMBED, -1, branch(HookNames.POS_EMBED, g));
            Tensor dW_pos = wgrad("pos_embed.W_pos");
            if (dW_pos != null) {
                if (tape.positionIds == null) be.posEmbedBackward(B, S, 0, dPos, dW_pos);
                else be.embedBackward(Tensor.ofInts(tape.positionIds, (long) B * S), dPos, dW_pos); // rows at each token's position
            }
        }
    }

    /** Backward of TL's LN / LNPre / RMS / RMSPre; returns the gradient at the norm's input. */
    private Tensor normBackward(String prefix, int layer, Tensor dOut, String wName, String bName) {
        return normBackward(cfg.normalizationType, prefix, layer, dOut, wName, bName);
    }

    private Tensor normBackward(String type, String prefix, int layer, Tensor dOut, String wName, String bName) {
        if (type == null) return dOut;
        boolean hasWeights = "LN".equals(type) || "RMS".equals(type);
        Tape.Norm rec = tape.norms.get(prefix);
        String scaleName = prefix + "hook_scale", normName = prefix + "hook_normalized";
        Tensor weight = hasWeights ? w.get(wName) : null;
        Tensor dScale = wanted(scaleName) ? z(B, S, 1) : null;
        Tensor dx = z(B, S, cfg.dModel);
        if (type.startsWith("LN")) {
            Tensor dn = fire(normName, layer, dOut); // LN's hook_normalized is the output
            be.layerNormBackward(rec.x(), weight, rec.scale(), dn, dx, wgrad(wName), hasWeights ? wgrad(bName) : null, dScale);
        } else {
            Tensor dn;
            if (weight != null) {
                dn = z(B, S, cfg.dModel);
                be.scaleColsBackward(rec.normalized(), weight, dOut, dn, wgrad(wName));
            } else {
                dn = dOut;
            }
            dn = fire(normName, layer, dn); // RMS's hook_normalized is before the weight
            be.rmsNormBackward(rec.x(), null, rec.scale(), dn, dx, null, null, dScale);
        }
        if (dScale != null) fire(scaleName, layer, dScale);
        return dx;
    }

    private Tensor block(int l, Tensor dResidPost) {
        scratch.start();
        return scratch.end(blockStep(l, dResidPost), dResidPost);
    }

    private Tensor blockStep(int l, Tensor dResidPost) {
        Tape.Layer t = tape.layers[l];
        long D = cfg.dModel, dh = cfg.dHead, F = cfg.dMlp;
        int nH = cfg.nHeads, nKv = cfg.nKvHeads();
        Tensor g = fire(HookNames.residPost(l), l, dResidPost);
        // dMid: the gradient reaching attn_out and, through the skip connection, resid_pre
        Tensor dMid, dResidFromMlp = null;
        if (cfg.attnOnly) {
            dMid = g;
        } else {
            Tensor dMlpOut = fire(HookNames.mlpOut(l), l, branch(HookNames.mlpOut(l), g));
            if (cfg.useNormalizationBeforeAndAfter) dMlpOut = postNormBackward("blocks." + l + ".ln2_post.", l, dMlpOut);
            Tensor dPost = z(B, S, F);
            be.linearBackward(t.post, w.W_out(l), dMlpOut, dPost, wgrad(Weights.mlp(l, "W_out")), wgrad(Weights.mlp(l, "b_out")));
            dPost = fire(HookNames.mlpPost(l), l, dPost);
            Tensor ln2Out = tape.norms.containsKey("blocks." + l + ".ln2.") ? tape.norms.get("blocks." + l + ".ln2.").out() : t.mid;
            Tensor dm = z(B, S, D);
            if (cfg.gatedMlp) {
                Tensor db_in = wgrad(Weights.mlp(l, "b_in"));
                if (db_in != null) be.sumRows(dPost, db_in);
                Tensor dGate = z(B, S, F), dLin = z(B, S, F);
                be.gatedActivationBackward(m.activation(), t.pre, t.lin, dPost, dGate, dLin);
                dGate = fire(HookNames.mlpPre(l), l, dGate);
                dLin = fire(HookNames.mlpPreLinear(l), l, dLin);
                accumulateLinearInput(ln2Out, w.W_gate(l), dGate, dm, wgrad(Weights.mlp(l, "W_gate")), false);
                accumulateLinearInput(ln2Out, w.W_in(l), dLin, dm, wgrad(Weights.mlp(l, "W_in")), true);
            } else {
                Tensor dPre = z(B, S, F);
                be.activationBackward(m.activation(), t.pre, dPost, dPre);
                dPre = fire(HookNames.mlpPre(l), l, dPre);
                be.linearBackward(ln2Out, w.W_in(l), dPre, dm, wgrad(Weights.mlp(l, "W_in")), wgrad(Weights.mlp(l, "b_in")));
            }
            Tensor dMidFromMlp = normBackward("blocks." + l + ".ln2.", l, dm, Weights.ln(l, 2, "w"), Weights.ln(l, 2, "b"));
            if (cfg.parallelAttnMlp) { // the MLP read resid_pre: its input gradient joins resid_pre's below
                dMid = g;
                dResidFromMlp = dMidFromMlp;
            } else {
                dMid = z(B, S, D);
                be.add(g, dMidFromMlp, dMid);
                dMid = fire(HookNames.residMid(l), l, dMid);
            }
        }
        // attention
        Tensor dAttnOut = fire(HookNames.attnOut(l), l, branch(HookNames.attnOut(l), dMid));
        if (cfg.useNormalizationBeforeAndAfter) dAttnOut = postNormBackward("blocks." + l + ".ln1_post.", l, dAttnOut);
        long HD = (long) nH * dh;
        Tensor dz = z(B, S, nH, dh);
        be.linearBackward(t.z.reshape(N, HD), w.W_O(l).reshape(HD, D), dAttnOut, dz, wgradView(Weights.attn(l, "W_O"), HD, D),
                wgrad(Weights.attn(l, "b_O")));
        dz = fire(HookNames.z(l), l, dz);
        Tensor dPattern = z(B, nH, S, S), dv = z(B, S, nKv, dh);
        be.attnApplyBackward(t.pattern, t.v, dz, dPattern, dv);
        dPattern = fire(HookNames.pattern(l), l, dPattern);
        Tensor dScores = z(B, nH, S, S);
        be.softmaxBackward(t.probs != null ? t.probs : t.pattern, dPattern, dScores);
        dScores = fire(HookNames.attnScores(l), l, dScores);
        if (t.cappedScores != null) { // scores = cap * tanh(raw / cap): back to the raw scaled scores
            Tensor dRaw = z(B, nH, S, S);
            be.softcapBackward(t.cappedScores, dScores, (float) cfg.attnScoresSoftCap, dRaw);
            dScores = dRaw;
        }
        Tensor dq = z(B, S, nH, dh), dk = z(B, S, nKv, dh);
        be.attnScoresBackward(t.rq, t.rk, (float) (1.0 / cfg.attnScale()), cfg.windowOf(l), tape.keyRanges, dScores, dq, dk);
        if (cfg.isRotary()) {
            dq = fire(HookNames.rotQ(l), l, dq);
            dk = fire(HookNames.rotK(l), l, dk);
            Tensor dqr = z(dq.shape()), dkr = z(dk.shape());
            if (tape.rotaryRows == null) {
                Tensor[] cs = m.rotaryTables((int) dq.size(1));
                be.rotaryBackward(dq, cfg.rotaryDim(), 0, cs[0], cs[1], cfg.rotaryAdjacentPairs, dqr);
                be.rotaryBackward(dk, cfg.rotaryDim(), 0, cs[0], cs[1], cfg.rotaryAdjacentPairs, dkr);
            } else { // each token at its own position: one sequence of B * S tokens against the gathered table rows
                Tensor[] cs = tape.rotaryRows;
                be.rotaryBackward(flat(dq), cfg.rotaryDim(), 0, cs[0], cs[1], cfg.rotaryAdjacentPairs, flat(dqr));
                be.rotaryBackward(flat(dk), cfg.rotaryDim(), 0, cs[0], cs[1], cfg.rotaryAdjacentPairs, flat(dkr));
            }
            dq = dqr;
            dk = dkr;
        }
        dq = fire(HookNames.q(l), l, dq);
        dk = fire(HookNames.k(l), l, dk);
        dv = fire(HookNames.v(l), l, dv);
        Tensor a = tape.norms.containsKey("blocks." + l + ".ln1.") ? tape.norms.get("blocks." + l + ".ln1.").out() : t.residPre;
        Tensor da = z(B, S, D);
        headsBackward(a, w.W_Q(l), dq, da, wgrad(Weights.attn(l, "W_Q")), false);
        headsBackward(a, w.W_K(l), dk, da, wgrad(Weights.kvName(cfg, l, "W_K")), true);
        headsBackward(a, w.W_V(l), dv, da, wgrad(Weights.kvName(cfg, l, "W_V")), true);
        Tensor db;
        if ((db = wgrad(Weights.attn(l, "b_Q"))) != null) be.sumRows(dq.reshape(N, (long) nH * dh), db);
        if ((db = wgrad(Weights.kvName(cfg, l, "b_K"))) != null) be.sumRows(dk.reshape(N, (long) nKv * dh), db);
        if ((db = wgrad(Weights.kvName(cfg, l, "b_V"))) != null) be.sumRows(dv.reshape(N, (long) nKv * dh), db);
        Tensor dResidFromAttn = normBackward("blocks." + l + ".ln1.", l, da, Weights.ln(l, 1, "w"), Weights.ln(l, 1, "b"));
        Tensor dResidPre = z(B, S, D);
        be.add(dMid, dResidFromAttn, dResidPre);
        if (dResidFromMlp != null) be.add(dResidPre, dResidFromMlp, dResidPre);
        return fire(HookNames.residPre(l), l, dResidPre);
    }

    private Tensor postNormBackward(String prefix, int layer, Tensor dOut) {
        return normBackward(HookedTransformer.postNormType(cfg), prefix, layer, dOut, prefix + "w", prefix + "b");
    }

    /** dIn (+)= dOut @ W^T, dW += x^T dOut, for y = x @ W with W [K, N]. */
    private void accumulateLinearInput(Tensor x, Tensor W, Tensor dOut, Tensor dIn, Tensor dW, boolean accumulate) {
        long K = W.size(0), Nn = W.numel() / K, rows = dOut.numel() / Nn;
        be.gemm(false, true, rows, K, Nn, 1f, dOut, 0, Nn, W, 0, Nn, accumulate ? 1f : 0f, dIn, 0, K, null, 0);
        if (dW != null) be.gemm(true, false, K, Nn, rows, 1f, x, 0, K, dOut, 0, Nn, 1f, dW, 0, Nn, null, 0);
    }

    private Tensor wgradView(String name, long rows, long cols) {
        Tensor t = wgrad(name);
        return t == null ? null : t.reshape(rows, cols);
    }

    /**
     * Backward of the per-head projection out[:, h] = x @ W[h] (W in TL's layout [heads, d_model, d_head]):
     * dIn (+)= sum_h dOut[:, h] @ W[h]^T, and dW[h] += x^T @ dOut[:, h] straight into TL's layout. Where the forward
     * projected from a repack of W (enough rows), so does this: one GEMM per product over W repacked [d_model,
     * heads * d_head] for this call, instead of one narrow GEMM per head (K = d_head for dIn, N = d_head for dW).
     */
    private void headsBackward(Tensor x, Tensor W, Tensor dOut, Tensor dIn, Tensor dW, boolean accumulate) {
        long H = W.size(0), D = W.size(1), dh = W.size(2), rows = dOut.numel() / (H * dh), HD = H * dh;
        if (HookedTransformer.repacksProjection(W, H, rows)) {
            try (Tensor packed = TensorOps.transpose(W, 0, 1)) {
                be.gemm(false, true, rows, D, HD, 1f, dOut, 0, HD, packed, 0, HD, accumulate ? 1f : 0f, dIn, 0, D, null, 0);
            }
            if (dW != null) {
                try (Tensor packedGrad = be.zeros(D, H, dh)) {
                    be.gemm(true, false, D, HD, rows, 1f, x, 0, D, dOut, 0, HD, 0f, packedGrad, 0, HD, null, 0);
                    try (Tensor grad = TensorOps.transpose(packedGrad, 0, 1)) { be.add(dW, grad, dW); }
                }
            }
            return;
        }
        for (long h = 0; h < H; h++) {
            be.gemm(false, true, rows, D, dh, 1f, dOut, h * dh, H * dh, W, h * D * dh, dh, accumulate || h > 0 ? 1f : 0f, dIn, 0, D, null, 0);
            if (dW != null) be.gemm(true, false, D, dh, rows, 1f, x, 0, D, dOut, h * dh, H * dh, 1f, dW, h * D * dh, dh, null, 0);
        }
    }

    /** [B, S, heads, d_head] viewed as one sequence [1, B * S, heads, d_head]. */
    private static Tensor flat(Tensor x) { return x.reshape(1, x.size(0) * x.size(1), x.size(2), x.size(3)); }
}
