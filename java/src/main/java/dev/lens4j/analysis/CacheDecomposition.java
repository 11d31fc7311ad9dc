package dev.lens4j.analysis;

import dev.lens4j.hooks.ActivationCache;
import dev.lens4j.hooks.Positions;
import dev.lens4j.model.Config;
import dev.lens4j.model.HookedTransformer;
import dev.lens4j.model.Weights;
import dev.lens4j.tensor.Tensor;

import java.util.ArrayList;
import java.util.List;

/**
 * TransformerLens's ActivationCache analyses (accumulated_resid, decompose_resid, compute/stack_head_results,
 * stack_neuron_results, apply_ln_to_stack, logit_attrs, get_full_resid_decomposition, stack_activation) over a
 * lens4j cache, with TL's arguments, labels and rules. Differences: the position dimension is always kept (a
 * single position gives size 1 where TL's integer pos_slice drops it), and the cache's own positions are those it
 * was filled with (RunOptions.cachePositions), to which {@code pos} applies. Layer -1 means n_layers, as in TL.
 * <p>Use through {@link ActivationCache#accumulatedResid} and friends, or {@code CacheDecomposition.of(model, cache)}.
 */
public final class CacheDecomposition {
    /** decompose_resid's mode. */
    public enum Mode { ALL, ATTN, MLP }

    private final HookedTransformer model;
    private final ActivationCache cache;
    private final Config cfg;

    private CacheDecomposition(HookedTransformer model, ActivationCache cache) {
        if (model == null) throw new IllegalArgumentException("cache analyses need the model the cache came from");
        this.model = model;
        this.cache = cache;
        this.cfg = model.cfg();
    }

    public static CacheDecomposition of(HookedTransformer model, ActivationCache cache) { return new CacheDecomposition(model, cache); }

    private int layerArg(int layer) {
        int L = cfg.nLayers;
        if (layer == -1) return L;
        if (layer < 0 || layer > L) throw new IllegalArgumentException("layer " + layer + " is outside 0.." + L + " (or -1 for all)");
        return layer;
    }

    // ---------------------------------------------------------------- residual stacks

    /** TL's accumulated_resid: resid_pre of layers 0..layer-1 (plus resid_mid with inclMid), "final_post" at n_layers. */
    public ResidualStack accumulatedResid(int layer, boolean inclMid, boolean applyLn, Positions pos, boolean mlpInput) {
        int upTo = layerArg(layer);
        Parts p = new Parts(pos);
        for (int l = 0; l <= upTo; l++) {
            if (l == cfg.nLayers) {
                p.add("blocks." + (cfg.nLayers - 1) + ".hook_resid_post", "final_post");
                continue;
            }
            p.add("blocks." + l + ".hook_resid_pre", l + "_pre");
            if ((inclMid && l < upTo) || (mlpInput && l == upTo)) p.add("blocks." + l + ".hook_resid_mid", l + "_mid");
        }
        ResidualStack s = p.stack();
        return applyLn ? replace(s, applyLnToStack(s, upTo, mlpInput, pos)) : s;
    }

    /** TL's decompose_resid: embed, pos_embed, then each layer's attn_out and mlp_out before `layer`. */
    public ResidualStack decomposeResid(int layer, boolean mlpInput, Mode mode, boolean applyLn, Positions pos, boolean inclEmbeds) {
        int upTo = layerArg(layer);
        boolean attn = mode != Mode.MLP, mlp = mode != Mode.ATTN && !cfg.attnOnly;
        Parts p = new Parts(pos);
        if (inclEmbeds) {
            if (cache.has("hook_embed")) p.add("hook_embed", "embed");
            if (cache.has("hook_pos_embed")) p.add("hook_pos_embed", "pos_embed");
        }
        for (int l = 0; l < upTo; l++) {
            if (attn) p.add("blocks." + l + ".hook_attn_out", l + "_attn_out");
            if (mlp) p.add("blocks." + l + ".hook_mlp_out", l + "_mlp_out");
        }
        if (mlpInput && attn) p.add("blocks." + upTo + ".hook_attn_out", upTo + "_attn_out");
        ResidualStack s = p.stack();
        return applyLn ? replace(s, applyLnToStack(s, upTo, mlpInput, pos)) : s;
    }

