/*
 * lens4j — the one C ABI for native kernels.
 *
 * Every function takes raw pointers plus explicit shapes and returns a status code (L4J_OK on success).
 * The CPU implementation (native/cpu) and the CUDA implementation (native/cuda, names prefixed l4jc_)
 * share argument order and semantics, so a reader finds an op in four predictable places: native/cpu,
 * native/cuda, the JavaCPP binding (dev.lens4j.nativ) and its test.
 *
 * Conventions
 *  - float32 row-major, contiguous unless a leading dimension (ld*) says otherwise.
 *  - Activations of a block are [batch, pos, ...]; "rows" = batch * pos.
 *  - Java validates shapes before calling; kernels re-check cheap invariants and return L4J_ERR_ARG
 *    rather than touch memory out of bounds.
 *  - Optional outputs are NULL when not wanted.
 */
#ifndef LENS4J_H
#define LENS4J_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define L4J_OK 0
#define L4J_ERR_ARG 1        /* bad argument: null pointer, non-positive size */
#define L4J_ERR_RANGE 2      /* an index (token id) out of range */
#define L4J_ERR_NOMEM 3
#define L4J_ERR_DEVICE 4     /* CUDA / cuBLAS failure */
#define L4J_ERR_UNSUPPORTED 5

/* activation kinds, shared by l4j_activation and l4j_gated_activation */
#define L4J_ACT_RELU 0
#define L4J_ACT_GELU 1              /* exact erf GELU (torch.nn.functional.gelu) */
#define L4J_ACT_GELU_NEW 2          /* tanh approximation (GPT-2's gelu_new) */
#define L4J_ACT_GELU_PYTORCH_TANH 3 /* same formula as gelu_new, torch's tanh variant */
#define L4J_ACT_SILU 4

/* ---- runtime ---- */
int l4j_version(void);
int l4j_set_num_threads(int n);
int l4j_get_num_threads(void);
/* The OpenBLAS core type whose kernels run (OPENBLAS_CORETYPE or the CPU's), e.g. "Haswell". */
const char *l4j_blas_corename(void);

/* ---- host memory ----
 * Tensor memory on the host, 64-byte aligned. Blocks of 1 MiB or more are "large": rounded up to a 2 MiB
 * multiple, mapped 2 MiB-aligned with MADV_HUGEPAGE over the whole huge pages the request fills (a partial last
 * one stays on 4 KiB pages, so its unused tail is never resident) and, when freed, kept in a process-wide cache (keyed by
 * rounded size, most recently freed reused first, oldest evicted first) instead of being unmapped, so repeated
 * passes reuse resident memory. bytes <= 0 counts as 1; zero != 0 asks for zero-filled memory. NULL when the
 * memory cannot be had. l4j_host_free takes the bytes asked at alloc (NULL is a no-op). Thread-safe. */
void *l4j_host_alloc(int64_t bytes, int zero);
void l4j_host_free(void *p, int64_t bytes);
/* Bytes of free blocks held by the cache, and unmapping all of them. */
int64_t l4j_host_cache_bytes(void);
void l4j_host_cache_release(void);
/* Sets the cache's limit when bytes >= 0 (evicting to fit) and returns the limit in force. The default is
 * env LENS4J_HOST_CACHE_MB (1 to 12 digits; 0 disables caching) or else min(1 GiB, physical memory / 8). */
int64_t l4j_host_cache_limit(int64_t bytes);

/* ---- GEMM ----
 * C[M,N] = alpha * op(A) @ op(B) + beta * C (+ bias[N] broadcast over rows when bias != NULL).
 * op(X) = X^T when trans* != 0. */
int l4j_gemm(int transA, int transB, int64_t M, int64_t N, int64_t K, float alpha,
             const float *A, int64_t lda, const float *B, int64_t ldb, float beta,
             float *C, int64_t ldc, const float *bias);
/* The two paths l4j_gemm picks between (same contract): lens4j's AVX-512F kernel (cpu/gemm_avx512.cpp; returns
 * L4J_ERR_UNSUPPORTED where l4j_avx512f_native() is 0) and OpenBLAS sgemm split over the OpenMP threads. */
