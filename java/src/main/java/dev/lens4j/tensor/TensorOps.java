package dev.lens4j.tensor;

import dev.lens4j.nativ.CpuKernels;

import java.util.Arrays;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Tensor operations for analysis code, in native code (native/cpu/tensor_ops.cpp, lens4j_ops.h), as the methods of
 * {@link Tensor} (t.slice(...), t.add(u), t.sum(-1), ...). Shapes are checked here, in Java, before any native call;
 * bad dimensions, shapes or indices throw IllegalArgumentException / IndexOutOfBoundsException naming them.
 * <p>lens4j tensors are always contiguous, so that every kernel can take a raw pointer: slice, select, narrow,
 * indexSelect, transpose and permute return new tensors (a strided gather, which also makes views of views
 * cheap to express), and only reshape shares memory. Results are owned by the caller (or the open TensorScope).
 * Dimensions may be negative (counted from the end), as in torch. Results live on the operands' device: CUDA
 * tensors run the l4jc_* twins of these kernels (registered by the CUDA backend), on the device.
 */
public final class TensorOps {
    private static final Map<Device.Kind, DeviceOps> OPS = new ConcurrentHashMap<>(Map.of(Device.Kind.CPU, CpuOps.INSTANCE));

    private TensorOps() {}

    /** The kernels for tensors of one device kind (the CUDA backend registers its own). */
    public static void registerDeviceOps(Device.Kind kind, DeviceOps ops) { OPS.put(kind, ops); }

    private static DeviceOps ops(Tensor t) {
        DeviceOps o = OPS.get(t.device().kind);
        if (o == null) throw new UnsupportedOperationException("no tensor operations registered for " + t.device() + " (create its backend first)");
        return o;
    }

    private static void sameDevice(String what, Tensor a, Tensor b) {
        if (!a.device().equals(b.device()))
            throw new IllegalArgumentException(what + ": " + a.describe() + " and " + b.describe() + " are on different devices");
    }

    // ---------------------------------------------------------------- views (as copies)

    /** t[..., start:end, ...] along dim, Python slicing: negative indices count from the end, out-of-range clamps. */
    public static Tensor slice(Tensor t, int dim, long start, long end) {
        int d = dim(t, dim);
        long n = t.size(d);
        long s = clampIndex(start, n), e = clampIndex(end, n);
        return narrowChecked(t, d, s, Math.max(0, e - s));
    }

    /** torch.narrow: `length` entries from `start` along dim (start may be negative); out of range throws. */
    public static Tensor narrow(Tensor t, int dim, long start, long length) {
        int d = dim(t, dim);
        long n = t.size(d), s = start < 0 ? start + n : start;
        if (s < 0 || length < 0 || s + length > n)
            throw new IndexOutOfBoundsException("narrow(" + dim + ", " + start + ", " + length + ") is outside dimension " + d + " of size " + n + " of " + t.describe());
        return narrowChecked(t, d, s, length);
    }

    /** t[..., index, ...]: the dimension is removed (negative index counts from the end). */
    public static Tensor select(Tensor t, int dim, long index) {
        int d = dim(t, dim);
        long n = t.size(d), i = index < 0 ? index + n : index;
        if (i < 0 || i >= n) throw new IndexOutOfBoundsException("index " + index + " is outside dimension " + d + " of size " + n + " of " + t.describe());
        requireF32(t, "select");
        long[] strides = strides(t.shape());
        return gather(t, removeDim(t.shape(), d), removeDim(strides, d), i * strides[d], "select");
    }

    /** torch.index_select: the entries `indices` (in that order, repeats allowed) along dim. */
    public static Tensor indexSelect(Tensor t, int dim, int... indices) {
        requireF32(t, "index_select");
        int d = dim(t, dim);
        long n = t.size(d);
        for (int i : indices) if (i < 0 || i >= n) throw new IndexOutOfBoundsException("index " + i + " is outside dimension " + d + " of size " + n + " of " + t.describe());
        long[] shape = t.shape();
        shape[d] = indices.length;
        Tensor out = Tensor.empty(t.device(), DType.F32, shape);
        check(ops(t).indexSelect(outer(t, d), n, inner(t, d), t, indices, out), "index_select", out);
        return out;
    }

    /** Swaps two dimensions (a new contiguous tensor). */
    public static Tensor transpose(Tensor t, int dim0, int dim1) {
        int a = dim(t, dim0), b = dim(t, dim1);
        int[] order = new int[t.rank()];
        for (int i = 0; i < order.length; i++) order[i] = i;
        order[a] = b;
        order[b] = a;
        return permute(t, order);
    }

