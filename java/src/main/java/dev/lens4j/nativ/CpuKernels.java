package dev.lens4j.nativ;

import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.IntPointer;
import org.bytedeco.javacpp.Loader;
import org.bytedeco.javacpp.LongPointer;
import org.bytedeco.javacpp.ShortPointer;
import org.bytedeco.javacpp.annotation.Cast;
import org.bytedeco.javacpp.annotation.Platform;
import org.bytedeco.javacpp.annotation.Properties;
import org.bytedeco.openblas.presets.openblas;

/**
 * JavaCPP binding of the CPU half of native/include/lens4j.h (library lens4j_cpu, built by CMake).
 * Inheriting the openblas preset makes Loader load bytedeco's libopenblas.so.0 first, so lens4j_cpu binds
 * to that copy and never to a system OpenBLAS. Callers validate arguments first (see CpuBackend); these
 * are the raw calls and return L4J_* status codes.
 */
@Properties(inherit = openblas.class, value = @Platform(include = "lens4j.h", link = "lens4j_cpu"))
public final class CpuKernels {
    static { Loader.load(); }

    private CpuKernels() {}

    /** Forces the native libraries to load (and fails loudly here if they cannot). */
    public static void load() {}

    public static final int L4J_OK = 0, L4J_ERR_ARG = 1, L4J_ERR_RANGE = 2, L4J_ERR_NOMEM = 3,
            L4J_ERR_DEVICE = 4, L4J_ERR_UNSUPPORTED = 5;
    public static final int L4J_ACT_RELU = 0, L4J_ACT_GELU = 1, L4J_ACT_GELU_NEW = 2,
            L4J_ACT_GELU_PYTORCH_TANH = 3, L4J_ACT_SILU = 4;

    public static native int l4j_version();
    public static native int l4j_set_num_threads(int n);
    public static native int l4j_get_num_threads();
    public static native @org.bytedeco.javacpp.annotation.Cast("const char*") org.bytedeco.javacpp.BytePointer l4j_blas_corename();

    // host memory (native/cpu/host_memory.cpp): huge-page blocks cached between passes
    public static native org.bytedeco.javacpp.Pointer l4j_host_alloc(long bytes, int zero);
    public static native void l4j_host_free(org.bytedeco.javacpp.Pointer p, long bytes);
    public static native long l4j_host_cache_bytes();
    public static native void l4j_host_cache_release();
    public static native long l4j_host_cache_limit(long bytes);

    public static native int l4j_gemm(int transA, int transB, long M, long N, long K, float alpha,
                                      FloatPointer A, long lda, FloatPointer B, long ldb, float beta,
                                      FloatPointer C, long ldc, FloatPointer bias);
    // the two paths l4j_gemm picks between (native/cpu/gemm_avx512.cpp, gemm.cpp)
    public static native int l4j_gemm_avx512(int transA, int transB, long M, long N, long K, float alpha,
                                             FloatPointer A, long lda, FloatPointer B, long ldb, float beta,
                                             FloatPointer C, long ldc, FloatPointer bias);
    public static native int l4j_gemm_openblas(int transA, int transB, long M, long N, long K, float alpha,
                                               FloatPointer A, long lda, FloatPointer B, long ldb, float beta,
                                               FloatPointer C, long ldc, FloatPointer bias);
    public static native int l4j_avx512f_native();
    // B's columns in groups, read in place (TL's [heads, d_model, d_head] weights); path 0 auto, 1 AVX-512F, 2 OpenBLAS
    public static native int l4j_gemm_grouped(long M, long N, long K, float alpha, FloatPointer A, long lda, FloatPointer B,
                                              long ldb, long group, long groupStride, float beta, FloatPointer C, long ldc,
                                              FloatPointer bias, int path);