int l4j_gemm_avx512(int transA, int transB, int64_t M, int64_t N, int64_t K, float alpha,
                    const float *A, int64_t lda, const float *B, int64_t ldb, float beta,
                    float *C, int64_t ldc, const float *bias);
int l4j_gemm_openblas(int transA, int transB, int64_t M, int64_t N, int64_t K, float alpha,
                      const float *A, int64_t lda, const float *B, int64_t ldb, float beta,
                      float *C, int64_t ldc, const float *bias);
int l4j_avx512f_native(void);
/* l4j_gemm with B's columns in groups, read in place: op(B)[k, n] = B[(n / group) * groupStride + k * ldb + n % group]
 * (N a multiple of group). TL's W_Q [heads, d_model, d_head] is group d_head, groupStride d_model * d_head, ldb
 * d_head: every head's projection in one product, no repacked copy. path 0: as l4j_gemm picks; 1: the AVX-512F
 * kernel (L4J_ERR_UNSUPPORTED without it; the same bits as l4j_gemm_avx512 over a contiguous copy of B); 2: OpenBLAS. */
int l4j_gemm_grouped(int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t lda, const float *B,
                     int64_t ldb, int64_t group, int64_t groupStride, float beta, float *C, int64_t ldc,
                     const float *bias, int path);
int l4j_gemm_avx512_grouped(int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t lda, const float *B,
                            int64_t ldb, int64_t group, int64_t groupStride, float beta, float *C, int64_t ldc,
                            const float *bias);

/* ---- bf16 weights (cpu/gemm_bf16.cpp) ----
 * l4j_gemm_bf16: C[M,N] = alpha * A[M,K] @ op(B) + beta * C (+ bias[N]); A f32, B bf16 (op(B) = B^T, B [N,K], when
 * transB), float32 accumulation. mode 0: AVX512-BF16 where the CPU has it (A rounded to bf16, nearest even), else
 * mode 1: bf16 panels of B widened to f32 and multiplied by l4j_gemm (A exact). l4j_bf16_native: 1 if mode 0 uses
 * AVX512-BF16 here. Conversions round to nearest even (NaN stays NaN). l4j_embed_bf16 is l4j_embed over bf16 rows. */
int l4j_gemm_bf16(int transB, int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t lda,
                  const uint16_t *B, int64_t ldb, float beta, float *C, int64_t ldc, const float *bias, int mode);
/* l4j_gemm_bf16 with B's columns in groups, read in place (the layout of l4j_gemm_grouped; B not transposed). */
int l4j_gemm_bf16_grouped(int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t lda, const uint16_t *B,
                          int64_t ldb, int64_t group, int64_t groupStride, float beta, float *C, int64_t ldc,
                          const float *bias, int mode);
int l4j_bf16_native(void);
int l4j_f32_to_bf16(int64_t n, const float *src, uint16_t *dst);
int l4j_bf16_to_f32(int64_t n, const uint16_t *src, float *dst);
int l4j_embed_bf16(int64_t n_tokens, const int32_t *tokens, const uint16_t *W_E, int64_t d_vocab, int64_t d_model,
                   float *out);

/* ---- embeddings ---- */
/* out[i,:] = W_E[tokens[i],:]; returns L4J_ERR_RANGE if any token is outside [0, d_vocab). */
int l4j_embed(int64_t n_tokens, const int32_t *tokens, const float *W_E, int64_t d_vocab, int64_t d_model,
              float *out);
/* out[b,p,:] = W_pos[p + offset,:] */
int l4j_pos_embed(int64_t batch, int64_t seq, int64_t offset, const float *W_pos, int64_t n_ctx, int64_t d_model,
                  float *out);

/* ---- normalisation (TransformerLens semantics) ----
 * LayerNorm: xc = x - mean(x); scale = sqrt(mean(xc^2) + eps); out = xc / scale * w + b.
 *   (w, b NULL = LNPre). TL's hook_normalized for LN is `out` itself.
 * RMSNorm: scale = sqrt(mean(x^2) + eps); normalized = x / scale; out = normalized * w (w NULL = RMSPre).
 *   TL's hook_normalized for RMS is before the weight: pass `normalized` to receive it.
 * scale (optional) receives [rows] (TL's hook_scale, shape [batch, pos, 1]). */