    /**
     * TL's compute_head_results: blocks.{l}.attn.hook_result [batch, pos, head, d_model] = z[.., h, :] @ W_O[h],
     * added to the cache (no bias, as in TL).
     */
    public void computeHeadResults() {
        for (int l = 0; l < cfg.nLayers; l++) {
            String name = "blocks." + l + ".attn.hook_result";
            if (cache.has(name)) continue;
            Tensor zt = cache.get("blocks." + l + ".attn.hook_z");
            int B = (int) zt.size(0), P = (int) zt.size(1), H = (int) zt.size(2), dh = (int) zt.size(3), D = cfg.dModel;
            float[] z = zt.toFloatArray(), wo = model.weights().W_O(l).toFloatArray(), out = new float[B * P * H * D];
            for (int bp = 0; bp < B * P; bp++)
                for (int h = 0; h < H; h++)
                    for (int e = 0; e < dh; e++) {
                        float v = z[(bp * H + h) * dh + e];
                        if (v == 0f) continue;
                        int w = (h * dh + e) * D, o = (bp * H + h) * D;
                        for (int d = 0; d < D; d++) out[o + d] += v * wo[w + d];
                    }
            cache.put(name, Tensor.of(out, B, P, H, D));
        }
    }

    /** TL's stack_head_results: every head of layers 0..layer-1 ("L{l}H{h}"), optionally the remainder. */
    public ResidualStack stackHeadResults(int layer, boolean inclRemainder, Positions pos, boolean applyLn) {
        int upTo = layerArg(layer);
        computeHeadResults();
        Parts p = new Parts(pos);
        for (int l = 0; l < upTo; l++) {
            Tensor r = cache.get("blocks." + l + ".attn.hook_result");
            for (int h = 0; h < cfg.nHeads; h++) p.addSlice(r, h, "L" + l + "H" + h);
        }
        if (inclRemainder) p.addRemainder(upTo);
        ResidualStack s = p.stack();
        return applyLn ? replace(s, applyLnToStack(s, upTo, false, pos)) : s;
    }

    /** TL's get_neuron_results: [batch, pos, neurons, d_model] = hook_post[.., n] * W_out[n]. neurons null: all. */
    public Tensor neuronResults(int layer, int[] neurons, Positions pos) {
        Tensor post = cache.get("blocks." + layer + ".mlp.hook_post");
        int B = (int) post.size(0), P = (int) post.size(1), F = (int) post.size(2), D = cfg.dModel;
        int[] ps = resolve(pos, P), ns = neurons == null ? range(F) : checkNeurons(neurons, F);
        float[] a = post.toFloatArray(), wout = model.weights().W_out(layer).toFloatArray();
        float[] out = new float[B * ps.length * ns.length * D];
        for (int b = 0; b < B; b++)
            for (int i = 0; i < ps.length; i++)
                for (int j = 0; j < ns.length; j++) {
                    float v = a[(b * P + ps[i]) * F + ns[j]];
                    int o = ((b * ps.length + i) * ns.length + j) * D, w = ns[j] * D;
                    for (int d = 0; d < D; d++) out[o + d] = v * wout[w + d];
                }
        return Tensor.of(out, B, ps.length, ns.length, D);
    }