    /** torch.permute: output dimension i is input dimension dims[i]. */
    public static Tensor permute(Tensor t, int... dims) {
        requireF32(t, "permute");
        int r = t.rank();
        if (dims.length != r) throw new IllegalArgumentException("permute of " + t.describe() + " needs " + r + " dimensions, got " + Arrays.toString(dims));
        boolean[] seen = new boolean[r];
        long[] strides = strides(t.shape()), shape = new long[r], st = new long[r];
        for (int i = 0; i < r; i++) {
            int d = dim(t, dims[i]);
            if (seen[d]) throw new IllegalArgumentException("permute: dimension " + d + " repeated in " + Arrays.toString(dims));
            seen[d] = true;
            shape[i] = t.size(d);
            st[i] = strides[d];
        }
        return gather(t, shape, st, 0, "permute");
    }

    private static Tensor narrowChecked(Tensor t, int d, long start, long length) {
        requireF32(t, "slice");
        long[] shape = t.shape(), strides = strides(shape);
        shape[d] = length;
        return gather(t, shape, strides, start * strides[d], "slice");
    }

    private static Tensor gather(Tensor t, long[] shape, long[] strides, long offset, String what) {
        if (shape.length > 16) throw new IllegalArgumentException(what + ": at most 16 dimensions, got " + shape.length);
        Tensor out = Tensor.empty(t.device(), DType.F32, shape);
        check(ops(t).stridedCopy(shape, strides, offset, t, out), what, out);
        return out;
    }

    // ---------------------------------------------------------------- matmul

    /**
     * torch.matmul: 1-D operands are promoted (and the added dimension removed), leading dimensions broadcast, then a
     * matrix product per batch entry through OpenBLAS.
     */
    public static Tensor matmul(Tensor a, Tensor b) {
        requireF32(a, "matmul");
        requireF32(b, "matmul");
        sameDevice("matmul", a, b);
        if (a.rank() == 0 || b.rank() == 0) throw new IllegalArgumentException("matmul of a 0-d tensor (" + a.describe() + ", " + b.describe() + ")");
        long[] as = a.rank() == 1 ? new long[] {1, a.size(0)} : a.shape();
        long[] bs = b.rank() == 1 ? new long[] {b.size(0), 1} : b.shape();
        long M = as[as.length - 2], K = as[as.length - 1], K2 = bs[bs.length - 2], N = bs[bs.length - 1];
        if (K != K2) throw new IllegalArgumentException("matmul: " + a.describe() + " @ " + b.describe() + ": inner dimensions " + K + " and " + K2 + " differ");
        long[] ab = Arrays.copyOf(as, as.length - 2), bb = Arrays.copyOf(bs, bs.length - 2);
        long[] batch = broadcastShape(ab, bb, "matmul " + a.describe() + " @ " + b.describe());
        long nb = Tensor.numel(batch);
        long[] aSt = broadcastStrides(ab, batch), bSt = broadcastStrides(bb, batch);
        long[] outShape = Arrays.copyOf(batch, batch.length + 2);
        outShape[batch.length] = M;
        outShape[batch.length + 1] = N;
        Tensor out = Tensor.zeros(a.device(), DType.F32, outShape);
        try {
            DeviceOps ops = ops(a);
            for (long i = 0; i < nb; i++) {
                long oa = 0, ob = 0, rest = i;
                for (int d = batch.length - 1; d >= 0; d--) {
                    long idx = rest % batch[d];
                    rest /= batch[d];
                    oa += idx * aSt[d];
                    ob += idx * bSt[d];
                }
                check(ops.matmul(M, N, K, a, oa * M * K, b, ob * K * N, out, i * M * N), "matmul", null);
            }
        } catch (RuntimeException e) {
            out.close();
            throw e;
        }
        if (a.rank() == 1 || b.rank() == 1) {
            long[] s = a.rank() == 1 && b.rank() == 1 ? new long[0]
                    : a.rank() == 1 ? removeDim(outShape, outShape.length - 2) : removeDim(outShape, outShape.length - 1);
            try (out; Tensor view = out.reshape(s)) { return view.copy(); }
        }
        return out;
    }

    // ---------------------------------------------------------------- element-wise

    public enum Binary { ADD, SUB, MUL, DIV, MAXIMUM, MINIMUM }

