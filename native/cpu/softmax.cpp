#include "common.h"
#include <limits>

namespace {
inline float row_max(const float *x, int64_t n) {
    float m = -std::numeric_limits<float>::infinity();
    for (int64_t i = 0; i < n; i++) m = x[i] > m ? x[i] : m;
    return m;
}
// log(sum(exp(x - max))), summed in double so long vocabularies keep precision. Callers form
// (x - max) - lse rather than x - (max + lse): that keeps precision for large logits, as torch does.
inline float log_sum_exp_shifted(const float *x, int64_t n, float m) {
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += l4j_exp(x[i] - m);
    return (float)std::log(s);
}
}  // namespace

extern "C" int l4j_softmax(int64_t rows, int64_t n, const float *x, float *out) {
    L4J_CHECK(rows >= 0 && n > 0 && x && out);
#pragma omp parallel for schedule(static) if (rows * n > L4J_PAR_MIN)
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = x + r * n;
        float *o = out + r * n;
        const float m = row_max(xr, n);
        float s = 0.0f;
        for (int64_t i = 0; i < n; i++) { o[i] = l4j_exp(xr[i] - m); s += o[i]; }
        const float inv = 1.0f / s;
        for (int64_t i = 0; i < n; i++) o[i] *= inv;
    }
    return L4J_OK;
}

extern "C" int l4j_log_softmax(int64_t rows, int64_t n, const float *x, float *out) {
    L4J_CHECK(rows >= 0 && n > 0 && x && out);
#pragma omp parallel for schedule(static) if (rows * n > L4J_PAR_MIN)
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = x + r * n;
        const float m = row_max(xr, n), lse = log_sum_exp_shifted(xr, n, m);
        for (int64_t i = 0; i < n; i++) out[r * n + i] = (xr[i] - m) - lse;
    }
    return L4J_OK;
}

extern "C" int l4j_cross_entropy(int64_t rows, int64_t n, const float *logits, const int32_t *targets, float *loss) {
    L4J_CHECK(rows >= 0 && n > 0 && logits && targets && loss);
    for (int64_t r = 0; r < rows; r++)
        if (targets[r] < 0 || targets[r] >= n) return L4J_ERR_RANGE;
#pragma omp parallel for schedule(static) if (rows * n > L4J_PAR_MIN)
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = logits + r * n;
        const float m = row_max(xr, n);
        loss[r] = log_sum_exp_shifted(xr, n, m) - (xr[targets[r]] - m);
    }
    return L4J_OK;
}