    // bf16 weights (native/cpu/gemm_bf16.cpp); mode 0: AVX512-BF16 where available, 1: widening fallback
    public static native int l4j_gemm_bf16(int transB, long M, long N, long K, float alpha, FloatPointer A, long lda,
                                           @Cast("const uint16_t*") ShortPointer B, long ldb, float beta,
                                           FloatPointer C, long ldc, FloatPointer bias, int mode);
    public static native int l4j_gemm_bf16_grouped(long M, long N, long K, float alpha, FloatPointer A, long lda,
                                                   @Cast("const uint16_t*") ShortPointer B, long ldb, long group, long groupStride,
                                                   float beta, FloatPointer C, long ldc, FloatPointer bias, int mode);
    public static native int l4j_bf16_native();
    public static native int l4j_f32_to_bf16(long n, FloatPointer src, @Cast("uint16_t*") ShortPointer dst);
    public static native int l4j_bf16_to_f32(long n, @Cast("const uint16_t*") ShortPointer src, FloatPointer dst);
    public static native int l4j_embed_bf16(long nTokens, IntPointer tokens, @Cast("const uint16_t*") ShortPointer W_E,
                                            long dVocab, long dModel, FloatPointer out);

    public static native int l4j_embed(long nTokens, IntPointer tokens, FloatPointer W_E, long dVocab, long dModel,
                                       FloatPointer out);
    public static native int l4j_pos_embed(long batch, long seq, long offset, FloatPointer W_pos, long nCtx, long dModel,
                                           FloatPointer out);

    public static native int l4j_layernorm(long rows, long d, FloatPointer x, FloatPointer w, FloatPointer b, float eps,
                                           FloatPointer out, FloatPointer scale);
    public static native int l4j_rmsnorm(long rows, long d, FloatPointer x, FloatPointer w, float eps,
                                         FloatPointer out, FloatPointer scale, FloatPointer normalized);

    public static native int l4j_rotary(long batch, long seq, long nHeads, long dHead, long rotaryDim, long offset,
                                        FloatPointer cos, FloatPointer sin, long nCtx, int adjacentPairs,
                                        FloatPointer x, FloatPointer out);

    public static native int l4j_attn_scores(long batch, long seq, long nHeads, long nKvHeads, long dHead,
                                             FloatPointer q, FloatPointer k, float scale, long window, float softcap,
                                             FloatPointer scores);
    public static native int l4j_attn_apply(long batch, long seq, long nHeads, long nKvHeads, long dHead,
                                            FloatPointer pattern, FloatPointer v, FloatPointer z);
    public static native int l4j_attention(long batch, long seq, long nHeads, long nKvHeads, long dHead,
                                           FloatPointer q, FloatPointer k, FloatPointer v, float scale, long window,
                                           float softcap, FloatPointer z, FloatPointer scores, FloatPointer pattern);
    // ragged batches and KV caches: q_len queries against k_len keys, per-row valid keys key_range [batch, 2] (null: all)
    public static native int l4j_attn_scores_masked(long batch, long qLen, long kLen, long nHeads, long nKvHeads, long dHead,
                                                    FloatPointer q, FloatPointer k, float scale, long window, float softcap,
                                                    @Cast("const int64_t*") LongPointer keyRange, FloatPointer scores);
    public static native int l4j_attn_apply_kv(long batch, long qLen, long kLen, long nHeads, long nKvHeads, long dHead,
                                               FloatPointer pattern, FloatPointer v, FloatPointer z);
    public static native int l4j_attention_masked(long batch, long qLen, long kLen, long nHeads, long nKvHeads, long dHead,
                                                  FloatPointer q, FloatPointer k, FloatPointer v, float scale, long window,
                                                  float softcap, @Cast("const int64_t*") LongPointer keyRange, FloatPointer z, FloatPointer scores,
                                                  FloatPointer pattern);
    public static native int l4j_softcap(long n, FloatPointer x, float cap, FloatPointer out);
    public static native int l4j_softcap_backward(long n, FloatPointer y, FloatPointer dy, float cap, FloatPointer dx);

