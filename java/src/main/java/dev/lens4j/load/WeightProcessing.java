package dev.lens4j.load;

import dev.lens4j.model.Config;
import dev.lens4j.model.Weights;
import dev.lens4j.tensor.Tensor;

import java.nio.FloatBuffer;
import java.util.stream.IntStream;

/**
 * TransformerLens's weight processing (HookedTransformer.process_weights_ / load_and_process_state_dict with
 * from_pretrained's defaults), on host tensors, in place. Each step checks the same conditions as TL: LayerNorm folding
 * folds biases and centres the reading weights only for LN; writing weights are centred only for LN / LNPre models
 * without a final RMSNorm. Sums accumulate in double. Updates the Config's normalization_type and *_folded / *_centered flags.
 */
public final class WeightProcessing {
    private WeightProcessing() {}

    /** The steps the options ask for, in TL's order: fold_ln, center_writing_weights, center_unembed, fold_value_biases. */
    public static void process(Config cfg, Weights w, LoadOptions o) {
        if (o.foldLn()) foldLayerNorm(cfg, w);
        if (o.centerWritingWeights()) centerWritingWeights(cfg, w);
        if (o.centerUnembed()) centerUnembed(cfg, w);
        if (o.foldValueBiases()) foldValueBiases(cfg, w);
    }

    /**
     * Folds ln1 into W_Q/W_K/W_V (and b_Q/b_K/b_V), ln2 into W_in/W_gate (and b_in), ln_final into W_U (and b_U), then
     * removes the norm weights and switches LN -> LNPre, RMS -> RMSPre. For LN the reading weights are then centred over
     * d_model (their input has zero mean); as in TL, W_gate is scaled but not centred. Returns false (and changes nothing)
     * when there is nothing to fold.
     */
    public static boolean foldLayerNorm(Config cfg, Weights w) {
        if (!foldsLayerNorm(cfg)) return false;
        for (int l = 0; l < cfg.nLayers; l++) checkGatedLn2Bias(cfg, w, l); // before anything changes
        IntStream.range(0, cfg.nLayers).parallel().forEach(l -> foldLayerNorm(cfg, w, l));
        foldFinalLayerNorm(cfg, w);
        for (int l = 0; l < cfg.nLayers; l++) dropNorms(w, l);
        dropFinalNorm(w);
        markLayerNormFolded(cfg);
        return true;
    }

    /**
     * Subtracts the mean over d_model from everything that writes to the residual stream: W_E, W_pos, W_O, b_O, W_out,
     * b_out. Skipped (returns false), as in TL, unless the model uses LN / LNPre and has no final RMSNorm.
     */
    public static boolean centerWritingWeights(Config cfg, Weights w) {
        if (!centersWritingWeights(cfg)) return false;
        centerEmbeddings(cfg, w);
        IntStream.range(0, cfg.nLayers).parallel().forEach(l -> centerWritingWeights(cfg, w, l));
        cfg.writingWeightsCentered = true;
        return true;
    }

    /**
     * W_U minus its mean over the vocabulary for each d_model row, b_U minus its mean: log-probs are unchanged. Skipped
     * (returns false) with output soft-capping, where it would change them.
     */
    public static boolean centerUnembed(Config cfg, Weights w) {
        if (!centersUnembed(cfg)) return false;
        centerUnembedWeights(cfg, w);
        cfg.unembedCentered = true;
        return true;
    }

    /**
     * b_O += sum over heads h of b_V[h] @ W_O[h], then b_V = 0 (attention rows sum to 1, so b_V's effect is constant).
     * Under grouped-query attention query head h uses kv head h / (n_heads / n_kv_heads), as TL's repeat_interleave.
     */
    public static boolean foldValueBiases(Config cfg, Weights w) {
        IntStream.range(0, cfg.nLayers).parallel().forEach(l -> foldValueBiases(cfg, w, l));
        cfg.valueBiasesFolded = true;
        return true;
    }

    // ------------------------------------------------ part by part (a bf16 load processes each part as it arrives)
    // The conditions read the unprocessed config; markProcessed updates it once every part is done, as process() leaves it.

    /** The steps o asks for on W_E and W_pos alone. */
    static void processEmbed(Config cfg, Weights w, LoadOptions o) {
        if (o.centerWritingWeights() && centersWritingWeights(cfg)) centerEmbeddings(cfg, w);
    }

    /** The steps o asks for on ln_final, W_U and b_U alone (ln_final is removed when folded). */
    static void processUnembed(Config cfg, Weights w, LoadOptions o) {
        if (o.foldLn() && foldsLayerNorm(cfg)) {
            foldFinalLayerNorm(cfg, w);
            dropFinalNorm(w);
        }
        if (o.centerUnembed() && centersUnembed(cfg)) centerUnembedWeights(cfg, w);
    }

