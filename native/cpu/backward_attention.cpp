// Backward of the split attention path: attn_scores (q k^T, causal) and attn_apply (pattern @ v).
// Fused attention's backward is these two plus softmax_backward. See lens4j.h "backward".
//
// Per (batch, head) these are GEMMs on strided head slices, so they go through l4j_gemm (OpenBLAS, split across
// the OpenMP threads): 5-10x faster than dot/axpy loops at seq 512, d_head 64, even though the causal half of
// dscores is multiplied as zeros. A GQA group is summed in head order with beta = 1 (deterministic).
#include "backward.h"
#include <new>
#include <vector>

extern "C" int l4j_attn_scores_backward_masked(int64_t batch, int64_t seq, int64_t n_heads, int64_t n_kv_heads,
                                               int64_t d_head, const float *q, const float *k, const float *dscores,
                                               float scale, int64_t window, const int64_t *key_range, float *dq,
                                               float *dk) {
    L4J_CHECK(batch >= 0 && seq >= 0 && n_heads > 0 && n_kv_heads > 0 && n_heads % n_kv_heads == 0 && d_head > 0);
    L4J_CHECK(window >= 0);
    L4J_CHECK(q && k && dscores);
    if (key_range)
        for (int64_t b = 0; b < batch; b++)
            L4J_CHECK(key_range[2 * b] >= 0 && key_range[2 * b] <= key_range[2 * b + 1] && key_range[2 * b + 1] <= seq);
    if ((!dq && !dk) || batch == 0 || seq == 0) return L4J_OK;
    const int64_t group = n_heads / n_kv_heads, S = seq, D = d_head;
    const int64_t ldq = n_heads * D, ldk = n_kv_heads * D;
    try {
        // dscores with the masked entries (above the diagonal, before a sliding window, padding keys outside the
        // row's key_range: the -inf constants' gradient, never read) set to 0
        std::vector<float> masked((size_t)(S * S));
        for (int64_t b = 0; b < batch; b++)
            for (int64_t h = 0; h < n_heads; h++) {
                const int64_t ks = key_range ? key_range[2 * b] : 0, ke = key_range ? key_range[2 * b + 1] : S;
                const float *ds = dscores + (b * n_heads + h) * S * S;
#pragma omp parallel for schedule(static) if (S * S > L4J_PAR_MIN)
                for (int64_t i = 0; i < S; i++) {
                    float *m = masked.data() + i * S;
                    int64_t lo = window > 0 && i - window + 1 > 0 ? i - window + 1 : 0, hi = i + 1 < ke ? i + 1 : ke;
                    if (ks > lo) lo = ks;
                    if (hi < lo) hi = lo;
                    for (int64_t j = 0; j < lo; j++) m[j] = 0.0f;
                    std::memcpy(m + lo, ds + i * S + lo, sizeof(float) * (hi - lo));
                    for (int64_t j = hi; j < S; j++) m[j] = 0.0f;
                }
                const int64_t kh = h / group;
                const float *qh = q + b * S * ldq + h * D, *kk = k + b * S * ldk + kh * D;
                int rc = L4J_OK;
                if (dq)  // dq_h = scale * tril(dS_h) @ k_kh
                    rc = l4j_gemm(0, 0, S, D, S, scale, masked.data(), S, kk, ldk, 0.0f, dq + b * S * ldq + h * D, ldq, nullptr);
                if (rc == L4J_OK && dk)  // dk_kh (+)= scale * tril(dS_h)^T @ q_h
                    rc = l4j_gemm(1, 0, S, D, S, scale, masked.data(), S, qh, ldq, h % group == 0 ? 0.0f : 1.0f,
                                  dk + b * S * ldk + kh * D, ldk, nullptr);
                if (rc != L4J_OK) return rc;
            }
    } catch (const std::bad_alloc &) {
        return L4J_ERR_NOMEM;
    }
    return L4J_OK;
}

extern "C" int l4j_attn_scores_backward(int64_t batch, int64_t seq, int64_t n_heads, int64_t n_kv_heads,
                                        int64_t d_head, const float *q, const float *k, const float *dscores,
                                        float scale, int64_t window, float *dq, float *dk) {
    return l4j_attn_scores_backward_masked(batch, seq, n_heads, n_kv_heads, d_head, q, k, dscores, scale, window,
                                           nullptr, dq, dk);
}

extern "C" int l4j_attn_apply_backward(int64_t batch, int64_t seq, int64_t n_heads, int64_t n_kv_heads,
                                       int64_t d_head, const float *pattern, const float *v, const float *dz,
                                       float *dpattern, float *dv) {
    L4J_CHECK(batch >= 0 && seq >= 0 && n_heads > 0 && n_kv_heads > 0 && n_heads % n_kv_heads == 0 && d_head > 0);
    L4J_CHECK(pattern && v && dz);
    if ((!dpattern && !dv) || batch == 0 || seq == 0) return L4J_OK;
    const int64_t group = n_heads / n_kv_heads, S = seq, D = d_head;
    const int64_t ldz = n_heads * D, ldv = n_kv_heads * D;
    for (int64_t b = 0; b < batch; b++)
        for (int64_t h = 0; h < n_heads; h++) {
            const int64_t kh = h / group;
            const float *p = pattern + (b * n_heads + h) * S * S, *dzh = dz + b * S * ldz + h * D;
            const float *vv = v + b * S * ldv + kh * D;
            int rc = L4J_OK;
            if (dpattern)  // every (i, j), as the forward applies the pattern over all keys
                rc = l4j_gemm(0, 1, S, S, D, 1.0f, dzh, ldz, vv, ldv, 0.0f, dpattern + (b * n_heads + h) * S * S, S, nullptr);
            if (rc == L4J_OK && dv)  // dv_kh (+)= p_h^T @ dz_h
                rc = l4j_gemm(1, 0, S, D, S, 1.0f, p, S, dzh, ldz, h % group == 0 ? 0.0f : 1.0f,
                              dv + b * S * ldv + kh * D, ldv, nullptr);
            if (rc != L4J_OK) return rc;
        }
    return L4J_OK;
}
