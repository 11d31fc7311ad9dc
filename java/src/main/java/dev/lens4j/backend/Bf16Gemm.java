package dev.lens4j.backend;

import dev.lens4j.nativ.CpuKernels;
import dev.lens4j.tensor.DType;
import dev.lens4j.tensor.Tensor;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.ShortPointer;

/**
 * The CPU kernels over bf16 weights (native/cpu/gemm_bf16.cpp): in the model a weight is always the right operand B
 * of a GEMM (the forward's x W and the backward's dOut W^T); activations, outputs and biases stay F32. A bf16 left
 * operand (weight-based analyses such as W_out @ W_U) is widened to f32 by {@link CpuBackend#gemm} first.
 * Shapes and spans are checked by {@link CpuBackend#gemm} before it dispatches here.
 */
public final class Bf16Gemm {
    private Bf16Gemm() {}

    /** Which native path a bf16 GEMM takes. */
    public enum Path {
        /** AVX512-BF16 where the CPU has it (activations rounded to bf16), else {@link #WIDEN}. */
        AUTO(0),
        /** bf16 weight panels widened to f32 and multiplied by sgemm (activations exact). */
        WIDEN(1);
        final int mode;
        Path(int mode) { this.mode = mode; }
    }

    /** Whether {@link Path#AUTO} runs the AVX512-BF16 kernel on this CPU. */
    public static boolean hasNativeBf16() { return CpuKernels.l4j_bf16_native() == 1; }

    static void gemm(boolean transA, boolean transB, long M, long N, long K, float alpha, Tensor A, long offA, long lda,
                     Tensor B, long offB, long ldb, float beta, Tensor C, long offC, long ldc, Tensor bias, long offBias) {
        gemm(Path.AUTO, transA, transB, M, N, K, alpha, A, offA, lda, B, offB, ldb, beta, C, offC, ldc, bias, offBias);
    }

    /** {@link CpuBackend#gemm} with a bf16 B, through a chosen path (tests compare the two). */
    public static void gemm(Path path, boolean transA, boolean transB, long M, long N, long K, float alpha, Tensor A, long offA,
                            long lda, Tensor B, long offB, long ldb, float beta, Tensor C, long offC, long ldc, Tensor bias, long offBias) {
        if (B.dtype() != DType.BF16) throw new IllegalArgumentException("gemm: B " + B.describe() + " is not BF16");
        BackendChecks.bf16Right(transA, A, B);
        check(CpuKernels.l4j_gemm_bf16(transB ? 1 : 0, M, N, K, alpha, f(A, offA), lda, s(B, offB), ldb, beta, f(C, offC), ldc,
                bias == null ? null : f(bias, offBias), path.mode), "gemm_bf16");
    }

    /** A new BF16 tensor holding t (F32) rounded to nearest even; t is left as it is. */
    public static Tensor toBf16(Tensor t) {
        if (t.dtype() != DType.F32) throw new IllegalArgumentException("toBf16: " + t.describe() + " is not F32");
        if (!t.device().isCpu()) throw new IllegalArgumentException("toBf16: " + t.describe() + " is not on the CPU");
        Tensor out = Tensor.empty(t.device(), DType.BF16, t.shape());
        try {
            check(CpuKernels.l4j_f32_to_bf16(t.numel(), t.floatPointer(), out.bf16Pointer()), "f32_to_bf16");
        } catch (RuntimeException e) {
            out.close();
            throw e;
        }
        return out.named(t.name());
    }

    /** A new F32 tensor [max(n, 1)] holding elements [off, off + n) of a BF16 tensor, widened. */
    static Tensor widen(Tensor t, long off, long n) {
        Tensor out = Tensor.empty(t.device(), DType.F32, Math.max(n, 1));
        if (n > 0) check(CpuKernels.l4j_bf16_to_f32(n, s(t, off), out.floatPointer()), "bf16_to_f32");
        return out;
    }

    /** out [outer, idx.length, inner] = src [outer, n, inner] (BF16) at indices idx along the middle, widened to F32. */
    static void gatherWidened(Tensor src, long outer, long n, long inner, int[] idx, Tensor out) {
        ShortPointer s = src.bf16Pointer();
        FloatPointer o = out.floatPointer();
        for (long a = 0; a < outer; a++)
            for (int j = 0; j < idx.length; j++)
                check(CpuKernels.l4j_bf16_to_f32(inner, new ShortPointer(s).position((a * n + idx[j]) * inner),
                        new FloatPointer(o).position((a * idx.length + j) * inner)), "gather");
    }

    static FloatPointer f(Tensor t, long offset) {
        if (t.dtype() != DType.F32) throw new IllegalArgumentException("gemm: " + t.describe() + " must be F32");
        FloatPointer p = t.floatPointer();
        return offset == 0 ? p : new FloatPointer(p).position(offset);
    }

    private static ShortPointer s(Tensor t, long offset) {
        ShortPointer p = t.bf16Pointer();
        return offset == 0 ? p : new ShortPointer(p).position(offset);
    }

    private static void check(int status, String op) { CpuBackend.check(status, op); }
}
