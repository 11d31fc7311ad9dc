package dev.lens4j.backend;

import dev.lens4j.nativ.CpuKernels;
import dev.lens4j.tensor.Tensor;

import static dev.lens4j.backend.Bf16Gemm.f;

/**
 * The two float32 GEMM paths of the CPU backend: lens4j's AVX-512F kernel (native/cpu/gemm_avx512.cpp), taken by
 * {@link CpuBackend#gemm} where the CPU has AVX-512F and the product is not tiny, and OpenBLAS sgemm (everything else,
 * or every product with LENS4J_GEMM=openblas in the environment). Tests and benchmarks call a chosen path here; shapes
 * and spans are checked by the caller ({@link CpuBackend#gemm} in the library).
 */
public final class F32Gemm {
    private F32Gemm() {}

    /** Which native path a float32 GEMM takes. */
    public enum Path { AUTO, AVX512, OPENBLAS }

    /** Whether this CPU runs the AVX-512F kernel (cpuid, read once by the native library). */
    public static boolean hasAvx512() { return CpuKernels.l4j_avx512f_native() == 1; }

    /**
     * The float32 GEMM kernels this process runs, for results.json (the bits depend on them): lens4j's AVX-512F kernel
     * (products of 8+ rows, 32+ columns, depth 8+; OpenBLAS below) or OpenBLAS only, with OpenBLAS's core type.
     */
    public static String describe() {
        String blas = "OpenBLAS " + CpuBackend.get().blasCoreName();
        boolean own = hasAvx512() && !"openblas".equals(System.getenv("LENS4J_GEMM"));
        return own ? "lens4j AVX-512F (small products: " + blas + ")" : blas;
    }

    /** C = alpha * op(A) @ op(B) + beta * C (+ bias) through the chosen path; AVX512 fails where the CPU lacks it. */
    public static void gemm(Path path, boolean transA, boolean transB, long M, long N, long K, float alpha, Tensor A,
                            long offA, long lda, Tensor B, long offB, long ldb, float beta, Tensor C, long offC, long ldc,
                            Tensor bias, long offBias) {
        int tA = transA ? 1 : 0, tB = transB ? 1 : 0;
        var a = f(A, offA);
        var b = f(B, offB);
        var c = f(C, offC);
        var bi = bias == null ? null : f(bias, offBias);
        int status = switch (path) {
            case AUTO -> CpuKernels.l4j_gemm(tA, tB, M, N, K, alpha, a, lda, b, ldb, beta, c, ldc, bi);
            case AVX512 -> CpuKernels.l4j_gemm_avx512(tA, tB, M, N, K, alpha, a, lda, b, ldb, beta, c, ldc, bi);
            case OPENBLAS -> CpuKernels.l4j_gemm_openblas(tA, tB, M, N, K, alpha, a, lda, b, ldb, beta, c, ldc, bi);
        };
        CpuBackend.check(status, "gemm " + path);
    }
}