    /** The steps o asks for on block l alone, in process()'s order (its norm weights are removed when folded). */
    static void processLayer(Config cfg, Weights w, LoadOptions o, int l) {
        if (o.foldLn() && foldsLayerNorm(cfg)) {
            checkGatedLn2Bias(cfg, w, l);
            foldLayerNorm(cfg, w, l);
            dropNorms(w, l);
        }
        if (o.centerWritingWeights() && centersWritingWeights(cfg)) centerWritingWeights(cfg, w, l);
        if (o.foldValueBiases()) foldValueBiases(cfg, w, l);
    }

    /** After processEmbed, processUnembed and processLayer of every layer: the config as process() leaves it. */
    static void markProcessed(Config cfg, LoadOptions o) {
        boolean centerWriting = o.centerWritingWeights() && centersWritingWeights(cfg); // read before the fold renames LN
        if (o.foldLn() && foldsLayerNorm(cfg)) markLayerNormFolded(cfg);
        if (centerWriting) cfg.writingWeightsCentered = true;
        if (o.centerUnembed() && centersUnembed(cfg)) cfg.unembedCentered = true;
        if (o.foldValueBiases()) cfg.valueBiasesFolded = true;
    }

    private static boolean foldsLayerNorm(Config cfg) { return "LN".equals(cfg.normalizationType) || "RMS".equals(cfg.normalizationType); }

    private static boolean centersWritingWeights(Config cfg) { return cfg.isLayerNorm() && !cfg.finalRms; }

    // as TL: cap * tanh(logits / cap) is not invariant to adding a constant to the logits, so soft-capped models keep W_U
    private static boolean centersUnembed(Config cfg) { return !(cfg.outputLogitsSoftCap > 0); }

    private static void markLayerNormFolded(Config cfg) {
        cfg.normalizationType = "LN".equals(cfg.normalizationType) ? "LNPre" : "RMSPre";
        cfg.lnFolded = true;
    }

    private static void checkGatedLn2Bias(Config cfg, Weights w, int l) {
        if (cfg.gatedMlp && "LN".equals(cfg.normalizationType) && !cfg.attnOnly && !allZero(w.get(Weights.ln(l, 2, "b"))))
            throw new IllegalArgumentException("cannot fold a non-zero ln2 bias of layer " + l + " into W_gate: TransformerLens has no b_gate");
    }

    /** ln1 into the layer's Q/K/V, ln2 into its MLP inputs; LN folds biases and centres, RMS only scales. */
    private static void foldLayerNorm(Config cfg, Weights w, int l) {
        boolean ln = "LN".equals(cfg.normalizationType);
        Tensor w1 = w.get(Weights.ln(l, 1, "w"));
        Tensor b1 = ln ? w.get(Weights.ln(l, 1, "b")) : null;
        fold(w.W_Q(l), w.b_Q(l), w1, b1, ln);
        fold(w.W_K(l), w.b_K(l), w1, b1, ln);
        fold(w.W_V(l), w.b_V(l), w1, b1, ln);
        if (cfg.attnOnly) return;
        Tensor w2 = w.get(Weights.ln(l, 2, "w"));
        Tensor b2 = ln ? w.get(Weights.ln(l, 2, "b")) : null;
        fold(w.W_in(l), w.b_in(l), w2, b2, ln);
        if (cfg.gatedMlp) fold(w.W_gate(l), null, w2, null, false);
    }

    private static void foldFinalLayerNorm(Config cfg, Weights w) {
        boolean ln = "LN".equals(cfg.normalizationType);
        Tensor bf = !cfg.finalRms && ln ? w.get("ln_final.b") : null;
        fold(w.W_U(), w.b_U(), w.get("ln_final.w"), bf, ln);
    }

    private static void dropNorms(Weights w, int l) {
        for (int which = 1; which <= 2; which++)
            for (String p : new String[] {"w", "b"}) close(w.remove(Weights.ln(l, which, p)));
    }

    private static void dropFinalNorm(Weights w) {
        close(w.remove("ln_final.w"));
        close(w.remove("ln_final.b"));
    }

    private static void close(Tensor t) { if (t != null) t.close(); }

    private static void centerEmbeddings(Config cfg, Weights w) {
        centerRows(w.W_E(), cfg.dModel);
        if (!cfg.isRotary() && w.has("pos_embed.W_pos")) centerRows(w.W_pos(), cfg.dModel);
    }

    private static void centerWritingWeights(Config cfg, Weights w, int l) {
        int d = cfg.dModel;
        centerRows(w.W_O(l), d);
        centerRows(w.b_O(l), d);
        if (cfg.attnOnly) return;
        centerRows(w.W_out(l), d);
        centerRows(w.b_out(l), d);
    }

