// Backward of rotary embeddings: the transpose (= inverse) rotation. See lens4j.h "backward".
#include "backward.h"

extern "C" int l4j_rotary_backward(int64_t batch, int64_t seq, int64_t n_heads, int64_t d_head, int64_t rotary_dim,
                                   int64_t offset, const float *cos_t, const float *sin_t, int64_t n_ctx,
                                   int adjacent_pairs, const float *dout, float *dx) {
    L4J_CHECK(batch >= 0 && seq >= 0 && n_heads > 0 && d_head > 0 && dout && dx && cos_t && sin_t);
    L4J_CHECK(rotary_dim > 0 && rotary_dim % 2 == 0 && rotary_dim <= d_head && offset >= 0);
    if (offset + seq > n_ctx) return L4J_ERR_RANGE;
    const int64_t half = rotary_dim / 2;
#pragma omp parallel for collapse(2) schedule(static) if (batch * seq * n_heads * d_head > L4J_PAR_MIN)
    for (int64_t b = 0; b < batch; b++) {
        for (int64_t p = 0; p < seq; p++) {
            const float *c = cos_t + (p + offset) * half;
            const float *s = sin_t + (p + offset) * half;
            for (int64_t h = 0; h < n_heads; h++) {
                const int64_t base = ((b * seq + p) * n_heads + h) * d_head;
                const float *gi = dout + base;
                float *o = dx + base;
                // forward (o0, o1) = (x0 c - x1 s, x1 c + x0 s); transpose: (g0 c + g1 s, g1 c - g0 s)
                if (adjacent_pairs) {
                    for (int64_t i = 0; i < half; i++) {
                        const float g0 = gi[2 * i], g1 = gi[2 * i + 1];
                        o[2 * i] = g0 * c[i] + g1 * s[i];
                        o[2 * i + 1] = g1 * c[i] - g0 * s[i];
                    }
                } else {
                    for (int64_t i = 0; i < half; i++) {
                        const float g0 = gi[i], g1 = gi[i + half];
                        o[i] = g0 * c[i] + g1 * s[i];
                        o[i + half] = g1 * c[i] - g0 * s[i];
                    }
                }
                if (o != gi)
                    for (int64_t i = rotary_dim; i < d_head; i++) o[i] = gi[i];
            }
        }
    }
    return L4J_OK;
}
