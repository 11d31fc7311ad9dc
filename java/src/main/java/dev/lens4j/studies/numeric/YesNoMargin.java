package dev.lens4j.studies.numeric;

import dev.lens4j.model.Config;
import dev.lens4j.model.HookedTransformer;
import dev.lens4j.tensor.Tensor;

import java.util.HashMap;
import java.util.Map;

/**
 * logit(yes) - logit(no) from the final residual (blocks.{L-1}.hook_resid_post) at one position: ln_final, the two
 * W_U columns and b_U entries, then Gemma 2's final soft cap, as the unembedding computes them. The study needs only
 * these two logits; the full unembedding reads all of W_U (256,000 x 2,304 on Gemma 2) for every run.
 */
final class YesNoMargin {
    private final HookedTransformer model;
    private final Config cfg;
    private final float[] lnW, lnB, bU;
    private final Map<Long, float[]> columns = new HashMap<>(); // (yes, no) -> W_U[:, {yes, no}] as [D * 2]

    YesNoMargin(HookedTransformer model) {
        this.model = model;
        this.cfg = model.cfg();
        lnW = model.readWeights(w -> w.has("ln_final.w") ? w.get("ln_final.w").toFloatArray() : null);
        lnB = model.readWeights(w -> w.has("ln_final.b") ? w.get("ln_final.b").toFloatArray() : null);
        bU = model.readWeights(w -> w.b_U().toFloatArray());
    }

    /** W_U[:, yes] and W_U[:, no], [D * 2] (d-major), read once per pair. */
    float[] columns(int yes, int no) {
        return columns.computeIfAbsent(((long) yes << 32) | no, k -> model.readWeights(w -> {
            try (Tensor t = w.W_U().indexSelect(1, yes, no)) { return t.toFloatArray(); }
        }));
    }

    /** The raw (not truth-aligned) margin of the residual at resid[off .. off + d_model). */
    double of(float[] resid, int off, int yes, int no) {
        int D = cfg.dModel;
        double[] h = new double[D];
        for (int d = 0; d < D; d++) h[d] = resid[off + d];
        Readout.normalize(cfg, h, lnW, lnB);
        float[] wu = columns(yes, no);
        double y = bU[yes], n = bU[no];
        for (int d = 0; d < D; d++) { y += h[d] * wu[2 * d]; n += h[d] * wu[2 * d + 1]; }
        double cap = cfg.outputLogitsSoftCap;
        if (cap > 0) { y = cap * Math.tanh(y / cap); n = cap * Math.tanh(n / cap); }
        return y - n;
    }
}