    /** TL's stack_neuron_results: every (chosen) neuron of layers 0..layer-1 ("L{l}N{n}"), optionally the remainder. */
    public ResidualStack stackNeuronResults(int layer, Positions pos, int[] neurons, boolean inclRemainder, boolean applyLn) {
        int upTo = layerArg(layer);
        Parts p = new Parts(Positions.all());
        int[] ns = neurons == null ? range(cfg.dMlp) : checkNeurons(neurons, cfg.dMlp);
        for (int l = 0; l < upTo; l++) {
            try (Tensor r = neuronResults(l, ns, pos)) {
                for (int j = 0; j < ns.length; j++) p.addSlice(r, j, "L" + l + "N" + ns[j]);
            }
        }
        p.positions = pos;
        if (inclRemainder) p.addRemainder(upTo);
        ResidualStack s = p.stack();
        return applyLn ? replace(s, applyLnToStack(s, upTo, false, pos)) : s;
    }

    /** TL's stack_activation: one hook point of layers 0..layer-1 stacked, [layers, ...]. */
    public Tensor stackActivation(String activationName, int layer, String sublayerType) {
        int upTo = layerArg(layer);
        List<float[]> parts = new ArrayList<>();
        long[] shape = null;
        for (int l = 0; l < upTo; l++) {
            Tensor t = cache.get(sublayerType == null ? dev.lens4j.hooks.HookNames.actName(activationName, l)
                    : "blocks." + l + "." + sublayerType + ".hook_" + activationName);
            if (shape == null) shape = t.shape();
            parts.add(t.toFloatArray());
        }
        if (shape == null) throw new IllegalArgumentException("stack_activation over no layers (layer " + layer + ")");
        int n = parts.get(0).length;
        float[] out = new float[parts.size() * n];
        for (int i = 0; i < parts.size(); i++) System.arraycopy(parts.get(i), 0, out, i * n, n);
        long[] s = new long[shape.length + 1];
        s[0] = parts.size();
        System.arraycopy(shape, 0, s, 1, shape.length);
        return Tensor.of(out, s);
    }

    /**
     * TL's get_full_resid_decomposition: every head, every neuron (or each layer's mlp_out), embed, pos_embed and
     * the accumulated bias; the components sum to the residual stream entering `layer` (its MLP with mlpInput).
     */
    public ResidualStack fullResidDecomposition(int layer, boolean mlpInput, boolean expandNeurons, boolean applyLn, Positions pos) {
        int upTo = layerArg(layer);
        List<ResidualStack> parts = new ArrayList<>();
        try {
            parts.add(stackHeadResults(upTo + (mlpInput ? 1 : 0), false, pos, false));
            if (!cfg.attnOnly && upTo > 0)
                parts.add(expandNeurons ? stackNeuronResults(upTo, pos, null, false, false)
                        : decomposeResid(upTo, mlpInput, Mode.MLP, false, pos, false));
            Parts rest = new Parts(pos);
            if (cache.has("hook_embed")) rest.add("hook_embed", "embed");
            if (cache.has("hook_pos_embed")) rest.add("hook_pos_embed", "pos_embed");
            float[] bias = accumulatedBias(upTo, mlpInput, expandNeurons);
            rest.addConstant(bias, "bias", parts.get(0));
            parts.add(rest.stack());
            ResidualStack s = concat(parts);
            return applyLn ? replace(s, applyLnToStack(s, upTo, mlpInput, pos)) : s;
        } finally {
            parts.forEach(ResidualStack::close);
        }
    }

    /** TL's accumulated_bias: b_O (and b_out) of layers 0..layer-1, plus b_O of `layer` with mlpInput. */
    public float[] accumulatedBias(int layer, boolean mlpInput, boolean includeMlpBiases) {
        Weights w = model.weights();
        float[] out = new float[cfg.dModel];
        for (int l = 0; l < layer; l++) {
            addTo(out, w.b_O(l).toFloatArray());
            if (includeMlpBiases && !cfg.attnOnly) addTo(out, w.b_out(l).toFloatArray());
        }
        if (mlpInput) {
            if (layer >= cfg.nLayers) throw new IllegalArgumentException("mlp_input: no attention bias beyond the final layer");
            addTo(out, w.b_O(layer).toFloatArray());
        }
        return out;
    }

    // ---------------------------------------------------------------- layer norm and logits

