package dev.lens4j.load;

import dev.lens4j.model.Config;
import dev.lens4j.tensor.MemoryLimits;

import java.nio.file.Path;

/**
 * What a model's weights take once loaded, from its config alone, checked against the memory available before anything
 * is allocated. Counts TransformerLens's state dict as the loaders build it: every bias (zeros where the checkpoint has
 * none), the norm weights, and W_U even when the checkpoint ties it to the embedding (TL holds it separately, and
 * weight processing makes it differ). Weight processing works in place and only removes tensors, so this is the peak.
 */
public final class WeightBudget {
    private WeightBudget() {}

    /** Elements of every weight a loaded, unprocessed model holds (saturating: absurd configs read as Long.MAX_VALUE). */
    public static long parameterCount(Config c) {
        long d = c.dModel, n = c.nHeads, kv = c.nKvHeads(), dh = c.dHead, f = c.dMlp;
        long norm = "LN".equals(c.normalizationType) ? 2 * d : "RMS".equals(c.normalizationType) ? d : 0;
        long attn = MemoryLimits.plus(MemoryLimits.times(2, n, d, dh), MemoryLimits.times(2, kv, d, dh), // W_Q, W_O; W_K, W_V
            MemoryLimits.times(n, dh), MemoryLimits.times(2, kv, dh), d);                                // b_Q; b_K, b_V; b_O
        long mlp = c.attnOnly ? 0 : MemoryLimits.plus(MemoryLimits.times(c.gatedMlp ? 3 : 2, d, f), f, d, norm);
        long postNorms = c.useNormalizationBeforeAndAfter ? 2 * d : 0;
        long layer = MemoryLimits.plus(norm, attn, mlp, postNorms);
        long embed = MemoryLimits.plus(MemoryLimits.times(c.dVocab, d), c.isRotary() ? 0 : MemoryLimits.times(c.nCtx, d));
        long unembed = MemoryLimits.plus(MemoryLimits.times(d, c.dVocabOut()), c.dVocabOut());
        return MemoryLimits.plus(embed, MemoryLimits.times(c.nLayers, layer), norm, unembed);
    }

    /** Bytes of the loaded weights as F32. */
    public static long residentBytes(Config c) { return MemoryLimits.times(4, parameterCount(c)); }

    /** Refuses, naming needed and available memory, a model whose weights cannot fit in the memory available now. */
    public static void requireFits(Path source, Config c) {
        long need = residentBytes(c);
        long available = MemoryLimits.availableBytes();
        if (need > available)
            throw new CheckpointException(source + ": its weights need " + MemoryLimits.size(need) + " as F32 (" + parameterCount(c)
                + " parameters as TransformerLens holds them, W_U included), but only " + MemoryLimits.size(available)
                + " of memory is available (" + MemoryLimits.size(MemoryLimits.physicalBytes()) + " in all)");
    }
}
