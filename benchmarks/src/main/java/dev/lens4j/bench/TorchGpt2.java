package dev.lens4j.bench;

import dev.lens4j.model.Config;
import dev.lens4j.model.Weights;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.IntPointer;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;

/**
 * The same GPT-2 forward in libtorch eager ops (as Hugging Face's GPT2Model runs it: fused QKV addmm,
 * matmul attention with a causal mask, tanh-GELU), from lens4j's canonical weights. The benchmark baseline.
 */
final class TorchGpt2 implements AutoCloseable {
    private final Config cfg;
    private final Tensor wte, wpe, lnfW, lnfB, wU, bU;
    private final Tensor[] ln1W, ln1B, wQkv, bQkv, wO, bO, ln2W, ln2B, wIn, bIn, wOut, bOut;
    private final Tensor mask;

    TorchGpt2(Config cfg, Weights w) {
        Torch.load();
        this.cfg = cfg;
        int L = cfg.nLayers;
        long D = cfg.dModel, HD = (long) cfg.nHeads * cfg.dHead;
        wte = Torch.copyOf(w.W_E());
        wpe = Torch.copyOf(w.W_pos());
        lnfW = Torch.copyOf(w.get("ln_final.w"));
        lnfB = Torch.copyOf(w.get("ln_final.b"));
        wU = Torch.copyOf(w.W_U());
        bU = Torch.copyOf(w.b_U());
        ln1W = new Tensor[L]; ln1B = new Tensor[L]; wQkv = new Tensor[L]; bQkv = new Tensor[L]; wO = new Tensor[L];
        bO = new Tensor[L]; ln2W = new Tensor[L]; ln2B = new Tensor[L]; wIn = new Tensor[L]; bIn = new Tensor[L];
        wOut = new Tensor[L]; bOut = new Tensor[L];
        for (int l = 0; l < L; l++) {
            ln1W[l] = Torch.copyOf(w.get(Weights.ln(l, 1, "w")));
            ln1B[l] = Torch.copyOf(w.get(Weights.ln(l, 1, "b")));
            // [heads, d_model, d_head] -> [d_model, heads*d_head], then Q|K|V side by side as GPT-2's c_attn
            Tensor q = Torch.copyOf(w.W_Q(l)).permute(1, 0, 2).reshape(D, HD);
            Tensor k = Torch.copyOf(w.W_K(l)).permute(1, 0, 2).reshape(D, HD);
            Tensor v = Torch.copyOf(w.W_V(l)).permute(1, 0, 2).reshape(D, HD);
            TensorVector qkv = new TensorVector(q, k, v);
            wQkv[l] = torch.cat(qkv, 1).contiguous();
            bQkv[l] = torch.cat(new TensorVector(Torch.copyOf(w.b_Q(l)).reshape(HD), Torch.copyOf(w.b_K(l)).reshape(HD),
                    Torch.copyOf(w.b_V(l)).reshape(HD)), 0).contiguous();
            wO[l] = Torch.copyOf(w.W_O(l)).reshape(HD, D);
            bO[l] = Torch.copyOf(w.b_O(l));
            ln2W[l] = Torch.copyOf(w.get(Weights.ln(l, 2, "w")));
            ln2B[l] = Torch.copyOf(w.get(Weights.ln(l, 2, "b")));
            wIn[l] = Torch.copyOf(w.W_in(l));
            bIn[l] = Torch.copyOf(w.b_in(l));
            wOut[l] = Torch.copyOf(w.W_out(l));
            bOut[l] = Torch.copyOf(w.b_out(l));
        }
        int n = cfg.nCtx;
        float[] m = new float[n * n];
        for (int i = 0; i < n; i++) for (int j = i + 1; j < n; j++) m[i * n + j] = Float.NEGATIVE_INFINITY;
        mask = torch.from_blob(new FloatPointer(m), n, n).clone();
    }

    static void setThreads(int n) { Torch.load(); torch.set_num_threads(n); }
    static int threads() { Torch.load(); return torch.get_num_threads(); }

    /** Logits [batch, seq, vocab]; intermediates are freed by the caller's PointerScope. */
    Tensor forward(int[] tokens, int batch, int seq) {
        return run(tokens, batch, seq, false, null, null, null);
    }