    /**
     * TL's apply_ln_to_stack: centre each component (LayerNorm models) and divide by the cached scale of the norm
     * that reads the stream at `layer` (ln_final at n_layers, ln2 with mlpInput, else ln1). The weight and bias of
     * the norm are not applied (TL's rule: fold them into the next matrix). Models without normalisation: unchanged.
     */
    public ResidualStack applyLnToStack(ResidualStack s, int layer, boolean mlpInput, Positions pos) {
        int upTo = layerArg(layer);
        float[] x = s.stack().toFloatArray();
        if (cfg.normalizationType == null) return new ResidualStack(Tensor.of(x, s.stack().shape()), s.labels());
        String scaleName = upTo == cfg.nLayers ? "ln_final.hook_scale" : "blocks." + upTo + ".ln" + (mlpInput ? 2 : 1) + ".hook_scale";
        Tensor scaleT = cache.get(scaleName);
        int B = s.batch(), P = s.pos(), D = s.dModel(), n = s.size();
        int cachedP = (int) scaleT.size(1);
        int[] ps = resolve(pos, cachedP);
        if (ps.length != P || scaleT.size(0) != B)
            throw new IllegalArgumentException("stack " + s.stack().describe() + " does not match " + scaleName + " " + scaleT.describe()
                    + " at positions " + pos);
        float[] scale = scaleT.toFloatArray();
        boolean center = cfg.isLayerNorm();
        for (int c = 0; c < n; c++)
            for (int b = 0; b < B; b++)
                for (int i = 0; i < P; i++) {
                    int o = ((c * B + b) * P + i) * D;
                    double mean = 0;
                    if (center) {
                        for (int d = 0; d < D; d++) mean += x[o + d];
                        mean /= D;
                    }
                    float sc = scale[b * cachedP + ps[i]];
                    for (int d = 0; d < D; d++) x[o + d] = (float) ((x[o + d] - mean) / sc);
                }
        return new ResidualStack(Tensor.of(x, s.stack().shape()), s.labels());
    }

    /**
     * The logit lens: each component read as if it were the final residual stream. As TL's tutorials do it:
     * apply_ln_to_stack at the final layer (the cached ln_final scale of the real final residual, for every
     * component), then ln_final's weight and bias where the model still has them, then W_U and b_U. For the
     * "final_post" component this gives the model's logits. Returns [components, batch, pos, d_vocab_out].
     */
    public Tensor logitLens(ResidualStack s, Positions pos) {
        try (ResidualStack scaled = applyLnToStack(s, -1, false, pos)) {
            float[] x = scaled.stack().toFloatArray();
            int D = s.dModel(), rows = x.length / D;
            Weights w = model.weights();
            if (cfg.hasNormWeights()) {
                float[] g = w.get("ln_final.w").toFloatArray();
                float[] b = w.has("ln_final.b") ? w.get("ln_final.b").toFloatArray() : null;
                for (int r = 0; r < rows; r++)
                    for (int d = 0; d < D; d++) x[r * D + d] = x[r * D + d] * g[d] + (b == null ? 0f : b[d]);
            }
            int V = cfg.dVocabOut();
            // the unembedding runs where the model does; the result comes back to the host as the other analyses' do
            dev.lens4j.backend.Backend be = model.backend();
            try (Tensor host = Tensor.of(x, rows, D); Tensor in = be.device().isCpu() ? host.reshape(rows, D) : host.to(be.device());
                 Tensor out = be.zeros(s.size(), s.batch(), s.pos(), V)) { // linear reads it as [rows, V]
                be.linear(in, w.W_U(), w.b_U(), out);
                return out.to(dev.lens4j.tensor.Device.CPU);
            }
        }
    }

