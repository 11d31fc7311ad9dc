#include "common.h"
#include "backward.h"

// sin_sign -1 rotates by minus the angle: the transpose, which is the backward pass (backward_rotary.cpp).
int l4j_rotary_signed(int64_t batch, int64_t seq, int64_t n_heads, int64_t d_head, int64_t rotary_dim,
                      int64_t offset, const float *cos_t, const float *sin_t, int64_t n_ctx, int adjacent_pairs,
                      const float *x, float *out, float sin_sign) {
    L4J_CHECK(batch >= 0 && seq >= 0 && n_heads > 0 && d_head > 0 && x && out && cos_t && sin_t);
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
                const float *xi = x + base;
                float *o = out + base;
                if (adjacent_pairs) {
                    for (int64_t i = 0; i < half; i++) {
                        const float x0 = xi[2 * i], x1 = xi[2 * i + 1];
                        o[2 * i] = x0 * c[i] - x1 * sin_sign * s[i];
                        o[2 * i + 1] = x1 * c[i] + x0 * sin_sign * s[i];
                    }
                } else {
                    for (int64_t i = 0; i < half; i++) {
                        const float x0 = xi[i], x1 = xi[i + half];
                        o[i] = x0 * c[i] - x1 * sin_sign * s[i];
                        o[i + half] = x1 * c[i] + x0 * sin_sign * s[i];
                    }
                }
                if (o != xi)
                    for (int64_t i = rotary_dim; i < d_head; i++) o[i] = xi[i];
            }
        }
    }
    return L4J_OK;
}

extern "C" int l4j_rotary(int64_t batch, int64_t seq, int64_t n_heads, int64_t d_head, int64_t rotary_dim,
                          int64_t offset, const float *cos_t, const float *sin_t, int64_t n_ctx, int adjacent_pairs,
                          const float *x, float *out) {
    return l4j_rotary_signed(batch, seq, n_heads, d_head, rotary_dim, offset, cos_t, sin_t, n_ctx, adjacent_pairs, x, out, 1.0f);
}
