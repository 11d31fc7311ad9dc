package dev.lens4j.load;

import dev.lens4j.tensor.Tensor;

import java.util.function.LongUnaryOperator;
import java.util.stream.IntStream;

/**
 * Checkpoint layouts to TransformerLens layouts, applied while a tensor streams from its file ({@link SafeTensors#readRows}):
 * element (r, c) of the file's [rows, cols] goes to {@code dst[rowOffset(r) + colOffset[c]]} of each target, and a negative
 * offset means "not this target's" (one file tensor can feed several weights, as GPT-2's fused c_attn). Every transpose
 * and head split of the loaders is one of the factories below, so no loader stages a whole tensor before rearranging it.
 */
final class RowScatter {
    private RowScatter() {}

    /** Where the elements of a file tensor go in one destination weight. */
    record Target(Tensor dst, LongUnaryOperator rowOffset, long[] colOffset) {}

    /** Streams file tensor {@code name} of {@code st}, viewed as rows of {@code cols}, into the targets. */
    static void scatter(SafeTensors st, String name, int cols, Target... targets) {
        scatter(st, name, cols, SafeTensors.ROW_CHUNK_FLOATS, targets);
    }

    /** As above, reading chunks of about chunkFloats elements. */
    static void scatter(SafeTensors st, String name, int cols, int chunkFloats, Target... targets) {
        NativeFloats[] dst = new NativeFloats[targets.length];
        for (int t = 0; t < targets.length; t++) dst[t] = NativeFloats.of(targets[t].dst());
        st.readRows(name, cols, chunkFloats, (buf, firstRow, rows) -> {
            IntStream ks = IntStream.range(0, rows);
            if ((long) rows * cols > (1 << 16)) ks = ks.parallel();
            ks.forEach(k -> {
                for (int t = 0; t < targets.length; t++) {
                    long ro = targets[t].rowOffset().applyAsLong(firstRow + k);
                    if (ro < 0) continue;
                    long[] co = targets[t].colOffset();
                    NativeFloats d = dst[t];
                    int base = k * cols;
                    for (int c = 0; c < cols; c++) if (co[c] >= 0) d.put(ro + co[c], buf[base + c]);
                }
            });
        });
    }

    /** File [rows, cols] into dst as [cols, rows] (HF Linear's (out, in) to TL's (in, out); any dst shape of that size). */
    static Target transpose(Tensor dst, long rows, int cols) {
        return new Target(dst, r -> r, offsets(cols, c -> c * rows));
    }

    /** File [(n h), m] (q/k/v_proj, rows grouped by head) into dst [n, m, h]. */
    static Target headsFromRows(Tensor dst, int dh, int m) {
        return new Target(dst, r -> (r / dh) * m * dh + r % dh, offsets(m, c -> c * dh));
    }

    /**
     * File [m, 3 (n h)] (GPT-2's Conv1D c_attn, (in, out)): columns [k d, (k+1) d) are Q, K or V, split into dst [n, m, h];
     * m = 1 reads the fused bias into [n, h].
     */
    static Target fusedColumns(Tensor dst, int k, int d, int dh) {
        long perHead = dst.numel() / (d / dh); // m * h
        return new Target(dst, r -> r * dh, offsets(3 * d, c -> c / d != k ? -1 : ((c % d) / dh) * perHead + (c % d) % dh));
    }

    /** GPT-NeoX's fused query_key_value weight [(n 3 h), m]: rows of part x (0 = Q, 1 = K, 2 = V) into dst [n, m, h]. */
    static Target interleavedRows(Tensor dst, int x, int dh, int m) {
        return new Target(dst, r -> (r / dh) % 3 != x ? -1 : (r / (3L * dh)) * m * dh + r % dh, offsets(m, c -> c * dh));
    }

    /** GPT-NeoX's fused bias [(n 3 h)] (one row): part x into dst [n, h]. */
    static Target interleavedBias(Tensor dst, int x, int dh, int len) {
        return new Target(dst, r -> 0, offsets(len, c -> (c / dh) % 3 != x ? -1 : (c / (3L * dh)) * dh + c % dh));
    }

    private static long[] offsets(int n, LongUnaryOperator f) {
        long[] o = new long[n];
        for (int c = 0; c < n; c++) o[c] = f.applyAsLong(c);
        return o;
    }
}
