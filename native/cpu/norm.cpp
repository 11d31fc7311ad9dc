#include "common.h"

extern "C" int l4j_layernorm(int64_t rows, int64_t d, const float *x, const float *w, const float *b, float eps,
                             float *out, float *scale) {
    L4J_CHECK(rows >= 0 && d > 0 && x && out);
#pragma omp parallel for schedule(static) if (rows * d > L4J_PAR_MIN)
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = x + r * d;
        float *o = out + r * d;
        double sum = 0;
        for (int64_t i = 0; i < d; i++) sum += xr[i];
        const float mean = (float)(sum / d);
        double sq = 0;
        for (int64_t i = 0; i < d; i++) { const float c = xr[i] - mean; sq += (double)c * c; }
        const float s = (float)std::sqrt(sq / d + eps);
        const float inv = 1.0f / s;
        if (scale) scale[r] = s;
        if (w && b)      for (int64_t i = 0; i < d; i++) o[i] = (xr[i] - mean) * inv * w[i] + b[i];
        else if (w)      for (int64_t i = 0; i < d; i++) o[i] = (xr[i] - mean) * inv * w[i];
        else if (b)      for (int64_t i = 0; i < d; i++) o[i] = (xr[i] - mean) * inv + b[i];
        else             for (int64_t i = 0; i < d; i++) o[i] = (xr[i] - mean) * inv;
    }
    return L4J_OK;
}

extern "C" int l4j_rmsnorm(int64_t rows, int64_t d, const float *x, const float *w, float eps,
                           float *out, float *scale, float *normalized) {
    L4J_CHECK(rows >= 0 && d > 0 && x && out);
#pragma omp parallel for schedule(static) if (rows * d > L4J_PAR_MIN)
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = x + r * d;
        float *o = out + r * d;
        double sq = 0;
        for (int64_t i = 0; i < d; i++) sq += (double)xr[i] * xr[i];
        const float s = (float)std::sqrt(sq / d + eps);
        const float inv = 1.0f / s;
        if (scale) scale[r] = s;
        if (normalized) {
            float *nr = normalized + r * d;
            for (int64_t i = 0; i < d; i++) nr[i] = xr[i] * inv;
        }
        if (w) for (int64_t i = 0; i < d; i++) o[i] = xr[i] * inv * w[i];
        else   for (int64_t i = 0; i < d; i++) o[i] = xr[i] * inv;
    }
    return L4J_OK;
}