    /** a op b, broadcasting as torch does (dimensions aligned from the end; size 1 stretches). */
    public static Tensor binary(Binary op, Tensor a, Tensor b) {
        requireF32(a, op.name().toLowerCase());
        requireF32(b, op.name().toLowerCase());
        sameDevice(op.name().toLowerCase(), a, b);
        long[] shape = broadcastShape(a.shape(), b.shape(), op.name().toLowerCase() + " of " + a.describe() + " and " + b.describe());
        if (shape.length > 16) throw new IllegalArgumentException("at most 16 dimensions");
        Tensor out = Tensor.empty(a.device(), DType.F32, shape);
        check(ops(a).binary(op.ordinal(), shape, a, broadcastStrides(a.shape(), shape), b, broadcastStrides(b.shape(), shape), out),
                op.name().toLowerCase(), out);
        return out;
    }

    public static Tensor binary(Binary op, Tensor a, float s) {
        try (Tensor h = Tensor.of(new float[] {s}); Tensor b = a.device().isCpu() ? h.reshape(1) : h.to(a.device())) { return binary(op, a, b); }
    }

    public enum Unary { NEG, EXP, LOG, ABS, SQRT, SQUARE }

    public static Tensor unary(Unary op, Tensor t) {
        requireF32(t, op.name().toLowerCase());
        Tensor out = Tensor.empty(t.device(), DType.F32, t.shape());
        check(ops(t).unary(op.ordinal(), t, out), op.name().toLowerCase(), out);
        return out;
    }

    // ---------------------------------------------------------------- reductions

    public enum Reduction { SUM, MEAN, MAX, MIN, NORM }

    /** A reduction along dim (the dimension removed unless keepDim); sums accumulate in double. */
    public static Tensor reduce(Reduction op, Tensor t, int dim, boolean keepDim) {
        requireF32(t, op.name().toLowerCase());
        int d = dim(t, dim);
        if ((op == Reduction.MAX || op == Reduction.MIN) && t.size(d) == 0 && outerInner(t, d) > 0)
            throw new IllegalArgumentException(op.name().toLowerCase() + " over an empty dimension " + d + " of " + t.describe());
        Tensor out = Tensor.empty(t.device(), DType.F32, reducedShape(t, d, keepDim));
        check(ops(t).reduce(op.ordinal(), outer(t, d), t.size(d), inner(t, d), t, out), op.name().toLowerCase(), out);
        return out;
    }

    /** The sum of every element, as a 0-d tensor. */
    public static Tensor sumAll(Tensor t) {
        try (Tensor flat = t.reshape(t.numel())) { return reduce(Reduction.SUM, flat, 0, false); }
    }

    /** Index of the largest (or smallest) entry along dim, the first on ties (NaN counts as the largest); I32. */
    public static Tensor argReduce(boolean max, Tensor t, int dim, boolean keepDim) {
        requireF32(t, "argmax");
        int d = dim(t, dim);
        if (t.size(d) == 0) throw new IllegalArgumentException((max ? "argmax" : "argmin") + " over an empty dimension " + d + " of " + t.describe());
        if (t.size(d) > Integer.MAX_VALUE) throw new IllegalArgumentException("dimension " + d + " is too long for int32 indices");
        Tensor out = Tensor.empty(t.device(), DType.I32, reducedShape(t, d, keepDim));
        check(ops(t).argReduce(max, outer(t, d), t.size(d), inner(t, d), t, out), "argmax", out);
        return out;
    }

    /** torch.topk's values and (I32) indices: the k largest along dim, descending, ties to the lower index. */
    public record TopK(Tensor values, Tensor indices) implements AutoCloseable {
        @Override public void close() { values.close(); indices.close(); }
    }

    public static TopK topk(Tensor t, int k, int dim) {
        requireF32(t, "topk");
        int d = dim(t, dim);
        if (k < 0 || k > t.size(d)) throw new IllegalArgumentException("topk: k = " + k + " for dimension " + d + " of size " + t.size(d) + " of " + t.describe());
        long[] shape = t.shape();
        shape[d] = k;
        Tensor v = Tensor.empty(t.device(), DType.F32, shape), i = Tensor.empty(t.device(), DType.I32, shape);
        int rc = ops(t).topk(outer(t, d), t.size(d), inner(t, d), k, t, v, i);
        if (rc != CpuKernels.L4J_OK) { v.close(); i.close(); check(rc, "topk", null); }
        return new TopK(v, i);
    }