    public static native int l4j_activation(int kind, long n, FloatPointer x, FloatPointer out);
    public static native int l4j_gated_activation(int kind, long n, FloatPointer gatePre, FloatPointer linear,
                                                  FloatPointer out);
    public static native int l4j_add(long n, FloatPointer a, FloatPointer b, FloatPointer out);
    public static native int l4j_scale_cols(long rows, long d, FloatPointer x, FloatPointer w, FloatPointer out);
    public static native int l4j_add_bias(long rows, long d, FloatPointer x, FloatPointer bias, FloatPointer out);

    public static native int l4j_softmax(long rows, long n, FloatPointer x, FloatPointer out);
    public static native int l4j_log_softmax(long rows, long n, FloatPointer x, FloatPointer out);
    public static native int l4j_cross_entropy(long rows, long n, FloatPointer logits, IntPointer targets,
                                               FloatPointer loss);

    // ---- backward (lens4j.h "backward"): weight gradients accumulate, input gradients are overwritten

    public static native int l4j_sum_rows(long rows, long d, FloatPointer x, FloatPointer out);
    public static native int l4j_embed_backward(long nTokens, IntPointer tokens, FloatPointer dout, long dVocab,
                                                long dModel, FloatPointer dW_E);
    public static native int l4j_pos_embed_backward(long batch, long seq, long offset, FloatPointer dout, long nCtx,
                                                    long dModel, FloatPointer dW_pos);
    public static native int l4j_layernorm_backward(long rows, long d, FloatPointer x, FloatPointer w, FloatPointer scale,
                                                    FloatPointer dout, FloatPointer dx, FloatPointer dw, FloatPointer db,
                                                    FloatPointer dscale);
    public static native int l4j_rmsnorm_backward(long rows, long d, FloatPointer x, FloatPointer w, FloatPointer scale,
                                                  FloatPointer dout, FloatPointer dx, FloatPointer dw,
                                                  FloatPointer dnormalized, FloatPointer dscale);
    public static native int l4j_rotary_backward(long batch, long seq, long nHeads, long dHead, long rotaryDim, long offset,
                                                 FloatPointer cos, FloatPointer sin, long nCtx, int adjacentPairs,
                                                 FloatPointer dout, FloatPointer dx);
    public static native int l4j_attn_scores_backward(long batch, long seq, long nHeads, long nKvHeads, long dHead,
                                                      FloatPointer q, FloatPointer k, FloatPointer dscores, float scale, long window,
                                                      FloatPointer dq, FloatPointer dk);
    public static native int l4j_attn_scores_backward_masked(long batch, long seq, long nHeads, long nKvHeads, long dHead,
                                                             FloatPointer q, FloatPointer k, FloatPointer dscores, float scale,
                                                             long window, @Cast("const int64_t*") LongPointer keyRange, FloatPointer dq, FloatPointer dk);
    public static native int l4j_attn_apply_backward(long batch, long seq, long nHeads, long nKvHeads, long dHead,
                                                     FloatPointer pattern, FloatPointer v, FloatPointer dz,
                                                     FloatPointer dpattern, FloatPointer dv);
    public static native int l4j_activation_backward(int kind, long n, FloatPointer x, FloatPointer dout, FloatPointer dx);
    public static native int l4j_gated_activation_backward(int kind, long n, FloatPointer gatePre, FloatPointer linear,
                                                           FloatPointer dout, FloatPointer dgate, FloatPointer dlinear);
    public static native int l4j_scale_cols_backward(long rows, long d, FloatPointer x, FloatPointer w, FloatPointer dout,
                                                     FloatPointer dx, FloatPointer dw);
    public static native int l4j_softmax_backward(long rows, long n, FloatPointer y, FloatPointer dout, FloatPointer dx);
    public static native int l4j_log_softmax_backward(long rows, long n, FloatPointer y, FloatPointer dout, FloatPointer dx);
    public static native int l4j_cross_entropy_backward(long rows, long n, FloatPointer logits, IntPointer targets,
                                                        FloatPointer dloss, FloatPointer dlogits);
}
