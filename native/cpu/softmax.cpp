#include "common.h"
#include <limits>

namespace {
// Partial sums: 32 float lanes (four AVX2 accumulators) over chunks of 256 elements, each chunk added to a double
// total. Vectorised, and about as accurate as summing in double (each float partial adds only 8 terms).
constexpr int64_t P = 32, CHUNK = 256;

inline float row_max(const float *x, int64_t n) {
    float m = -std::numeric_limits<float>::infinity();
#pragma omp simd reduction(max : m)
    for (int64_t i = 0; i < n; i++) m = x[i] > m ? x[i] : m;
    return m;
}

// sum(exp(x - m)); when out != nullptr also stores each exp(x - m) there
template <bool STORE>
inline double sum_exp_shifted(const float *x, int64_t n, float m, float *out) {
    double total = 0;
    int64_t i = 0;
    for (; i + CHUNK <= n; i += CHUNK) {
        float acc[P] = {};
        for (int64_t c = 0; c < CHUNK; c += P)
#pragma omp simd
            for (int64_t l = 0; l < P; l++) {
                const float e = l4j_exp(x[i + c + l] - m);
                if (STORE) out[i + c + l] = e;
                acc[l] += e;
            }
        float s = 0;
        for (int64_t l = 0; l < P; l++) s += acc[l];
        total += s;
    }
    float acc[P] = {};
    for (; i + P <= n; i += P)
#pragma omp simd
        for (int64_t l = 0; l < P; l++) {
            const float e = l4j_exp(x[i + l] - m);
            if (STORE) out[i + l] = e;
            acc[l] += e;
        }
    for (; i < n; i++) {
        const float e = l4j_exp(x[i] - m);
        if (STORE) out[i] = e;
        total += e;
    }
    for (int64_t l = 0; l < P; l++) total += acc[l];
    return total;
}

// log(sum(exp(x - max))). Callers form (x - max) - lse rather than x - (max + lse): that keeps precision for
// large logits, as torch does.
inline float log_sum_exp_shifted(const float *x, int64_t n, float m) {
    return (float)std::log(sum_exp_shifted<false>(x, n, m, nullptr));
}
}  // namespace

extern "C" int l4j_softmax(int64_t rows, int64_t n, const float *x, float *out) {
    L4J_CHECK(rows >= 0 && n > 0 && x && out);
#pragma omp parallel for schedule(static) if (rows * n > L4J_PAR_MIN)
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = x + r * n;
        float *o = out + r * n;
        const float m = row_max(xr, n);
        if (m == -std::numeric_limits<float>::infinity()) {  // every entry masked: zeros (TL's NaN -> 0)
            for (int64_t i = 0; i < n; i++) o[i] = 0.0f;
            continue;
        }
        const float inv = (float)(1.0 / sum_exp_shifted<true>(xr, n, m, o));
#pragma omp simd
        for (int64_t i = 0; i < n; i++) o[i] *= inv;
    }
    return L4J_OK;
}

extern "C" int l4j_log_softmax(int64_t rows, int64_t n, const float *x, float *out) {
    L4J_CHECK(rows >= 0 && n > 0 && x && out);
#pragma omp parallel for schedule(static) if (rows * n > L4J_PAR_MIN)
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = x + r * n;
        float *o = out + r * n;
        const float m = row_max(xr, n), lse = log_sum_exp_shifted(xr, n, m);
#pragma omp simd
        for (int64_t i = 0; i < n; i++) o[i] = (xr[i] - m) - lse;
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