    /** softmax (or log-softmax) along dim. */
    public static Tensor softmax(Tensor t, int dim, boolean log) {
        requireF32(t, "softmax");
        int d = dim(t, dim);
        Tensor out = Tensor.empty(t.device(), DType.F32, t.shape());
        check(ops(t).softmaxDim(log, outer(t, d), t.size(d), inner(t, d), t, out), "softmax", out);
        return out;
    }

    /** torch.nn.functional.cosine_similarity(a, b, dim, eps=1e-8) for tensors of one shape. */
    public static Tensor cosineSimilarity(Tensor a, Tensor b, int dim) {
        requireF32(a, "cosine_similarity");
        requireF32(b, "cosine_similarity");
        sameDevice("cosine_similarity", a, b);
        if (!Arrays.equals(a.shape(), b.shape())) throw new IllegalArgumentException("cosine_similarity of " + a.describe() + " and " + b.describe() + ": shapes differ");
        int d = dim(a, dim);
        Tensor out = Tensor.empty(a.device(), DType.F32, reducedShape(a, d, false));
        check(ops(a).cosineDim(outer(a, d), a.size(d), inner(a, d), a, b, 1e-8f, out), "cosine_similarity", out);
        return out;
    }

    // ---------------------------------------------------------------- shapes

    static int dim(Tensor t, int dim) {
        int r = t.rank();
        int d = dim < 0 ? dim + r : dim;
        if (d < 0 || d >= r) throw new IllegalArgumentException("dimension " + dim + " is out of range for " + t.describe() + " (rank " + r + ")");
        return d;
    }

    private static long clampIndex(long i, long n) {
        long j = i < 0 ? i + n : i;
        return Math.max(0, Math.min(n, j));
    }

    static long[] strides(long[] shape) {
        long[] s = new long[shape.length];
        long acc = 1;
        for (int i = shape.length - 1; i >= 0; i--) { s[i] = acc; acc *= shape[i]; }
        return s;
    }

    private static long outer(Tensor t, int d) {
        long o = 1;
        for (int i = 0; i < d; i++) o *= t.size(i);
        return o;
    }

    private static long inner(Tensor t, int d) {
        long o = 1;
        for (int i = d + 1; i < t.rank(); i++) o *= t.size(i);
        return o;
    }

    private static long outerInner(Tensor t, int d) { return outer(t, d) * inner(t, d); }

    private static long[] removeDim(long[] shape, int d) {
        long[] s = new long[shape.length - 1];
        for (int i = 0, j = 0; i < shape.length; i++) if (i != d) s[j++] = shape[i];
        return s;
    }

    private static long[] reducedShape(Tensor t, int d, boolean keepDim) {
        long[] s = t.shape();
        if (keepDim) { s[d] = 1; return s; }
        return removeDim(s, d);
    }

    static long[] broadcastShape(long[] a, long[] b, String what) {
        int r = Math.max(a.length, b.length);
        long[] out = new long[r];
        for (int i = 0; i < r; i++) {
            long x = i < r - a.length ? 1 : a[i - (r - a.length)], y = i < r - b.length ? 1 : b[i - (r - b.length)];
            if (x != y && x != 1 && y != 1)
                throw new IllegalArgumentException(what + ": shapes " + Arrays.toString(a) + " and " + Arrays.toString(b) + " do not broadcast (dimension " + i + ")");
            out[i] = x == 1 ? y : x;
        }
        return out;
    }

    /** Strides of a contiguous `shape` read as the broadcast `target` (0 where it stretches). */
    static long[] broadcastStrides(long[] shape, long[] target) {
        long[] own = strides(shape), out = new long[target.length];
        int off = target.length - shape.length;
        for (int i = 0; i < shape.length; i++) out[i + off] = shape[i] == 1 && target[i + off] != 1 ? 0 : own[i];
        return out;
    }

    private static void requireF32(Tensor t, String what) {
        if (t == null) throw new IllegalArgumentException(what + ": tensor is null");
        t.checkOpen();
        if (t.dtype() != DType.F32) throw new IllegalArgumentException(what + ": " + t.describe() + " is " + t.dtype() + ", needs F32");
    }

    private static void check(int rc, String what, Tensor out) {
        if (rc == CpuKernels.L4J_OK) return;
        if (out != null) out.close();
        throw new IllegalStateException(what + ": native error " + rc);
    }
}