    /** TL's tokens_to_residual_directions for one token: the column W_U[:, token]. */
    public float[] tokenDirection(int token) {
        Tensor wu = model.weights().W_U();
        int D = (int) wu.size(0), V = (int) wu.size(1);
        if (token < 0 || token >= V) throw new IndexOutOfBoundsException("token " + token + " is outside the vocabulary of " + V);
        float[] w = wu.toFloatArray(), out = new float[D];
        for (int d = 0; d < D; d++) out[d] = w[d * V + token];
        return out;
    }

    /** Sum of the tokens' directions minus the sum of the others' (seed 004's answer sets; either may be empty). */
    public float[] tokenSetDirection(int[] tokens, int[] others) {
        float[] out = new float[cfg.dModel];
        for (int t : tokens) addTo(out, tokenDirection(t));
        for (int t : others) {
            float[] d = tokenDirection(t);
            for (int i = 0; i < out.length; i++) out[i] -= d[i];
        }
        return out;
    }

    /**
     * TL's logit_attrs with one correct (and optionally one incorrect) token for every row: the stack with
     * apply_ln_to_stack at the final layer, dotted with W_U[:, token] - W_U[:, incorrect]. Returns [components,
     * batch, pos]. {@code incorrect} may be null.
     */
    public Tensor logitAttrs(ResidualStack s, int token, Integer incorrect, Positions pos) {
        float[] dir = incorrect == null ? tokenDirection(token) : tokenSetDirection(new int[] {token}, new int[] {incorrect});
        return directionAttrs(s, dir, pos);
    }

    /** Per-row tokens (TL: tokens of shape [batch]): row b uses tokens[b] (and incorrect[b]). */
    public Tensor logitAttrs(ResidualStack s, int[] tokens, int[] incorrect, Positions pos) {
        if (tokens.length != s.batch() || (incorrect != null && incorrect.length != tokens.length))
            throw new IllegalArgumentException("logit_attrs: " + tokens.length + " tokens" + (incorrect == null ? "" : " and " + incorrect.length
                    + " incorrect tokens") + " for a batch of " + s.batch());
        float[][] dirs = new float[tokens.length][];
        for (int b = 0; b < tokens.length; b++)
            dirs[b] = incorrect == null ? tokenDirection(tokens[b]) : tokenSetDirection(new int[] {tokens[b]}, new int[] {incorrect[b]});
        return attrs(s, dirs, pos);
    }

    /** Attribution of each component to a residual direction (after apply_ln_to_stack at the final layer). */
    public Tensor directionAttrs(ResidualStack s, float[] direction, Positions pos) {
        float[][] dirs = new float[s.batch()][];
        java.util.Arrays.fill(dirs, direction);
        return attrs(s, dirs, pos);
    }

    private Tensor attrs(ResidualStack s, float[][] dirs, Positions pos) {
        try (ResidualStack scaled = applyLnToStack(s, -1, false, pos)) {
            float[] x = scaled.stack().toFloatArray();
            int n = s.size(), B = s.batch(), P = s.pos(), D = s.dModel();
            for (float[] d : dirs)
                if (d.length != D) throw new IllegalArgumentException("direction of " + d.length + " for d_model " + D);
            float[] out = new float[n * B * P];
            for (int c = 0; c < n; c++)
                for (int b = 0; b < B; b++)
                    for (int i = 0; i < P; i++) {
                        int o = ((c * B + b) * P + i) * D;
                        double acc = 0;
                        for (int d = 0; d < D; d++) acc += (double) x[o + d] * dirs[b][d];
                        out[(c * B + b) * P + i] = (float) acc;
                    }
            return Tensor.of(out, n, B, P);
        }
    }

    // ---------------------------------------------------------------- helpers

    /** Collects [batch, pos', d_model] slices into one stack. */
    private final class Parts {
        Positions positions;
        final List<float[]> data = new ArrayList<>();
        final List<String> labels = new ArrayList<>();
        int B = -1, P = -1, D = cfg.dModel;

        Parts(Positions positions) { this.positions = positions; }

        void add(String hook, String label) { addSlice(cache.get(hook), -1, label); }

