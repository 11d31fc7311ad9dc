/*
 * lens4j — the CUDA half of the C ABI: the l4jc_* twin of every l4j_* kernel of lens4j.h / lens4j_ops.h /
 * lens4j_scan.h, with the same arguments plus a trailing stream (void *: a cudaStream_t, NULL = the default stream),
 * and pointers to device memory. Kernels are asynchronous on their stream; argument errors (L4J_ERR_ARG) are found
 * on the host before anything is launched. L4J_ERR_DEVICE: a CUDA / cuBLAS failure, described by l4jc_last_error.
 *
 * Every function is listed once in an X-macro, L4JC_API(X), entries X(name, (parameters), (arguments)), grouped by
 * source file. From the list come the prototypes of libraries built from native/cuda (l4jc_<name>: lens4j_cuda,
 * compiled by nvcc, and lens4j_cuda_emu, the same sources run on the CPU by native/cuda/emu) and the dispatch in
 * lens4j_cpu (l4jd_<name>), which forwards to whichever library l4jd_open loaded at run time. Java binds only the
 * dispatch (dev.lens4j.nativ.CudaKernels, generated from this list by scripts/gen-cuda-binding.py), so lens4j
 * builds and runs on machines without nvcc, a GPU or a driver.
 *
 * Pointers are device pointers, except the small shape / stride arrays of l4jc_strided_copy and l4jc_binary, which
 * are host arrays (they travel as kernel parameters), and the host side of memcpy / memcpy_async.
 */