    /**
     * The forward pass; with lastOnly only the last position is unembedded ([batch, vocab]). When resid / z / post are
     * given, they receive blocks.l.hook_resid_pre [N, D], attn.hook_z [N, heads*d_head] and mlp.hook_post [N, d_mlp];
     * under autograd the caller may retain_grad() them (done here when the embedding requires grad).
     */
    Tensor run(int[] tokens, int batch, int seq, boolean lastOnly, Tensor[] resid, Tensor[] z, Tensor[] post) {
        long D = cfg.dModel, H = cfg.nHeads, dh = cfg.dHead, N = (long) batch * seq;
        Tensor ids = torch.from_blob(new IntPointer(tokens), new long[] {N}, new TensorOptions(torch.ScalarType.Int)).clone();
        Tensor x = torch.embedding(wte, ids).add(wpe.narrow(0, 0, seq).repeat(batch, 1));
        boolean track = resid != null && org.bytedeco.pytorch.GradMode.is_enabled();
        if (track) x.requires_grad_(true); // weights need no gradient: autograd starts at the residual stream
        Tensor causal = mask.narrow(0, 0, seq).narrow(1, 0, seq);
        Scalar one = new Scalar(1.0f), scale = new Scalar((float) (1.0 / Math.sqrt(dh)));
        for (int l = 0; l < cfg.nLayers; l++) {
            if (resid != null) { resid[l] = x; if (track && l > 0) x.retain_grad(); }
            Tensor h = torch.layer_norm(x, new long[] {D}, new TensorOptional(ln1W[l]), new TensorOptional(ln1B[l]), cfg.eps, false);
            Tensor qkv = torch.addmm(bQkv[l], h, wQkv[l]);
            TensorVector parts = qkv.split(H * dh, 1);
            Tensor q = parts.get(0).reshape(batch, seq, H, dh).permute(0, 2, 1, 3);
            Tensor k = parts.get(1).reshape(batch, seq, H, dh).permute(0, 2, 3, 1);
            Tensor v = parts.get(2).reshape(batch, seq, H, dh).permute(0, 2, 1, 3);
            Tensor scores = torch.matmul(q, k).mul_(scale).add_(causal);
            Tensor zl = torch.matmul(scores.softmax(-1), v).permute(0, 2, 1, 3).reshape(N, H * dh);
            if (z != null) { z[l] = zl; if (track) zl.retain_grad(); }
            // out of place under autograd (in-place adds on saved tensors break backward)
            x = track ? torch.addmm(bO[l], zl, wO[l]).add(x) : torch.addmm(bO[l], zl, wO[l]).add_(x, one);
            h = torch.layer_norm(x, new long[] {D}, new TensorOptional(ln2W[l]), new TensorOptional(ln2B[l]), cfg.eps, false);
            Tensor p = torch.gelu(torch.addmm(bIn[l], h, wIn[l]), "tanh");
            if (post != null) { post[l] = p; if (track) p.retain_grad(); }
            x = track ? torch.addmm(bOut[l], p, wOut[l]).add(x) : torch.addmm(bOut[l], p, wOut[l]).add_(x, one);
        }
        if (lastOnly) x = x.reshape(batch, seq, D).select(1, seq - 1);
        Tensor h = torch.layer_norm(x, new long[] {D}, new TensorOptional(lnfW), new TensorOptional(lnfB), cfg.eps, false);
        Tensor logits = torch.addmm(bU, h, wU);
        return lastOnly ? logits : logits.reshape(batch, seq, cfg.dVocabOut());
    }

    /**
     * All-component attribution patching with autograd, as a TransformerLens user writes it: corrupt forward without
     * gradients, clean forward + backward of sum_b logit(answer_b) - logit(wrong_b) at the last position, then
     * (corrupt - clean) * grad reduced to [L, d_mlp], [L, heads], [L, seq]. Returns {mlp, heads, resid}.
     */
    Tensor[] attribution(int[] clean, int[] corrupt, int batch, int seq, int[] answer, int[] wrong) {
        int L = cfg.nLayers;
        long H = cfg.nHeads, dh = cfg.dHead, D = cfg.dModel;
        Tensor[] cr = new Tensor[L], cz = new Tensor[L], cp = new Tensor[L];
        try (NoGradGuard g = new NoGradGuard()) {
            run(corrupt, batch, seq, true, cr, cz, cp);
        }
        Tensor[] r = new Tensor[L], z = new Tensor[L], p = new Tensor[L];
        Tensor logits = run(clean, batch, seq, true, r, z, p);
        float[] sel = new float[batch * cfg.dVocabOut()];
        for (int b = 0; b < batch; b++) { sel[b * cfg.dVocabOut() + answer[b]] += 1; sel[b * cfg.dVocabOut() + wrong[b]] -= 1; }
        Tensor weights = torch.from_blob(new FloatPointer(sel), batch, cfg.dVocabOut()).clone();
        logits.mul(weights).sum().backward();
        Tensor[] mlp = new Tensor[L], heads = new Tensor[L], resid = new Tensor[L];
        try (NoGradGuard g = new NoGradGuard()) {
            for (int l = 0; l < L; l++) {
                mlp[l] = cp[l].sub(p[l]).mul_(p[l].grad()).sum(0);
                heads[l] = cz[l].sub(z[l]).mul_(z[l].grad()).reshape(batch * seq, H, dh).sum(0, 2);
                resid[l] = cr[l].sub(r[l]).mul_(r[l].grad()).reshape(batch, seq, D).sum(0, 2);
            }
            return new Tensor[] {torch.stack(new TensorVector(mlp), 0), torch.stack(new TensorVector(heads), 0), torch.stack(new TensorVector(resid), 0)};
        }
    }

    @Override public void close() {
        for (Tensor[] ts : new Tensor[][] {ln1W, ln1B, wQkv, bQkv, wO, bO, ln2W, ln2B, wIn, bIn, wOut, bOut})
            for (Tensor t : ts) t.close();
        for (Tensor t : new Tensor[] {wte, wpe, lnfW, lnfB, wU, bU, mask}) t.close();
    }
}