int l4j_layernorm(int64_t rows, int64_t d, const float *x, const float *w, const float *b, float eps,
                  float *out, float *scale);
int l4j_rmsnorm(int64_t rows, int64_t d, const float *x, const float *w, float eps,
                float *out, float *scale, float *normalized);

/* ---- rotary embeddings ----
 * x, out: [batch, seq, n_heads, d_head]; rotates the first rotary_dim features of each head.
 * cos_t, sin_t: [n_ctx, rotary_dim/2] tables, indexed at position p + offset.
 * adjacent_pairs = 0: rotate-half (GPT-NeoX / HF Llama): pairs (i, i + rotary_dim/2).
 * adjacent_pairs = 1: GPT-J / llama2.c: pairs (2i, 2i+1).  out may alias x. */
int l4j_rotary(int64_t batch, int64_t seq, int64_t n_heads, int64_t d_head, int64_t rotary_dim, int64_t offset,
               const float *cos_t, const float *sin_t, int64_t n_ctx, int adjacent_pairs,
               const float *x, float *out);

/* ---- attention ----
 * q: [batch, seq, n_heads, d_head]; k, v: [batch, seq, n_kv_heads, d_head]; query head h reads
 * kv head h / (n_heads / n_kv_heads). Causal: query i sees keys 0..i, or with window > 0 (sliding window)
 * keys i - window + 1 .. i. softcap > 0 caps the scaled scores as softcap * tanh(s / softcap) (0: no cap).
 * scores / pattern: [batch, n_heads, seq, seq]; scores are scaled by `scale`, capped, and -inf where masked.
 * z: [batch, seq, n_heads, d_head]. */
int l4j_attn_scores(int64_t batch, int64_t seq, int64_t n_heads, int64_t n_kv_heads, int64_t d_head,
                    const float *q, const float *k, float scale, int64_t window, float softcap, float *scores);
int l4j_attn_apply(int64_t batch, int64_t seq, int64_t n_heads, int64_t n_kv_heads, int64_t d_head,
                   const float *pattern, const float *v, float *z);
/* Fused "hooked attention": scores, softmax and z in one pass per (batch, head, query row);
 * writes scores and/or pattern only when asked (non-NULL). */
int l4j_attention(int64_t batch, int64_t seq, int64_t n_heads, int64_t n_kv_heads, int64_t d_head,
                  const float *q, const float *k, const float *v, float scale, int64_t window, float softcap,
                  float *z, float *scores, float *pattern);
/* Ragged batches and KV caches (the three above are these with q_len = k_len = seq and key_range NULL).
 * q: [batch, q_len, n_heads, d_head]; k, v: [batch, k_len, n_kv_heads, d_head], k_len >= q_len: query i sits at
 * position k_len - q_len + i (a KV cache holds the k_len - q_len earlier keys). scores / pattern: [batch, n_heads,
 * q_len, k_len]. key_range (NULL: every key valid) is [batch, 2]: row b's valid keys are key_range[2b] <= j <
 * key_range[2b+1] (TL's attention_mask: left or right padding outside), on top of the causal mask and the window.
 * A query that sees no valid key (a left-pad position) gets scores -inf, a zero pattern row and z = 0, as TL
 * (which replaces the softmax's NaNs by 0). L4J_ERR_ARG for a range outside [0, k_len]. */
int l4j_attn_scores_masked(int64_t batch, int64_t q_len, int64_t k_len, int64_t n_heads, int64_t n_kv_heads,
                           int64_t d_head, const float *q, const float *k, float scale, int64_t window, float softcap,
                           const int64_t *key_range, float *scores);
int l4j_attn_apply_kv(int64_t batch, int64_t q_len, int64_t k_len, int64_t n_heads, int64_t n_kv_heads,
                      int64_t d_head, const float *pattern, const float *v, float *z);
int l4j_attention_masked(int64_t batch, int64_t q_len, int64_t k_len, int64_t n_heads, int64_t n_kv_heads,
                         int64_t d_head, const float *q, const float *k, const float *v, float scale, int64_t window,
                         float softcap, const int64_t *key_range, float *z, float *scores, float *pattern);
