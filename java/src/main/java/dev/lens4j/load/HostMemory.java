package dev.lens4j.load;

import dev.lens4j.tensor.DType;
import dev.lens4j.tensor.Tensor;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.Pointer;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.stream.IntStream;

/** NIO views of host tensors and strided copies, so Java code rearranges weights without JNI calls per element. */
final class HostMemory {
    private HostMemory() {}

    static {
        // safetensors and llama2.c files are little-endian; tensors in memory use the native order
        if (ByteOrder.nativeOrder() != ByteOrder.LITTLE_ENDIAN)
            throw new ExceptionInInitializerError("lens4j loaders need a little-endian host");
    }

    /** Bytes [byteOffset, byteOffset + len) of a CPU tensor, native order. */
    static ByteBuffer bytes(Tensor t, long byteOffset, long len) {
        if (!t.device().isCpu()) throw new IllegalArgumentException(t.describe() + " is not in host memory");
        if (len > Integer.MAX_VALUE) throw new IllegalArgumentException("view of " + len + " bytes is too large");
        if (byteOffset < 0 || byteOffset + len > t.numel() * t.dtype().bytes)
            throw new IndexOutOfBoundsException("bytes [" + byteOffset + ", " + (byteOffset + len) + ") of " + t.describe());
        long addr = t.pointer().address() + byteOffset;
        Pointer p = new Pointer() { { address = addr; } };
        if (len == 0) return ByteBuffer.allocateDirect(0).order(ByteOrder.nativeOrder());
        return new BytePointer(p).capacity(len).asByteBuffer().order(ByteOrder.nativeOrder());
    }

    /** Element i of a CPU F32 tensor. */
    static float floatAt(Tensor t, long i) {
        if (!t.device().isCpu()) {
            try (Tensor h = t.to(dev.lens4j.tensor.Device.CPU)) { return floatAt(h, i); }
        }
        return bytes(t, i * 4, 4).getFloat(0);
    }

    /** The whole F32 tensor as a FloatBuffer. */
    static FloatBuffer floats(Tensor t) {
        if (t.dtype() != DType.F32) throw new IllegalArgumentException(t.describe() + " is not F32");
        // NIO buffers index with int: one view covers at most 2 GiB, enough for any single weight of a ~8B model but its embedding
        if (t.numel() * 4 > Integer.MAX_VALUE)
            throw new IllegalArgumentException(t.describe() + " is over 2 GiB; lens4j rearranges weights up to 2 GiB each");
        return bytes(t, 0, t.numel() * 4).asFloatBuffer();
    }

    /**
     * dst[dstOff + i*ds0 + j*ds1 + k*ds2] = src[srcOff + i*ss0 + j*ss1 + k*ss2] over dims [d0, d1, d2].
     * Every layout change in the loaders and writers is one such copy.
     */
    static void strided(FloatBuffer src, long srcOff, long[] ss, FloatBuffer dst, long dstOff, long[] ds, int[] dims) {
        int d0 = dims[0], d1 = dims[1], d2 = dims[2];
        IntStream rows = IntStream.range(0, d0 * d1);
        if ((long) d0 * d1 * d2 > (1 << 20)) rows = rows.parallel();
        rows.forEach(r -> {
            int i = r / d1, j = r % d1;
            long s = srcOff + i * ss[0] + j * ss[1];
            long d = dstOff + i * ds[0] + j * ds[1];
            for (int k = 0; k < d2; k++) dst.put((int) (d + k * ds[2]), src.get((int) (s + k * ss[2])));
        });
    }

    /** A new F32 tensor [cols, rows] holding src [rows, cols] transposed. */
    static Tensor transpose(Tensor src) { return transpose(src, src.size(1), src.size(0)); }

    /**
     * src [rows, cols] transposed into a new owning tensor of the given shape (rows * cols elements), e.g. [n, h, m]. Any
     * size (a tied W_U = W_E^T of 2.4 GB included): long-indexed, parallel over output rows.
     */
    static Tensor transpose(Tensor src, long... outShape) {
        long r = src.size(0), c = src.size(1);
        Tensor dst = Tensor.zeros(outShape);
        if (dst.numel() != r * c) { dst.close(); throw new IllegalArgumentException("cannot transpose " + src.describe() + " into " + java.util.Arrays.toString(outShape)); }
        NativeFloats s = NativeFloats.of(src), d = NativeFloats.of(dst);
        int block = 16; // columns per task: reads of 64 contiguous bytes, writes to 16 sequential streams
        IntStream blocks = IntStream.range(0, (int) ((c + block - 1) / block));
        if (r * c > (1 << 20)) blocks = blocks.parallel();
        blocks.forEach(b -> {
            long j0 = (long) b * block, j1 = Math.min(c, j0 + block);
            for (long i = 0; i < r; i++)
                for (long j = j0; j < j1; j++) d.put(j * r + i, s.get(i * c + j));
        });
        return dst;
    }
}