    private static void centerUnembedWeights(Config cfg, Weights w) {
        centerRows(w.W_U(), cfg.dVocabOut());
        centerRows(w.b_U(), cfg.dVocabOut());
    }

    private static void foldValueBiases(Config cfg, Weights w, int l) {
        int n = cfg.nHeads, group = n / cfg.nKvHeads(), dh = cfg.dHead, d = cfg.dModel;
        FloatBuffer bv = HostMemory.floats(w.b_V(l));
        FloatBuffer wo = HostMemory.floats(w.W_O(l));
        FloatBuffer bo = HostMemory.floats(w.b_O(l));
        double[] acc = new double[d];
        for (int h = 0; h < n; h++)
            for (int e = 0; e < dh; e++) {
                double b = bv.get((h / group) * dh + e);
                if (b == 0) continue;
                int row = (h * dh + e) * d;
                for (int m = 0; m < d; m++) acc[m] += b * wo.get(row + m);
            }
        for (int m = 0; m < d; m++) bo.put(m, (float) (bo.get(m) + acc[m]));
        for (int i = 0; i < bv.limit(); i++) bv.put(i, 0f);
    }

    /**
     * For W [H, D, E] (or [D, E] as H = 1) read by a norm with weight g [D] and bias beta [D]:
     * b[h, e] += sum_d W[h, d, e] beta[d]; W[h, d, e] *= g[d]; optionally W[h, :, e] -= its mean over d.
     * In place, long-indexed (W_U may be over 2 GiB), in parallel over blocks of columns e.
     */
    static void fold(Tensor wt, Tensor bias, Tensor g, Tensor beta, boolean center) {
        long[] s = wt.shape();
        int dDim = (int) (s.length == 3 ? s[1] : s[0]), e = (int) s[s.length - 1], heads = s.length == 3 ? (int) s[0] : 1;
        if (g.numel() != dDim) throw new IllegalArgumentException("norm weight " + g.describe() + " does not match " + wt.describe());
        NativeFloats W = NativeFloats.of(wt), G = NativeFloats.of(g);
        NativeFloats Bt = beta == null ? null : NativeFloats.of(beta), B = bias == null ? null : NativeFloats.of(bias);
        int block = 256, blocks = (e + block - 1) / block;
        IntStream tasks = IntStream.range(0, heads * blocks);
        if ((long) heads * dDim * e > (1 << 22)) tasks = tasks.parallel();
        tasks.forEach(task -> {
            int h = task / blocks, k0 = (task % blocks) * block, k1 = Math.min(e, k0 + block);
            long base = (long) h * dDim * e;
            double[] acc = new double[k1 - k0];
            if (Bt != null) {
                for (int m = 0; m < dDim; m++) {
                    double bm = Bt.get(m);
                    for (int k = k0; k < k1; k++) acc[k - k0] += W.get(base + (long) m * e + k) * bm;
                }
                for (int k = k0; k < k1; k++) B.put((long) h * e + k, (float) (B.get((long) h * e + k) + acc[k - k0]));
            }
            java.util.Arrays.fill(acc, 0);
            for (int m = 0; m < dDim; m++) {
                float gm = G.get(m);
                for (int k = k0; k < k1; k++) {
                    long i = base + (long) m * e + k;
                    float v = W.get(i) * gm;
                    W.put(i, v);
                    acc[k - k0] += v;
                }
            }
            if (center) {
                for (int k = k0; k < k1; k++) acc[k - k0] /= dDim;
                for (int m = 0; m < dDim; m++)
                    for (int k = k0; k < k1; k++) {
                        long i = base + (long) m * e + k;
                        W.put(i, (float) (W.get(i) - acc[k - k0]));
                    }
            }
        });
    }

    /** Subtracts from each contiguous row of length rowLen its mean (in place, any size). */
    static void centerRows(Tensor t, int rowLen) {
        NativeFloats b = NativeFloats.of(t);
        long rows = t.numel() / rowLen;
        java.util.stream.LongStream r = java.util.stream.LongStream.range(0, rows);
        if (t.numel() > (1 << 20)) r = r.parallel();
        r.forEach(i -> {
            long row = i * rowLen;
            double s = 0;
            for (int k = 0; k < rowLen; k++) s += b.get(row + k);
            double mean = s / rowLen;
            for (int k = 0; k < rowLen; k++) b.put(row + k, (float) (b.get(row + k) - mean));
        });
    }

    static boolean allZero(Tensor t) {
        NativeFloats b = NativeFloats.of(t);
        for (long i = 0; i < b.size(); i++) if (b.get(i) != 0f) return false;
        return true;
    }
}