/* Soft-capping (Gemma 2's final logits): out = cap * tanh(x / cap), cap > 0; out may alias x.
 * Backward from the output y: dx = dy * (1 - (y / cap)^2), 0 where y is -inf (masked scores); dx may alias dy. */
int l4j_softcap(int64_t n, const float *x, float cap, float *out);
int l4j_softcap_backward(int64_t n, const float *y, const float *dy, float cap, float *dx);

/* ---- element-wise ---- */
int l4j_activation(int kind, int64_t n, const float *x, float *out);                 /* out may alias x */
int l4j_gated_activation(int kind, int64_t n, const float *gate_pre, const float *linear, float *out);
                                                                                      /* out = act(gate_pre) * linear */
int l4j_add(int64_t n, const float *a, const float *b, float *out);                   /* out may alias a or b */
int l4j_scale_cols(int64_t rows, int64_t d, const float *x, const float *w, float *out); /* out = x * w[col] */
int l4j_add_bias(int64_t rows, int64_t d, const float *x, const float *bias, float *out);

/* ---- softmax family over the last dimension ----
 * softmax of a row that is all -inf (an attention query that sees no key) is all 0, as TL's masked attention. */
int l4j_softmax(int64_t rows, int64_t n, const float *x, float *out);
int l4j_log_softmax(int64_t rows, int64_t n, const float *x, float *out);
/* loss[r] = -log_softmax(logits[r])[targets[r]]; L4J_ERR_RANGE if a target is outside [0, n). */
int l4j_cross_entropy(int64_t rows, int64_t n, const float *logits, const int32_t *targets, float *loss);

/* ---- backward ----
 * Vector-Jacobian products of the ops above: given the upstream gradient d<out>, write d<input>.
 *  - Gradients of weights (and of anything summed over rows: dW_E, dW_pos, dw, db, sum_rows' out) ACCUMULATE
 *    (+=), so per-layer / per-batch sums need no extra pass; zero them before the first call.
 *  - Gradients of activations are OVERWRITTEN. Where noted they may alias the upstream gradient.
 *  - Optional outputs are NULL when not wanted.
 *  - Reductions over rows are split by columns (or by token / position), never by rows, so the result is
 *    bitwise identical for any thread count.
 * Linear layers need no kernel: dX = dY W^T and dW += X^T dY are l4j_gemm with transposes (beta = 0 / 1);
 * a bias gradient is l4j_sum_rows; l4j_add's gradient passes through unchanged. */

/* out[c] += sum_r x[r, c]   (bias gradients: add_bias, linear, b_O ...) */
int l4j_sum_rows(int64_t rows, int64_t d, const float *x, float *out);

/* dW_E[tokens[i], :] += dout[i, :], summed in token order per vocabulary row (deterministic);
 * L4J_ERR_RANGE if any token is outside [0, d_vocab). */
int l4j_embed_backward(int64_t n_tokens, const int32_t *tokens, const float *dout, int64_t d_vocab,
                       int64_t d_model, float *dW_E);
/* dW_pos[p + offset, :] += sum_b dout[b, p, :] */
int l4j_pos_embed_backward(int64_t batch, int64_t seq, int64_t offset, const float *dout, int64_t n_ctx,
                           int64_t d_model, float *dW_pos);

/* LayerNorm (w NULL = LNPre; the forward's b does not enter the gradient). scale: the forward's [rows].
 * dx (optional, may alias dout): total gradient through the mean and the scale.
 * dw += sum_r dout * xc / scale, db += sum_r dout (both optional; NULL when the forward had no w / b).
 * dscale (optional, [rows]): gradient at TL's hook_scale, i.e. through the division only:
 *   dscale[r] = sum_i dout[r,i] * w[i] * -xc[r,i] / scale[r]^2. */
int l4j_layernorm_backward(int64_t rows, int64_t d, const float *x, const float *w, const float *scale,
                           const float *dout, float *dx, float *dw, float *db, float *dscale);