#ifndef LENS4J_CUDA_H
#define LENS4J_CUDA_H
#include "lens4j.h"
#include "lens4j_ops.h"
#include "lens4j_scan.h"
#ifdef __cplusplus
extern "C" {
#endif

/* ---- runtime.cu: devices, memory, streams ----
 * device_count: usable devices, 0 without a driver or GPU (never an error). mem_info: free / total device bytes.
 * malloc: zero-filled; malloc_uninit: contents undefined. memcpy kinds: 0 host->device, 1 device->host,
 * 2 device->device; memcpy is synchronous and, as streams are created ordered with the legacy default stream, sees
 * all work queued before it on any stream; memcpy_async is ordered on the stream (host memory should be pinned:
 * host_alloc). last_error writes the last failure's description (NUL-terminated, at most len bytes). */
#define L4JC_API_RUNTIME(X) \
    X(device_count, (void), ()) \
    X(device_name, (int device, char *buf, int len), (device, buf, len)) \
    X(set_device, (int device), (device)) \
    X(mem_info, (int64_t *free_bytes, int64_t *total_bytes), (free_bytes, total_bytes)) \
    X(malloc, (void **ptr, int64_t bytes), (ptr, bytes)) \
    X(malloc_uninit, (void **ptr, int64_t bytes), (ptr, bytes)) \
    X(free, (void *ptr), (ptr)) \
    X(host_alloc, (void **ptr, int64_t bytes), (ptr, bytes)) \
    X(host_free, (void *ptr), (ptr)) \
    X(memcpy, (void *dst, const void *src, int64_t bytes, int kind), (dst, src, bytes, kind)) \
    X(memcpy_async, (void *dst, const void *src, int64_t bytes, int kind, void *stream), (dst, src, bytes, kind, stream)) \
    X(memset_async, (void *ptr, int value, int64_t bytes, void *stream), (ptr, value, bytes, stream)) \
    X(stream_create, (void **stream), (stream)) \
    X(stream_destroy, (void *stream), (stream)) \
    X(stream_synchronize, (void *stream), (stream)) \
    X(synchronize, (void), ()) \
    X(last_error, (char *buf, int len), (buf, len)) \
    X(is_emulated, (void), ()) \
    X(add, (int64_t n, const float *a, const float *b, float *out, void *stream), (n, a, b, out, stream))

/* ---- gemm.cu: cuBLAS (loaded at run time) for f32 and bf16 weights; l4jc_set_tf32 turns TF32 tensor cores on (off by default, so results match the CPU) ---- */
#define L4JC_API_GEMM(X) \
    X(set_tf32, (int on), (on)) \
    X(gemm, (int transA, int transB, int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc, const float *bias, void *stream), (transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, bias, stream)) \
    X(gemm_bf16, (int transB, int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t lda, const uint16_t *B, int64_t ldb, float beta, float *C, int64_t ldc, const float *bias, int mode, void *stream), (transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, bias, mode, stream)) \
    X(gemm_grouped, (int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t lda, const float *B, int64_t ldb, int64_t group, int64_t groupStride, float beta, float *C, int64_t ldc, const float *bias, int path, void *stream), (M, N, K, alpha, A, lda, B, ldb, group, groupStride, beta, C, ldc, bias, path, stream)) \
    X(gemm_bf16_grouped, (int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t lda, const uint16_t *B, int64_t ldb, int64_t group, int64_t groupStride, float beta, float *C, int64_t ldc, const float *bias, int mode, void *stream), (M, N, K, alpha, A, lda, B, ldb, group, groupStride, beta, C, ldc, bias, mode, stream)) \
    X(f32_to_bf16, (int64_t n, const float *src, uint16_t *dst, void *stream), (n, src, dst, stream)) \
    X(bf16_to_f32, (int64_t n, const uint16_t *src, float *dst, void *stream), (n, src, dst, stream))

/* ---- embed.cu ---- */
#define L4JC_API_EMBED(X) \
    X(embed, (int64_t n_tokens, const int32_t *tokens, const float *W_E, int64_t d_vocab, int64_t d_model, float *out, void *stream), (n_tokens, tokens, W_E, d_vocab, d_model, out, stream)) \
    X(pos_embed, (int64_t batch, int64_t seq, int64_t offset, const float *W_pos, int64_t n_ctx, int64_t d_model, float *out, void *stream), (batch, seq, offset, W_pos, n_ctx, d_model, out, stream)) \
    X(embed_bf16, (int64_t n_tokens, const int32_t *tokens, const uint16_t *W_E, int64_t d_vocab, int64_t d_model, float *out, void *stream), (n_tokens, tokens, W_E, d_vocab, d_model, out, stream)) \
    X(embed_backward, (int64_t n_tokens, const int32_t *tokens, const float *dout, int64_t d_vocab, int64_t d_model, float *dW_E, void *stream), (n_tokens, tokens, dout, d_vocab, d_model, dW_E, stream)) \
    X(pos_embed_backward, (int64_t batch, int64_t seq, int64_t offset, const float *dout, int64_t n_ctx, int64_t d_model, float *dW_pos, void *stream), (batch, seq, offset, dout, n_ctx, d_model, dW_pos, stream))

/* ---- norm.cu ---- */
#define L4JC_API_NORM(X) \
    X(layernorm, (int64_t rows, int64_t d, const float *x, const float *w, const float *b, float eps, float *out, float *scale, void *stream), (rows, d, x, w, b, eps, out, scale, stream)) \
    X(rmsnorm, (int64_t rows, int64_t d, const float *x, const float *w, float eps, float *out, float *scale, float *normalized, void *stream), (rows, d, x, w, eps, out, scale, normalized, stream)) \
    X(layernorm_backward, (int64_t rows, int64_t d, const float *x, const float *w, const float *scale, const float *dout, float *dx, float *dw, float *db, float *dscale, void *stream), (rows, d, x, w, scale, dout, dx, dw, db, dscale, stream)) \
    X(rmsnorm_backward, (int64_t rows, int64_t d, const float *x, const float *w, const float *scale, const float *dout, float *dx, float *dw, float *dnormalized, float *dscale, void *stream), (rows, d, x, w, scale, dout, dx, dw, dnormalized, dscale, stream))

/* ---- rotary.cu ---- */
#define L4JC_API_ROTARY(X) \
    X(rotary, (int64_t batch, int64_t seq, int64_t n_heads, int64_t d_head, int64_t rotary_dim, int64_t offset, const float *cos_t, const float *sin_t, int64_t n_ctx, int adjacent_pairs, const float *x, float *out, void *stream), (batch, seq, n_heads, d_head, rotary_dim, offset, cos_t, sin_t, n_ctx, adjacent_pairs, x, out, stream)) \
    X(rotary_backward, (int64_t batch, int64_t seq, int64_t n_heads, int64_t d_head, int64_t rotary_dim, int64_t offset, const float *cos_t, const float *sin_t, int64_t n_ctx, int adjacent_pairs, const float *dout, float *dx, void *stream), (batch, seq, n_heads, d_head, rotary_dim, offset, cos_t, sin_t, n_ctx, adjacent_pairs, dout, dx, stream))

/* ---- attention.cu: fused (flash-style when neither scores nor pattern is wanted) and split paths ---- */
#define L4JC_API_ATTENTION(X) \
    X(attn_scores, (int64_t batch, int64_t seq, int64_t n_heads, int64_t n_kv_heads, int64_t d_head, const float *q, const float *k, float scale, int64_t window, float softcap, float *scores, void *stream), (batch, seq, n_heads, n_kv_heads, d_head, q, k, scale, window, softcap, scores, stream)) \
    X(attn_apply, (int64_t batch, int64_t seq, int64_t n_heads, int64_t n_kv_heads, int64_t d_head, const float *pattern, const float *v, float *z, void *stream), (batch, seq, n_heads, n_kv_heads, d_head, pattern, v, z, stream)) \
    X(attention, (int64_t batch, int64_t seq, int64_t n_heads, int64_t n_kv_heads, int64_t d_head, const float *q, const float *k, const float *v, float scale, int64_t window, float softcap, float *z, float *scores, float *pattern, void *stream), (batch, seq, n_heads, n_kv_heads, d_head, q, k, v, scale, window, softcap, z, scores, pattern, stream)) \
    X(attn_scores_masked, (int64_t batch, int64_t q_len, int64_t k_len, int64_t n_heads, int64_t n_kv_heads, int64_t d_head, const float *q, const float *k, float scale, int64_t window, float softcap, const int64_t *key_range, float *scores, void *stream), (batch, q_len, k_len, n_heads, n_kv_heads, d_head, q, k, scale, window, softcap, key_range, scores, stream)) \
    X(attn_apply_kv, (int64_t batch, int64_t q_len, int64_t k_len, int64_t n_heads, int64_t n_kv_heads, int64_t d_head, const float *pattern, const float *v, float *z, void *stream), (batch, q_len, k_len, n_heads, n_kv_heads, d_head, pattern, v, z, stream)) \
    X(attention_masked, (int64_t batch, int64_t q_len, int64_t k_len, int64_t n_heads, int64_t n_kv_heads, int64_t d_head, const float *q, const float *k, const float *v, float scale, int64_t window, float softcap, const int64_t *key_range, float *z, float *scores, float *pattern, void *stream), (batch, q_len, k_len, n_heads, n_kv_heads, d_head, q, k, v, scale, window, softcap, key_range, z, scores, pattern, stream)) \
    X(softcap, (int64_t n, const float *x, float cap, float *out, void *stream), (n, x, cap, out, stream)) \
    X(softcap_backward, (int64_t n, const float *y, const float *dy, float cap, float *dx, void *stream), (n, y, dy, cap, dx, stream)) \
    X(attn_scores_backward, (int64_t batch, int64_t seq, int64_t n_heads, int64_t n_kv_heads, int64_t d_head, const float *q, const float *k, const float *dscores, float scale, int64_t window, float *dq, float *dk, void *stream), (batch, seq, n_heads, n_kv_heads, d_head, q, k, dscores, scale, window, dq, dk, stream)) \
    X(attn_scores_backward_masked, (int64_t batch, int64_t seq, int64_t n_heads, int64_t n_kv_heads, int64_t d_head, const float *q, const float *k, const float *dscores, float scale, int64_t window, const int64_t *key_range, float *dq, float *dk, void *stream), (batch, seq, n_heads, n_kv_heads, d_head, q, k, dscores, scale, window, key_range, dq, dk, stream)) \
    X(attn_apply_backward, (int64_t batch, int64_t seq, int64_t n_heads, int64_t n_kv_heads, int64_t d_head, const float *pattern, const float *v, const float *dz, float *dpattern, float *dv, void *stream), (batch, seq, n_heads, n_kv_heads, d_head, pattern, v, dz, dpattern, dv, stream))

/* ---- elementwise.cu ---- */
#define L4JC_API_ELEMENTWISE(X) \
    X(activation, (int kind, int64_t n, const float *x, float *out, void *stream), (kind, n, x, out, stream)) \
    X(gated_activation, (int kind, int64_t n, const float *gate_pre, const float *linear, float *out, void *stream), (kind, n, gate_pre, linear, out, stream)) \
    X(scale_cols, (int64_t rows, int64_t d, const float *x, const float *w, float *out, void *stream), (rows, d, x, w, out, stream)) \
    X(add_bias, (int64_t rows, int64_t d, const float *x, const float *bias, float *out, void *stream), (rows, d, x, bias, out, stream)) \
    X(sum_rows, (int64_t rows, int64_t d, const float *x, float *out, void *stream), (rows, d, x, out, stream)) \
    X(activation_backward, (int kind, int64_t n, const float *x, const float *dout, float *dx, void *stream), (kind, n, x, dout, dx, stream)) \
    X(gated_activation_backward, (int kind, int64_t n, const float *gate_pre, const float *linear, const float *dout, float *dgate, float *dlinear, void *stream), (kind, n, gate_pre, linear, dout, dgate, dlinear, stream)) \
    X(scale_cols_backward, (int64_t rows, int64_t d, const float *x, const float *w, const float *dout, float *dx, float *dw, void *stream), (rows, d, x, w, dout, dx, dw, stream))

/* ---- softmax.cu ---- */
#define L4JC_API_SOFTMAX(X) \
    X(softmax, (int64_t rows, int64_t n, const float *x, float *out, void *stream), (rows, n, x, out, stream)) \
    X(log_softmax, (int64_t rows, int64_t n, const float *x, float *out, void *stream), (rows, n, x, out, stream)) \
    X(cross_entropy, (int64_t rows, int64_t n, const float *logits, const int32_t *targets, float *loss, void *stream), (rows, n, logits, targets, loss, stream)) \
    X(softmax_backward, (int64_t rows, int64_t n, const float *y, const float *dout, float *dx, void *stream), (rows, n, y, dout, dx, stream)) \
    X(log_softmax_backward, (int64_t rows, int64_t n, const float *y, const float *dout, float *dx, void *stream), (rows, n, y, dout, dx, stream)) \
    X(cross_entropy_backward, (int64_t rows, int64_t n, const float *logits, const int32_t *targets, const float *dloss, float *dlogits, void *stream), (rows, n, logits, targets, dloss, dlogits, stream))

/* ---- tensor_ops.cu: lens4j_ops.h ---- */
#define L4JC_API_OPS(X) \
    X(strided_copy, (int ndim, const int64_t *shape, const int64_t *strides, int64_t offset, const float *src, float *out, void *stream), (ndim, shape, strides, offset, src, out, stream)) \
    X(index_select, (int64_t outer, int64_t n, int64_t inner, const float *src, int64_t k, const int32_t *idx, float *out, void *stream), (outer, n, inner, src, k, idx, out, stream)) \
    X(binary, (int op, int ndim, const int64_t *shape, const float *a, const int64_t *a_strides, const float *b, const int64_t *b_strides, float *out, void *stream), (op, ndim, shape, a, a_strides, b, b_strides, out, stream)) \
    X(unary, (int op, int64_t n, const float *x, float *out, void *stream), (op, n, x, out, stream)) \
    X(reduce, (int op, int64_t outer, int64_t n, int64_t inner, const float *x, float *out, void *stream), (op, outer, n, inner, x, out, stream)) \
    X(arg_reduce, (int want_max, int64_t outer, int64_t n, int64_t inner, const float *x, int32_t *out, void *stream), (want_max, outer, n, inner, x, out, stream)) \
    X(topk, (int64_t outer, int64_t n, int64_t inner, int64_t k, const float *x, float *values, int32_t *indices, void *stream), (outer, n, inner, k, x, values, indices, stream)) \
    X(softmax_dim, (int log, int64_t outer, int64_t n, int64_t inner, const float *x, float *out, void *stream), (log, outer, n, inner, x, out, stream)) \
    X(cosine_dim, (int64_t outer, int64_t n, int64_t inner, const float *a, const float *b, float eps, float *out, void *stream), (outer, n, inner, a, b, eps, out, stream))

/* ---- scan.cu: lens4j_scan.h ---- */
#define L4JC_API_SCAN(X) \
    X(scan_update, (int64_t rows, int64_t n, const float *x, int64_t ldx, const int64_t *doc, const int32_t *pos, int64_t k, double *count, double *mean, double *m2, float *maxv, double *npos, float *top_val, int64_t *top_doc, int32_t *top_pos, int32_t *filled, void *stream), (rows, n, x, ldx, doc, pos, k, count, mean, m2, maxv, npos, top_val, top_doc, top_pos, filled, stream)) \
    X(scan_merge, (int64_t n, int64_t k, double *count, double *mean, double *m2, float *maxv, double *npos, float *top_val, int64_t *top_doc, int32_t *top_pos, int32_t *filled, const double *count_b, const double *mean_b, const double *m2_b, const float *maxv_b, const double *npos_b, const float *top_val_b, const int64_t *top_doc_b, const int32_t *top_pos_b, const int32_t *filled_b, void *stream), (n, k, count, mean, m2, maxv, npos, top_val, top_doc, top_pos, filled, count_b, mean_b, m2_b, maxv_b, npos_b, top_val_b, top_doc_b, top_pos_b, filled_b, stream))

/* ---- analysis_kernels.cu: lens4j_analysis.h, plus activation capture to pinned host memory ----
 * capture_async: gathers src [outer, n, inner] at positions idx [k] into the device buffer staging
 * [outer, k, inner] on `stream`, records `ready` there, and copies staging to host_dst (pinned: host_alloc) on
 * copy_stream once ready, then records `done` on copy_stream. The forward pass goes on on `stream` while the copy
 * runs; read host_dst after event_synchronize(done), and make `stream` wait for `done` (stream_wait_event) before
 * staging is reused. An idx outside [0, n) gathers zeros (callers validate first). */
#define L4JC_API_ANALYSIS(X) \
    X(neuron_scores, (int64_t rows, int64_t d_mlp, int64_t d_model, const float *h, int64_t ldh, const float *W_out, const float *g, int64_t ldg, float *out, void *stream), (rows, d_mlp, d_model, h, ldh, W_out, g, ldg, out, stream)) \
    X(attribution_reduce, (int64_t outer, int64_t n, int64_t inner, const float *clean, const float *corrupt, const float *grad, float *out, void *stream), (outer, n, inner, clean, corrupt, grad, out, stream)) \
    X(logit_metric, (int64_t rows, int64_t vocab, const float *logits, const int32_t *row_index, int64_t k, const int32_t *ids, const float *weights, int64_t ld_ids, float *value, float *dlogits, void *stream), (rows, vocab, logits, row_index, k, ids, weights, ld_ids, value, dlogits, stream)) \
    X(prob_metric, (int64_t rows, int64_t vocab, const float *logits, const int32_t *row_index, int64_t k, const int32_t *ids, const float *weights, int64_t ld_ids, float *value, float *dlogits, void *stream), (rows, vocab, logits, row_index, k, ids, weights, ld_ids, value, dlogits, stream)) \
    X(event_create, (void **event), (event)) \
    X(event_destroy, (void *event), (event)) \
    X(event_record, (void *event, void *stream), (event, stream)) \
    X(event_synchronize, (void *event), (event)) \
    X(stream_wait_event, (void *stream, void *event), (stream, event)) \
    X(capture_async, (int64_t outer, int64_t n, int64_t inner, const float *src, int64_t k, const int32_t *idx, float *staging, float *host_dst, void *ready, void *done, void *copy_stream, void *stream), (outer, n, inner, src, k, idx, staging, host_dst, ready, done, copy_stream, stream))

/* The whole API; a new group adds its own L4JC_API_<GROUP> list above and here. */
#define L4JC_API(X) \
    L4JC_API_RUNTIME(X) \
    L4JC_API_GEMM(X) \
    L4JC_API_EMBED(X) \
    L4JC_API_NORM(X) \
    L4JC_API_ROTARY(X) \
    L4JC_API_ATTENTION(X) \
    L4JC_API_ELEMENTWISE(X) \
    L4JC_API_SOFTMAX(X) \
    L4JC_API_OPS(X) \
    L4JC_API_SCAN(X) \
    L4JC_API_ANALYSIS(X)

#define L4JC_PROTOTYPE(name, params, args) int l4jc_##name params;
#define L4JD_PROTOTYPE(name, params, args) int l4jd_##name params;
L4JC_API(L4JC_PROTOTYPE)
L4JC_API(L4JD_PROTOTYPE)

/* Dispatch (in lens4j_cpu): loads the CUDA library at `path` (real or emulated) and binds every l4jd_* to it;
 * L4J_ERR_UNSUPPORTED with a message in err when it cannot be loaded or lacks a function. Before a successful
 * open (or after a failed one) every l4jd_* returns L4J_ERR_UNSUPPORTED. l4jd_loaded: 1 once bound. */
int l4jd_open(const char *path, char *err, int err_len);
int l4jd_loaded(void);
/* the functions of the API the loaded library lacks, space-separated (empty when complete) */
int l4jd_missing(char *buf, int len);

#ifdef __cplusplus
}
#endif
#endif
