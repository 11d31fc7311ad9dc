package dev.lens4j.load;

import dev.lens4j.model.Weights;
import dev.lens4j.tensor.DType;
import dev.lens4j.tensor.Device;
import dev.lens4j.tensor.Tensor;

import java.nio.FloatBuffer;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;

/** Finds NaN and infinite values: a checkpoint holding them gives NaN logits for every prompt, silently. */
public final class NonFinite {
    private NonFinite() {}

    /** The flat index of the first NaN or infinite element of an F32 tensor (host or device), or -1 when all are finite. */
    public static long firstIndex(Tensor t) { return firstIndex(t, false); }

    /** As {@link #firstIndex(Tensor)}; with allowNegativeInfinity, -Inf counts as fine (masked attention scores hold it). */
    public static long firstIndex(Tensor t, boolean allowNegativeInfinity) {
        if (t.dtype() != DType.F32) return -1;
        if (!t.device().isCpu()) {
            try (Tensor h = t.to(Device.CPU)) { return firstIndex(h, allowNegativeInfinity); }
        }
        long chunk = SafeTensors.CHUNK_BYTES / 4;
        for (long e0 = 0; e0 < t.numel(); e0 += chunk) {
            int n = (int) Math.min(chunk, t.numel() - e0);
            FloatBuffer f = HostMemory.bytes(t, e0 * 4, (long) n * 4).asFloatBuffer();
            for (int i = 0; i < n; i++) {
                float v = f.get(i);
                if (!Float.isFinite(v) && !(allowNegativeInfinity && v == Float.NEGATIVE_INFINITY)) return e0 + i;
            }
        }
        return -1;
    }

    /** "NaN at element 17 of [4, 64, 16]" for the first bad element, or null when the tensor is finite. */
    public static String describeFirst(Tensor t) { return describeFirst(t, false); }

    public static String describeFirst(Tensor t, boolean allowNegativeInfinity) {
        long i = firstIndex(t, allowNegativeInfinity);
        if (i < 0) return null;
        float v = HostMemory.floatAt(t, i);
        return (Float.isNaN(v) ? "NaN" : v > 0 ? "+Inf" : "-Inf") + " at element " + i + " of " + Arrays.toString(t.shape());
    }

    /**
     * Throws a CheckpointException naming the first weight (in load order) that holds NaN or Inf, unless the options
     * allow them.
     */
    public static void checkWeights(Path source, Weights w, LoadOptions o) { checkWeights(source, w, o, name -> true); }

    /** As above, for the weights whose names the filter accepts (one part of a load). */
    static void checkWeights(Path source, Weights w, LoadOptions o, java.util.function.Predicate<String> names) {
        if (o.allowNonFinite()) return;
        for (Map.Entry<String, Tensor> e : w.asMap().entrySet()) {
            if (!names.test(e.getKey())) continue;
            String bad = describeFirst(e.getValue());
            if (bad != null)
                throw new CheckpointException(source + ": weight '" + e.getKey() + "' holds " + bad
                    + " (load with LoadOptions.allowNonFinite(true), or --allow-nonfinite, to accept it)");
        }
    }
}
