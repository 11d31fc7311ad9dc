package dev.lens4j.load;

import dev.lens4j.tensor.DType;
import dev.lens4j.tensor.Tensor;

import java.nio.FloatBuffer;

/**
 * Long-indexed reads and writes of a host F32 tensor of any size. An NIO view indexes with int, so it covers at most
 * 2 GiB: Gemma's 256000 x 2304 embedding (2.4 GB) needs several. Views of 1 GiB each, made once per tensor.
 */
final class NativeFloats {
    private static final int SHIFT = 28;
    private static final long MASK = (1L << SHIFT) - 1;
    private final FloatBuffer[] views;
    private final long size;

    private NativeFloats(FloatBuffer[] views, long size) {
        this.views = views;
        this.size = size;
    }

    static NativeFloats of(Tensor t) {
        if (t.dtype() != DType.F32) throw new IllegalArgumentException(t.describe() + " is not F32");
        long n = t.numel();
        FloatBuffer[] views = new FloatBuffer[(int) ((n + MASK) >>> SHIFT)];
        for (int v = 0; v < views.length; v++) {
            long start = (long) v << SHIFT;
            views[v] = HostMemory.bytes(t, start * 4, Math.min(1L << SHIFT, n - start) * 4).asFloatBuffer();
        }
        return new NativeFloats(views, n);
    }

    long size() { return size; }

    float get(long i) { return views[(int) (i >>> SHIFT)].get((int) (i & MASK)); }

    void put(long i, float v) { views[(int) (i >>> SHIFT)].put((int) (i & MASK), v); }
}
