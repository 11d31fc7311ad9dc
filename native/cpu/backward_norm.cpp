// Backward of LayerNorm and RMSNorm (TransformerLens semantics; see lens4j.h "backward").
#include "backward.h"
#include <new>
#include <vector>

namespace {
// The forward's mean, as norm.cpp computes it (double sum, rounded to float).
inline float row_mean(const float *xr, int64_t d) {
    double sum = 0;
    for (int64_t i = 0; i < d; i++) sum += xr[i];
    return (float)(sum / d);
}
}  // namespace

extern "C" int l4j_layernorm_backward(int64_t rows, int64_t d, const float *x, const float *w, const float *scale,
                                      const float *dout, float *dx, float *dw, float *db, float *dscale) {
    L4J_CHECK(rows >= 0 && d > 0 && x && scale && dout);
    try {
        std::vector<float> mean((size_t)rows);
#pragma omp parallel for schedule(static) if (rows * d > L4J_PAR_MIN)
        for (int64_t r = 0; r < rows; r++) mean[r] = row_mean(x + r * d, d);
        const float *m = mean.data();
        // weight gradients first: dx may alias dout
        if (dw) l4j_col_reduce(rows, d, dw, [=](int64_t r, int64_t c) { return dout[r * d + c] * ((x[r * d + c] - m[r]) / scale[r]); });
        if (db) l4j_col_reduce(rows, d, db, [=](int64_t r, int64_t c) { return dout[r * d + c]; });
        if (!dx && !dscale) return L4J_OK;
        // g = dout * w, rounded once and kept per thread: recomputing it could round differently (FMA
        // contraction), and g - mean(g) must cancel exactly where the row is constant (d = 1, scale = sqrt(eps)).
        const int nt = omp_get_max_threads();
        std::vector<float> gbuf((size_t)nt * d);
        const bool par = rows * d > L4J_PAR_MIN;
#pragma omp parallel for schedule(static) if (par)
        for (int64_t r = 0; r < rows; r++) {
            const float *xr = x + r * d, *gr = dout + r * d;
            float *g = gbuf.data() + (par ? omp_get_thread_num() : 0) * d;
            const float inv = 1.0f / scale[r], mu = m[r];
            // n = xc / scale; G = sum g, A = sum g n, N = sum n (0 up to rounding)
            double G = 0, A = 0, N = 0;
            for (int64_t i = 0; i < d; i++) {
                g[i] = w ? gr[i] * w[i] : gr[i];
                const float n = (xr[i] - mu) * inv;
                G += g[i]; A += (double)g[i] * n; N += n;
            }
            if (dscale) dscale[r] = (float)(-A * inv);
            if (dx) {
                // d/dxc = (g - n A/d) / scale; minus its mean for the centring: (g - G/d - A/d (n - N/d)) / scale
                const float gm = (float)(G / d), a = (float)(A / d), nm = (float)(N / d);
                float *o = dx + r * d;
                for (int64_t i = 0; i < d; i++) o[i] = inv * ((g[i] - gm) - a * ((xr[i] - mu) * inv - nm));
            }
        }
    } catch (const std::bad_alloc &) {
        return L4J_ERR_NOMEM;
    }
    return L4J_OK;
}

extern "C" int l4j_rmsnorm_backward(int64_t rows, int64_t d, const float *x, const float *w, const float *scale,
                                    const float *dout, float *dx, float *dw, float *dnormalized, float *dscale) {
    L4J_CHECK(rows >= 0 && d > 0 && x && scale && dout);
    // weight gradient first: dx may alias dout
    if (dw) l4j_col_reduce(rows, d, dw, [=](int64_t r, int64_t c) { return dout[r * d + c] * (x[r * d + c] / scale[r]); });
    if (!dx && !dscale && !dnormalized) return L4J_OK;
#pragma omp parallel for schedule(static) if (rows * d > L4J_PAR_MIN)
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = x + r * d, *gr = dout + r * d;
        const float inv = 1.0f / scale[r];
        double A = 0;  // sum g n with g = dout * w, n = x / scale
        for (int64_t i = 0; i < d; i++) A += (double)(w ? gr[i] * w[i] : gr[i]) * (xr[i] * inv);
        if (dscale) dscale[r] = (float)(-A * inv);
        const float a = (float)(A / d);
        float *o = dx ? dx + r * d : nullptr, *dn = dnormalized ? dnormalized + r * d : nullptr;
        for (int64_t i = 0; i < d; i++) {
            const float g = w ? gr[i] * w[i] : gr[i];
            if (o) o[i] = inv * (g - xr[i] * inv * a);  // written after g is read: dx may alias dout
            if (dn) dn[i] = g;
        }
    }
    return L4J_OK;
}