/* RMSNorm (w NULL = RMSPre). dnormalized (optional) = dout * w, the gradient at TL's RMS hook_normalized
 * (before the weight); dw += sum_r dout * x / scale; dscale as for LayerNorm (through the division only);
 * dx (optional, may alias dout) total. */
int l4j_rmsnorm_backward(int64_t rows, int64_t d, const float *x, const float *w, const float *scale,
                         const float *dout, float *dx, float *dw, float *dnormalized, float *dscale);

/* dx = R^T dout: the inverse rotation of l4j_rotary, same tables and conventions; features past rotary_dim
 * pass through. dx may alias dout. */
int l4j_rotary_backward(int64_t batch, int64_t seq, int64_t n_heads, int64_t d_head, int64_t rotary_dim,
                        int64_t offset, const float *cos_t, const float *sin_t, int64_t n_ctx, int adjacent_pairs,
                        const float *dout, float *dx);

/* Causal scores = scale * q k^T (window > 0: a sliding window, as l4j_attn_scores). dscores where the forward
 * masked (above the diagonal, before the window) belong to the -inf constants and are never read (they may hold
 * anything). dq [batch, seq, n_heads, d_head], dk [batch, seq, n_kv_heads, d_head]
 * (both optional, overwritten; dk sums the query heads of each GQA group). */
int l4j_attn_scores_backward(int64_t batch, int64_t seq, int64_t n_heads, int64_t n_kv_heads, int64_t d_head,
                             const float *q, const float *k, const float *dscores, float scale, int64_t window,
                             float *dq, float *dk);
/* As above with the forward's key_range (NULL: all keys valid): dscores outside it are never read either. */
int l4j_attn_scores_backward_masked(int64_t batch, int64_t seq, int64_t n_heads, int64_t n_kv_heads, int64_t d_head,
                                    const float *q, const float *k, const float *dscores, float scale, int64_t window,
                                    const int64_t *key_range, float *dq, float *dk);
/* z = pattern @ v over all keys (as the forward). dpattern [batch, n_heads, seq, seq] = dz . v for every
 * (i, j), including entries a causal pattern holds at 0 (TL reports those too); dv [batch, seq, n_kv_heads,
 * d_head] overwritten, summing the query heads of each GQA group. Both optional. */
int l4j_attn_apply_backward(int64_t batch, int64_t seq, int64_t n_heads, int64_t n_kv_heads, int64_t d_head,
                            const float *pattern, const float *v, const float *dz, float *dpattern, float *dv);

/* dx = dout * act'(x) (torch's derivatives; relu'(0) = 0). dx may alias dout. */
int l4j_activation_backward(int kind, int64_t n, const float *x, const float *dout, float *dx);
/* out = act(gate_pre) * linear: dgate = dout * linear * act'(gate_pre), dlinear = dout * act(gate_pre).
 * Both optional; either may alias dout. */
int l4j_gated_activation_backward(int kind, int64_t n, const float *gate_pre, const float *linear,
                                  const float *dout, float *dgate, float *dlinear);
/* out = x * w[col]: dx = dout * w (optional, may alias dout), dw += sum_r dout * x (optional). */
int l4j_scale_cols_backward(int64_t rows, int64_t d, const float *x, const float *w, const float *dout,
                            float *dx, float *dw);

/* From the forward's output y (softmax probabilities / log-probabilities); dx may alias dout.
 * softmax: dx = y * (dout - sum(y * dout)); entries with y == 0 (masked, -inf inputs) get exactly 0.
 * log_softmax: dx = dout - exp(y) * sum(dout). */
int l4j_softmax_backward(int64_t rows, int64_t n, const float *y, const float *dout, float *dx);
int l4j_log_softmax_backward(int64_t rows, int64_t n, const float *y, const float *dout, float *dx);
/* dlogits[r] = dloss[r] * (softmax(logits[r]) - onehot(targets[r])); L4J_ERR_RANGE for a bad target. */
int l4j_cross_entropy_backward(int64_t rows, int64_t n, const float *logits, const int32_t *targets,
                               const float *dloss, float *dlogits);

#ifdef __cplusplus
}
#endif
#endif /* LENS4J_H */
