package dev.lens4j.load;

import dev.lens4j.model.Config;
import dev.lens4j.tensor.DType;
import dev.lens4j.tensor.MemoryLimits;
import dev.lens4j.tensor.Tensor;

import java.nio.file.Path;

/**
 * What a model's weights take once loaded, from its config alone, checked against the memory available before anything
 * is allocated. Counts TransformerLens's state dict as the loaders build it: every bias (zeros where the checkpoint has
 * none), the norm weights, and W_U even when the checkpoint ties it to the embedding (TL holds it separately, and
 * weight processing makes it differ). Weight processing works in place and only removes tensors, so for F32 this is the
 * peak; a BF16 load peaks a little above its bf16 weights ({@link #peakBytes}).
 */
public final class WeightBudget {
    private WeightBudget() {}

    /** Elements of every weight a loaded, unprocessed model holds (saturating: absurd configs read as Long.MAX_VALUE). */
    public static long parameterCount(Config c) {
        long norm = normParams(c);
        long embed = MemoryLimits.plus(embedParams(c), posParams(c));
        long unembed = MemoryLimits.plus(unembedParams(c), c.dVocabOut());
        return MemoryLimits.plus(embed, MemoryLimits.times(c.nLayers, layerParams(c)), norm, unembed);
    }

    /** Bytes of the loaded weights as F32. */
    public static long residentBytes(Config c) { return MemoryLimits.times(4, parameterCount(c)); }

    /** Bytes of the loaded weights in this dtype: BF16 holds the matrices ({@link Bf16Weights#MATRICES}) in 2 bytes, the rest in 4. */
    public static long residentBytes(Config c, DType dtype) {
        if (dtype != DType.BF16) return residentBytes(c);
        long matrices = MemoryLimits.plus(embedParams(c), unembedParams(c), MemoryLimits.times(c.nLayers, layerMatrixParams(c)));
        return minus(residentBytes(c), MemoryLimits.times(2, matrices));
    }

    /**
     * The most native memory a load holds at once. F32: the weights (processing works in place). BF16 ({@link Bf16Parts}):
     * the bf16 weights plus the part in float32 at the worst moment: the embedding (W_E and a tied W_U in float32,
     * W_E's bf16 copy being made), the unembedding (W_U in float32 and its copy) or the last block (all of it in float32
     * and its largest matrix's copy). A bound: the norm weights that folding removes are counted as held.
     */
    public static long peakBytes(Config c, DType dtype) {
        if (dtype != DType.BF16) return residentBytes(c);
        long e = embedParams(c), u = unembedParams(c), p = posParams(c);
        long embedPart = MemoryLimits.plus(MemoryLimits.times(6, e), MemoryLimits.times(4, u), MemoryLimits.times(4, p));
        long unembedPart = MemoryLimits.plus(MemoryLimits.times(2, e), MemoryLimits.times(6, u), MemoryLimits.times(4, p),
            MemoryLimits.times(4, MemoryLimits.plus(normParams(c), c.dVocabOut())));
        long layerBf16 = minus(MemoryLimits.times(4, layerParams(c)), MemoryLimits.times(2, layerMatrixParams(c)));
        long lastLayer = minus(MemoryLimits.plus(residentBytes(c, DType.BF16), MemoryLimits.times(4, layerParams(c)),
            MemoryLimits.times(2, largestLayerMatrix(c))), c.nLayers > 0 ? layerBf16 : 0);
        return Math.max(embedPart, Math.max(unembedPart, lastLayer));
    }

    /** a - b for sizes, where b <= a; a saturated size stays saturated. */
    private static long minus(long a, long b) { return a == Long.MAX_VALUE ? a : a - b; }

    private static long normParams(Config c) {
        return "LN".equals(c.normalizationType) ? 2L * c.dModel : "RMS".equals(c.normalizationType) ? c.dModel : 0;
    }

    private static long embedParams(Config c) { return MemoryLimits.times(c.dVocab, c.dModel); }

    private static long posParams(Config c) { return c.isRotary() ? 0 : MemoryLimits.times(c.nCtx, c.dModel); }

    private static long unembedParams(Config c) { return MemoryLimits.times(c.dModel, c.dVocabOut()); }

    /** Every weight of one block: its matrices, biases (zeros where the checkpoint has none) and norm weights. */
    private static long layerParams(Config c) {
        long d = c.dModel, n = c.nHeads, kv = c.nKvHeads(), dh = c.dHead, f = c.dMlp, norm = normParams(c);
        long attnBiases = MemoryLimits.plus(MemoryLimits.times(n, dh), MemoryLimits.times(2, kv, dh), d); // b_Q; b_K, b_V; b_O
        long mlpBiases = c.attnOnly ? 0 : MemoryLimits.plus(f, d, norm);
        long postNorms = c.useNormalizationBeforeAndAfter ? 2 * d : 0;
        return MemoryLimits.plus(norm, layerMatrixParams(c), attnBiases, mlpBiases, postNorms);
    }

    /** W_Q, W_O; W_K, W_V; W_in (and W_gate), W_out of one block. */
    private static long layerMatrixParams(Config c) {
        long d = c.dModel, n = c.nHeads, kv = c.nKvHeads(), dh = c.dHead, f = c.dMlp;
        long mlp = c.attnOnly ? 0 : MemoryLimits.times(c.gatedMlp ? 3 : 2, d, f);
        return MemoryLimits.plus(MemoryLimits.times(2, n, d, dh), MemoryLimits.times(2, kv, d, dh), mlp);
    }

    private static long largestLayerMatrix(Config c) {
        long qo = MemoryLimits.times(c.nHeads, c.dModel, c.dHead);
        return Math.max(qo, c.attnOnly ? 0 : MemoryLimits.times(c.dModel, c.dMlp));
    }

    /** Refuses, naming needed and available memory, a model whose weights cannot fit in the memory available now. */
    public static void requireFits(Path source, Config c, DType dtype) {
        long need = peakBytes(c, dtype);
        Tensor.releaseHostCache(); // cached blocks are lens4j's own free memory: they must not count against a new load
        long available = MemoryLimits.availableBytes();
        if (need > available)
            throw new CheckpointException(source + ": its weights need " + MemoryLimits.size(need) + " as " + (dtype == DType.BF16 ? "BF16" : "F32")
                + " (" + parameterCount(c) + " parameters as TransformerLens holds them, W_U included), but only "
                + MemoryLimits.size(available) + " of memory is available (" + MemoryLimits.size(MemoryLimits.physicalBytes()) + " in all)");
    }
}
