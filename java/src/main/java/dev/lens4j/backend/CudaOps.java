package dev.lens4j.backend;

import dev.lens4j.nativ.CudaKernels;
import dev.lens4j.tensor.DeviceOps;
import dev.lens4j.tensor.Tensor;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.IntPointer;
import org.bytedeco.javacpp.LongPointer;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.PointerPointer;

/**
 * {@link DeviceOps} on CUDA: native/cuda/tensor_ops.cu (the OPS group of lens4j_cuda.h) on the backend's stream, and
 * cuBLAS for matmul. Shape and stride arrays travel as kernel parameters (host arrays); index_select's indices are
 * uploaded first (checked in range by TensorOps).
 */
final class CudaOps implements DeviceOps {
    private final Pointer stream;

    CudaOps(Pointer stream) { this.stream = stream; }

    @Override public int stridedCopy(long[] shape, long[] strides, long offset, Tensor src, Tensor out) {
        try (LongPointer sh = new LongPointer(shape); LongPointer st = new LongPointer(strides)) {
            return CudaKernels.l4jc_strided_copy(shape.length, sh, st, offset, CudaBackend.devF32(src), CudaBackend.devF32(out), stream);
        }
    }

    @Override public int indexSelect(long outer, long n, long inner, Tensor src, int[] idx, Tensor out) {
        if (idx.length == 0) return 0;
        try (PointerPointer<Pointer> pp = new PointerPointer<>(1); IntPointer host = new IntPointer(idx)) {
            int s = CudaKernels.l4jc_malloc_uninit(pp, 4L * idx.length);
            if (s != 0) return s;
            Pointer dev = pp.get(0);
            try {
                s = CudaKernels.l4jc_memcpy_async(dev, host, 4L * idx.length, 0, stream); // pageable source: staged before return
                return s != 0 ? s : CudaKernels.l4jc_index_select(outer, n, inner, CudaBackend.devF32(src), idx.length, new IntPointer(dev), CudaBackend.devF32(out), stream);
            } finally {
                CudaKernels.l4jc_free(dev); // cudaFree waits for the kernel
            }
        }
    }

    @Override public int binary(int op, long[] shape, Tensor a, long[] aStrides, Tensor b, long[] bStrides, Tensor out) {
        try (LongPointer sh = new LongPointer(shape); LongPointer as = new LongPointer(aStrides); LongPointer bs = new LongPointer(bStrides)) {
            return CudaKernels.l4jc_binary(op, shape.length, sh, CudaBackend.devF32(a), as, CudaBackend.devF32(b), bs, CudaBackend.devF32(out), stream);
        }
    }

    @Override public int unary(int op, Tensor x, Tensor out) {
        return CudaKernels.l4jc_unary(op, x.numel(), CudaBackend.devF32(x), CudaBackend.devF32(out), stream);
    }

    @Override public int reduce(int op, long outer, long n, long inner, Tensor x, Tensor out) {
        return CudaKernels.l4jc_reduce(op, outer, n, inner, CudaBackend.devF32(x), CudaBackend.devF32(out), stream);
    }

    @Override public int argReduce(boolean max, long outer, long n, long inner, Tensor x, Tensor out) {
        return CudaKernels.l4jc_arg_reduce(max ? 1 : 0, outer, n, inner, CudaBackend.devF32(x), CudaBackend.devI32(out), stream);
    }

    @Override public int topk(long outer, long n, long inner, long k, Tensor x, Tensor values, Tensor indices) {
        return CudaKernels.l4jc_topk(outer, n, inner, k, CudaBackend.devF32(x), CudaBackend.devF32(values), CudaBackend.devI32(indices), stream);
    }

    @Override public int softmaxDim(boolean log, long outer, long n, long inner, Tensor x, Tensor out) {
        return CudaKernels.l4jc_softmax_dim(log ? 1 : 0, outer, n, inner, CudaBackend.devF32(x), CudaBackend.devF32(out), stream);
    }

    @Override public int cosineDim(long outer, long n, long inner, Tensor a, Tensor b, float eps, Tensor out) {
        return CudaKernels.l4jc_cosine_dim(outer, n, inner, CudaBackend.devF32(a), CudaBackend.devF32(b), eps, CudaBackend.devF32(out), stream);
    }

    @Override public int matmul(long M, long N, long K, Tensor a, long offA, Tensor b, long offB, Tensor c, long offC) {
        return CudaKernels.l4jc_gemm(0, 0, M, N, K, 1f, at(a, offA), K, at(b, offB), N, 0f, at(c, offC), N, null, stream);
    }

    private static FloatPointer at(Tensor t, long off) { return new FloatPointer(CudaBackend.devF32(t)).position(off); }
}
