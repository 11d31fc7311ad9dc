// Backward of the split attention path on the GPU, the CUDA twins of native/cpu/backward_attention.cpp: the tiled
// GEMMs of attention.cu (attention.cuh) with the forward's mask. dscores the mask hides are never read (they may
// hold anything, NaN included). dk and dv sum their GQA group's query heads in head order inside one thread per
// output element: deterministic, no atomics. key_range is clamped on the device; Java validates it first.
#include "attention.cuh"

extern "C" int l4jc_attn_scores_backward_masked(int64_t batch, int64_t seq, int64_t n_heads, int64_t n_kv_heads,
                                                int64_t d_head, const float *q, const float *k, const float *dscores,
                                                float scale, int64_t window, const int64_t *key_range, float *dq,
                                                float *dk, void *stream) {
    L4JC_CHECK(batch >= 0 && seq >= 0 && n_heads > 0 && n_kv_heads > 0 && n_heads % n_kv_heads == 0 && d_head > 0);
    L4JC_CHECK(window >= 0 && q && k && dscores);
    if ((!dq && !dk) || batch == 0 || seq == 0) return L4J_OK;
    const AttnShape s{batch, seq, seq, n_heads, n_kv_heads, d_head};
    const AttnMask m{1, window, key_range};
    if (dq)  // dq_h = scale * dS_h @ k_kh
        if (int st = l4jc_attn_pv(s, m, dscores, k, scale, dq, stream)) return st;
    if (dk)  // dk_kh = scale * sum_h dS_h^T @ q_h
        return l4jc_attn_ptx(s, m, dscores, q, scale, dk, stream);
    return L4J_OK;
}

extern "C" int l4jc_attn_scores_backward(int64_t batch, int64_t seq, int64_t n_heads, int64_t n_kv_heads,
                                         int64_t d_head, const float *q, const float *k, const float *dscores,
                                         float scale, int64_t window, float *dq, float *dk, void *stream) {
    return l4jc_attn_scores_backward_masked(batch, seq, n_heads, n_kv_heads, d_head, q, k, dscores, scale, window,
                                            nullptr, dq, dk, stream);
}

extern "C" int l4jc_attn_apply_backward(int64_t batch, int64_t seq, int64_t n_heads, int64_t n_kv_heads,
                                        int64_t d_head, const float *pattern, const float *v, const float *dz,
                                        float *dpattern, float *dv, void *stream) {
    L4JC_CHECK(batch >= 0 && seq >= 0 && n_heads > 0 && n_kv_heads > 0 && n_heads % n_kv_heads == 0 && d_head > 0);
    L4JC_CHECK(pattern && v && dz);
    if ((!dpattern && !dv) || batch == 0 || seq == 0) return L4J_OK;
    const AttnShape s{batch, seq, seq, n_heads, n_kv_heads, d_head};
    const AttnMask all{0, 0, nullptr};  // every (i, j), as the forward applies the pattern over all keys
    if (dpattern)  // dpattern_h = dz_h @ v_kh^T
        if (int st = l4jc_attn_qk(s, all, dz, v, 1.0f, 0.0f, dpattern, stream)) return st;
    if (dv)  // dv_kh = sum_h p_h^T @ dz_h
        return l4jc_attn_ptx(s, all, pattern, dz, 1.0f, dv, stream);
    return L4J_OK;
}
