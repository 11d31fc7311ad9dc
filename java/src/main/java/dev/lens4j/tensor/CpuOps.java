package dev.lens4j.tensor;

import dev.lens4j.nativ.CpuKernels;
import dev.lens4j.nativ.OpsKernels;
import org.bytedeco.javacpp.FloatPointer;

/** {@link DeviceOps} on the CPU: native/cpu/tensor_ops.cpp and OpenBLAS. */
final class CpuOps implements DeviceOps {
    static final CpuOps INSTANCE = new CpuOps();

    private CpuOps() {}

    @Override public int stridedCopy(long[] shape, long[] strides, long offset, Tensor src, Tensor out) {
        return OpsKernels.l4j_strided_copy(shape.length, shape, strides, offset, src.floatPointer(), out.floatPointer());
    }
    @Override public int indexSelect(long outer, long n, long inner, Tensor src, int[] idx, Tensor out) {
        return OpsKernels.l4j_index_select(outer, n, inner, src.floatPointer(), idx.length, idx, out.floatPointer());
    }
    @Override public int binary(int op, long[] shape, Tensor a, long[] aStrides, Tensor b, long[] bStrides, Tensor out) {
        return OpsKernels.l4j_binary(op, shape.length, shape, a.floatPointer(), aStrides, b.floatPointer(), bStrides, out.floatPointer());
    }
    @Override public int unary(int op, Tensor x, Tensor out) {
        return OpsKernels.l4j_unary(op, x.numel(), x.floatPointer(), out.floatPointer());
    }
    @Override public int reduce(int op, long outer, long n, long inner, Tensor x, Tensor out) {
        return OpsKernels.l4j_reduce(op, outer, n, inner, x.floatPointer(), out.floatPointer());
    }
    @Override public int argReduce(boolean max, long outer, long n, long inner, Tensor x, Tensor out) {
        return OpsKernels.l4j_arg_reduce(max ? 1 : 0, outer, n, inner, x.floatPointer(), out.intPointer());
    }
    @Override public int topk(long outer, long n, long inner, long k, Tensor x, Tensor values, Tensor indices) {
        return OpsKernels.l4j_topk(outer, n, inner, k, x.floatPointer(), values.floatPointer(), indices.intPointer());
    }
    @Override public int softmaxDim(boolean log, long outer, long n, long inner, Tensor x, Tensor out) {
        return OpsKernels.l4j_softmax_dim(log ? 1 : 0, outer, n, inner, x.floatPointer(), out.floatPointer());
    }
    @Override public int cosineDim(long outer, long n, long inner, Tensor a, Tensor b, float eps, Tensor out) {
        return OpsKernels.l4j_cosine_dim(outer, n, inner, a.floatPointer(), b.floatPointer(), eps, out.floatPointer());
    }
    @Override public int matmul(long M, long N, long K, Tensor a, long offA, Tensor b, long offB, Tensor c, long offC) {
        return CpuKernels.l4j_gemm(0, 0, M, N, K, 1f, at(a, offA), K, at(b, offB), N, 0f, at(c, offC), N, null);
    }

    private static FloatPointer at(Tensor t, long off) { return new FloatPointer(t.floatPointer()).position(off); }
}