        /** t is [batch, pos, d_model], or [batch, pos, k, d_model] with `index` choosing k. */
        void addSlice(Tensor t, int index, String label) {
            int b = (int) t.size(0), p = (int) t.size(1), d = (int) t.size(-1);
            int k = index < 0 ? 1 : (int) t.size(2), kk = index < 0 ? 0 : index;
            int[] ps = resolve(positions, p);
            float[] a = t.toFloatArray(), out = new float[b * ps.length * d];
            for (int bi = 0; bi < b; bi++)
                for (int i = 0; i < ps.length; i++)
                    System.arraycopy(a, ((bi * p + ps[i]) * k + kk) * d, out, (bi * ps.length + i) * d, d);
            push(out, b, ps.length, label);
        }

        /** resid_post of layer upTo-1 minus the sum of what was collected (TL's "remainder"). */
        void addRemainder(int upTo) {
            float[] rem;
            if (upTo == 0) throw new IllegalArgumentException("incl_remainder needs layer >= 1");
            Positions keep = positions;
            Parts tmp = new Parts(keep);
            tmp.add("blocks." + (upTo - 1) + ".hook_resid_post", "remainder");
            rem = tmp.data.get(0);
            for (float[] c : data) for (int i = 0; i < rem.length; i++) rem[i] -= c[i];
            push(rem, tmp.B, tmp.P, "remainder");
        }

        void addConstant(float[] v, String label, ResidualStack like) {
            int b = like.batch(), p = like.pos();
            float[] out = new float[b * p * v.length];
            for (int i = 0; i < b * p; i++) System.arraycopy(v, 0, out, i * v.length, v.length);
            push(out, b, p, label);
        }

        private void push(float[] out, int b, int p, String label) {
            if (B >= 0 && (b != B || p != P))
                throw new IllegalArgumentException("component '" + label + "' is [" + b + ", " + p + "] but earlier ones are [" + B + ", " + P + "]");
            B = b; P = p;
            data.add(out);
            labels.add(label);
        }

        ResidualStack stack() {
            if (data.isEmpty()) {
                Tensor e = cache.get("hook_embed");
                int p = resolve(positions, (int) e.size(1)).length;
                return new ResidualStack(Tensor.zeros(0, e.size(0), p, D), labels);
            }
            int each = data.get(0).length;
            float[] all = new float[data.size() * each];
            for (int i = 0; i < data.size(); i++) System.arraycopy(data.get(i), 0, all, i * each, each);
            return new ResidualStack(Tensor.of(all, data.size(), B, P, D), labels);
        }
    }

    private static ResidualStack concat(List<ResidualStack> parts) {
        List<String> labels = new ArrayList<>();
        long total = 0;
        for (ResidualStack p : parts) { labels.addAll(p.labels()); total += p.stack().numel(); }
        float[] all = new float[Math.toIntExact(total)];
        int at = 0;
        ResidualStack first = parts.get(0);
        for (ResidualStack p : parts) {
            float[] a = p.stack().toFloatArray();
            System.arraycopy(a, 0, all, at, a.length);
            at += a.length;
        }
        return new ResidualStack(Tensor.of(all, labels.size(), first.batch(), first.pos(), first.dModel()), labels);
    }

    private static ResidualStack replace(ResidualStack old, ResidualStack now) {
        old.close();
        return now;
    }

    private static int[] resolve(Positions pos, int p) { return (pos == null ? Positions.all() : pos).resolve(p); }

    private static int[] range(int n) {
        int[] r = new int[n];
        for (int i = 0; i < n; i++) r[i] = i;
        return r;
    }

    private static int[] checkNeurons(int[] ns, int F) {
        for (int n : ns) if (n < 0 || n >= F) throw new IndexOutOfBoundsException("neuron " + n + " is outside 0.." + (F - 1));
        return ns;
    }

    private static void addTo(float[] acc, float[] v) { for (int i = 0; i < acc.length; i++) acc[i] += v[i]; }
}
