#include "common.h"
#include <limits>
#include <vector>

namespace {
inline float dot(const float *a, const float *b, int64_t n) {
    float s = 0.0f;
#pragma omp simd reduction(+ : s)
    for (int64_t i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}
}  // namespace

extern "C" int l4j_attn_scores(int64_t batch, int64_t seq, int64_t n_heads, int64_t n_kv_heads, int64_t d_head,
                               const float *q, const float *k, float scale, float *scores) {
    L4J_CHECK(batch >= 0 && seq >= 0 && n_heads > 0 && n_kv_heads > 0 && n_heads % n_kv_heads == 0 && d_head > 0);
    L4J_CHECK(q && k && scores);
    const int64_t group = n_heads / n_kv_heads;
    const float neg_inf = -std::numeric_limits<float>::infinity();
#pragma omp parallel for collapse(3) schedule(static) if (batch * n_heads * seq * seq > L4J_PAR_MIN)
    for (int64_t b = 0; b < batch; b++)
        for (int64_t h = 0; h < n_heads; h++)
            for (int64_t i = 0; i < seq; i++) {
                const float *qi = q + ((b * seq + i) * n_heads + h) * d_head;
                float *row = scores + ((b * n_heads + h) * seq + i) * seq;
                for (int64_t j = 0; j <= i; j++)
                    row[j] = scale * dot(qi, k + ((b * seq + j) * n_kv_heads + h / group) * d_head, d_head);
                for (int64_t j = i + 1; j < seq; j++) row[j] = neg_inf;
            }
    return L4J_OK;
}

extern "C" int l4j_attn_apply(int64_t batch, int64_t seq, int64_t n_heads, int64_t n_kv_heads, int64_t d_head,
                              const float *pattern, const float *v, float *z) {
    L4J_CHECK(batch >= 0 && seq >= 0 && n_heads > 0 && n_kv_heads > 0 && n_heads % n_kv_heads == 0 && d_head > 0);
    L4J_CHECK(pattern && v && z);
    const int64_t group = n_heads / n_kv_heads;
    // all keys, not only j <= i: a hook may have written a non-causal pattern, and TL applies it as given
#pragma omp parallel for collapse(3) schedule(static) if (batch * n_heads * seq * seq > L4J_PAR_MIN)
    for (int64_t b = 0; b < batch; b++)
        for (int64_t i = 0; i < seq; i++)
            for (int64_t h = 0; h < n_heads; h++) {
                const float *row = pattern + ((b * n_heads + h) * seq + i) * seq;
                float *zi = z + ((b * seq + i) * n_heads + h) * d_head;
                for (int64_t d = 0; d < d_head; d++) zi[d] = 0.0f;
                for (int64_t j = 0; j < seq; j++) {
                    const float p = row[j];
                    if (p == 0.0f) continue;
                    const float *vj = v + ((b * seq + j) * n_kv_heads + h / group) * d_head;
#pragma omp simd
                    for (int64_t d = 0; d < d_head; d++) zi[d] += p * vj[d];
                }
            }
    return L4J_OK;
}

extern "C" int l4j_attention(int64_t batch, int64_t seq, int64_t n_heads, int64_t n_kv_heads, int64_t d_head,
                             const float *q, const float *k, const float *v, float scale,
                             float *z, float *scores, float *pattern) {
    L4J_CHECK(batch >= 0 && seq >= 0 && n_heads > 0 && n_kv_heads > 0 && n_heads % n_kv_heads == 0 && d_head > 0);
    L4J_CHECK(q && k && v && z);
    const int64_t group = n_heads / n_kv_heads;
    const float neg_inf = -std::numeric_limits<float>::infinity();
#pragma omp parallel if (batch * n_heads * seq * seq > L4J_PAR_MIN)
    {
        std::vector<float> buf(seq > 0 ? seq : 1);
        // dynamic: causal rows grow with i, so static chunks would be unbalanced
#pragma omp for collapse(3) schedule(dynamic, 16)
        for (int64_t b = 0; b < batch; b++)
            for (int64_t h = 0; h < n_heads; h++)
                for (int64_t i = 0; i < seq; i++) {
                    const int64_t kvh = h / group;
                    const float *qi = q + ((b * seq + i) * n_heads + h) * d_head;
                    float *s = buf.data();
                    float mx = neg_inf;
                    for (int64_t j = 0; j <= i; j++) {
                        s[j] = scale * dot(qi, k + ((b * seq + j) * n_kv_heads + kvh) * d_head, d_head);
                        mx = s[j] > mx ? s[j] : mx;
                    }
                    const int64_t row_off = ((b * n_heads + h) * seq + i) * seq;
                    if (scores) {
                        for (int64_t j = 0; j <= i; j++) scores[row_off + j] = s[j];
                        for (int64_t j = i + 1; j < seq; j++) scores[row_off + j] = neg_inf;
                    }
                    float sum = 0.0f;
                    for (int64_t j = 0; j <= i; j++) { s[j] = l4j_exp(s[j] - mx); sum += s[j]; }
                    const float inv = 1.0f / sum;
                    for (int64_t j = 0; j <= i; j++) s[j] *= inv;
                    if (pattern) {
                        for (int64_t j = 0; j <= i; j++) pattern[row_off + j] = s[j];
                        for (int64_t j = i + 1; j < seq; j++) pattern[row_off + j] = 0.0f;
                    }
                    float *zi = z + ((b * seq + i) * n_heads + h) * d_head;
                    for (int64_t d = 0; d < d_head; d++) zi[d] = 0.0f;
                    for (int64_t j = 0; j <= i; j++) {
                        const float p = s[j];
                        const float *vj = v + ((b * seq + j) * n_kv_heads + kvh) * d_head;
#pragma omp simd
                        for (int64_t d = 0; d < d_head; d++) zi[d] += p * vj[d];
                    }
                }
    }
    return L4J_OK;
}
