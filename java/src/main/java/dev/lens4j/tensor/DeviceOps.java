package dev.lens4j.tensor;

/**
 * The native kernels behind {@link TensorOps} for one device (lens4j_ops.h on the CPU, its l4jc_* twins on CUDA),
 * over contiguous tensors of that device; shapes, strides and indices are host arrays, checked by TensorOps before
 * the call. Each returns the kernel's status (0 = OK).
 */
public interface DeviceOps {
    int stridedCopy(long[] shape, long[] strides, long offset, Tensor src, Tensor out);
    int indexSelect(long outer, long n, long inner, Tensor src, int[] idx, Tensor out);
    int binary(int op, long[] shape, Tensor a, long[] aStrides, Tensor b, long[] bStrides, Tensor out);
    int unary(int op, Tensor x, Tensor out);
    int reduce(int op, long outer, long n, long inner, Tensor x, Tensor out);
    int argReduce(boolean max, long outer, long n, long inner, Tensor x, Tensor out);
    int topk(long outer, long n, long inner, long k, Tensor x, Tensor values, Tensor indices);
    int softmaxDim(boolean log, long outer, long n, long inner, Tensor x, Tensor out);
    int cosineDim(long outer, long n, long inner, Tensor a, Tensor b, float eps, Tensor out);
    /** c[offC..] (M x N) = a[offA..] (M x K) @ b[offB..] (K x N), row-major, offsets in elements. */
    int matmul(long M, long N, long K, Tensor a, long offA, Tensor b, long offB, Tensor c, long offC);
}
