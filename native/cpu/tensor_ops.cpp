// General tensor operations for analysis code (see lens4j_ops.h): strided gathers, broadcast arithmetic,
// reductions along a dimension, top-k, softmax along a dimension, cosine similarity.
#include "common.h"
#include "lens4j_ops.h"
#include "binary_op.h"
#include <algorithm>
#include <limits>
#include <vector>

namespace {
bool dims_ok(int ndim, const int64_t *shape) {
    if (ndim < 0 || ndim > L4J_OPS_MAX_DIMS || (ndim > 0 && !shape)) return false;
    for (int d = 0; d < ndim; d++) if (shape[d] < 0) return false;
    return true;
}

int64_t count(int ndim, const int64_t *shape) {
    int64_t n = 1;
    for (int d = 0; d < ndim; d++) n *= shape[d];
    return n;
}

// Source offset of the flat output index i.
inline int64_t offset_of(int64_t i, int ndim, const int64_t *shape, const int64_t *strides) {
    int64_t off = 0;
    for (int d = ndim - 1; d >= 0; d--) {
        const int64_t idx = i % shape[d];
        i /= shape[d];
        off += idx * strides[d];
    }
    return off;
}

inline float apply(int op, float a, float b) { return l4j_binary_op(op, a, b); }
}  // namespace

extern "C" int l4j_strided_copy(int ndim, const int64_t *shape, const int64_t *strides, int64_t offset,
                                const float *src, float *out) {
    L4J_CHECK(dims_ok(ndim, shape) && (ndim == 0 || strides) && offset >= 0);
    const int64_t n = count(ndim, shape);
    if (n == 0) return L4J_OK;
    L4J_CHECK(src && out);
    for (int d = 0; d < ndim; d++) L4J_CHECK(strides[d] >= 0);
#pragma omp parallel for schedule(static) if (n > L4J_PAR_MIN)
    for (int64_t i = 0; i < n; i++) out[i] = src[offset + offset_of(i, ndim, shape, strides)];
    return L4J_OK;
}

extern "C" int l4j_index_select(int64_t outer, int64_t n, int64_t inner, const float *src, int64_t k,
                                const int32_t *idx, float *out) {
    L4J_CHECK(outer >= 0 && n >= 0 && inner >= 0 && k >= 0);
    if (outer == 0 || inner == 0 || k == 0) return L4J_OK;
    L4J_CHECK(src && idx && out);
    for (int64_t j = 0; j < k; j++) if (idx[j] < 0 || idx[j] >= n) return L4J_ERR_RANGE;
#pragma omp parallel for schedule(static) if (outer * k * inner > L4J_PAR_MIN)
    for (int64_t o = 0; o < outer; o++)
        for (int64_t j = 0; j < k; j++)
            std::memcpy(out + (o * k + j) * inner, src + (o * n + idx[j]) * inner, sizeof(float) * inner);
    return L4J_OK;
}

extern "C" int l4j_binary(int op, int ndim, const int64_t *shape, const float *a, const int64_t *a_strides,
                          const float *b, const int64_t *b_strides, float *out) {
    L4J_CHECK(op >= L4J_BIN_ADD && op <= L4J_BIN_MIN && dims_ok(ndim, shape) && (ndim == 0 || (a_strides && b_strides)));
    const int64_t n = count(ndim, shape);
    if (n == 0) return L4J_OK;
    L4J_CHECK(a && b && out);
#pragma omp parallel for schedule(static) if (n > L4J_PAR_MIN)
    for (int64_t i = 0; i < n; i++)
        out[i] = apply(op, a[offset_of(i, ndim, shape, a_strides)], b[offset_of(i, ndim, shape, b_strides)]);
    return L4J_OK;
}

extern "C" int l4j_unary(int op, int64_t n, const float *x, float *out) {
    L4J_CHECK(op >= L4J_UN_NEG && op <= L4J_UN_SQUARE && n >= 0);
    if (n == 0) return L4J_OK;
    L4J_CHECK(x && out);
#pragma omp parallel for schedule(static) if (n > L4J_PAR_MIN)
    for (int64_t i = 0; i < n; i++) {
        const float v = x[i];
        switch (op) {
            case L4J_UN_NEG: out[i] = -v; break;
            case L4J_UN_EXP: out[i] = std::exp(v); break;
            case L4J_UN_LOG: out[i] = std::log(v); break;
            case L4J_UN_ABS: out[i] = std::fabs(v); break;
            case L4J_UN_SQRT: out[i] = std::sqrt(v); break;
            default: out[i] = v * v;
        }
    }
    return L4J_OK;
}

extern "C" int l4j_reduce(int op, int64_t outer, int64_t n, int64_t inner, const float *x, float *out) {
    L4J_CHECK(op >= L4J_RED_SUM && op <= L4J_RED_NORM2 && outer >= 0 && n >= 0 && inner >= 0);
    if ((op == L4J_RED_MAX || op == L4J_RED_MIN) && n == 0 && outer * inner > 0) return L4J_ERR_ARG;  // no identity
    if (outer * inner == 0) return L4J_OK;
    L4J_CHECK(out && (n == 0 || x));
#pragma omp parallel for schedule(static) if (outer * n * inner > L4J_PAR_MIN)
    for (int64_t oi = 0; oi < outer * inner; oi++) {
        const int64_t o = oi / inner, i = oi % inner;
        const float *p = x + o * n * inner + i;
        if (op == L4J_RED_MAX || op == L4J_RED_MIN) {
            float best = p[0];
            for (int64_t j = 1; j < n; j++) best = apply(op == L4J_RED_MAX ? L4J_BIN_MAX : L4J_BIN_MIN, best, p[j * inner]);
            out[oi] = best;
        } else {
            double s = 0;
            for (int64_t j = 0; j < n; j++) {
                const double v = p[j * inner];
                s += op == L4J_RED_NORM2 ? v * v : v;
            }
            out[oi] = op == L4J_RED_MEAN ? (float)(s / (double)n) : op == L4J_RED_NORM2 ? (float)std::sqrt(s) : (float)s;
        }
    }
    return L4J_OK;
}

extern "C" int l4j_arg_reduce(int want_max, int64_t outer, int64_t n, int64_t inner, const float *x, int32_t *out) {
    L4J_CHECK(outer >= 0 && n > 0 && n <= INT32_MAX && inner >= 0);
    if (outer * inner == 0) return L4J_OK;
    L4J_CHECK(x && out);
#pragma omp parallel for schedule(static) if (outer * n * inner > L4J_PAR_MIN)
    for (int64_t oi = 0; oi < outer * inner; oi++) {
        const int64_t o = oi / inner, i = oi % inner;
        const float *p = x + o * n * inner + i;
        int64_t best = 0;
        for (int64_t j = 1; j < n && p[best * inner] == p[best * inner]; j++) {
            const float v = p[j * inner], b = p[best * inner];
            if (v != v || (want_max ? v > b : v < b)) best = j;
        }
        out[oi] = (int32_t)best;
    }
    return L4J_OK;
}

extern "C" int l4j_topk(int64_t outer, int64_t n, int64_t inner, int64_t k, const float *x, float *values, int32_t *indices) {
    L4J_CHECK(outer >= 0 && n >= 0 && n <= INT32_MAX && inner >= 0 && k >= 0 && k <= n);
    if (outer * inner == 0 || k == 0) return L4J_OK;
    L4J_CHECK(x && values && indices);
    try {
#pragma omp parallel
        {
            std::vector<int32_t> order((size_t)n);
#pragma omp for schedule(static)
            for (int64_t oi = 0; oi < outer * inner; oi++) {
                const int64_t o = oi / inner, i = oi % inner;
                const float *p = x + o * n * inner + i;
                for (int64_t j = 0; j < n; j++) order[(size_t)j] = (int32_t)j;
                // descending, NaN first (as the largest), ties to the lower index
                auto before = [&](int32_t a, int32_t b) {
                    const float va = p[(int64_t)a * inner], vb = p[(int64_t)b * inner];
                    const bool na = va != va, nb = vb != vb;
                    if (na != nb) return na;
                    if (!na && va != vb) return va > vb;
                    return a < b;
                };
                std::partial_sort(order.begin(), order.begin() + k, order.end(), before);
                for (int64_t j = 0; j < k; j++) {
                    const int64_t at = (o * k + j) * inner + i;
                    values[at] = p[(int64_t)order[(size_t)j] * inner];
                    indices[at] = order[(size_t)j];
                }
            }
        }
    } catch (const std::bad_alloc &) {
        return L4J_ERR_NOMEM;
    }
    return L4J_OK;
}

extern "C" int l4j_softmax_dim(int log, int64_t outer, int64_t n, int64_t inner, const float *x, float *out) {
    L4J_CHECK(outer >= 0 && n >= 0 && inner >= 0);
    if (outer * n * inner == 0) return L4J_OK;
    L4J_CHECK(x && out);
#pragma omp parallel for schedule(static) if (outer * n * inner > L4J_PAR_MIN)
    for (int64_t oi = 0; oi < outer * inner; oi++) {
        const int64_t o = oi / inner, i = oi % inner, base = o * n * inner + i;
        float m = -std::numeric_limits<float>::infinity();
        for (int64_t j = 0; j < n; j++) m = std::max(m, x[base + j * inner]);
        double z = 0;
        for (int64_t j = 0; j < n; j++) z += std::exp((double)x[base + j * inner] - m);
        const double lz = std::log(z);
        for (int64_t j = 0; j < n; j++) {
            const double v = (double)x[base + j * inner] - m;
            out[base + j * inner] = (float)(log ? v - lz : std::exp(v - lz));
        }
    }
    return L4J_OK;
}

extern "C" int l4j_cosine_dim(int64_t outer, int64_t n, int64_t inner, const float *a, const float *b, float eps, float *out) {
    L4J_CHECK(outer >= 0 && n >= 0 && inner >= 0 && eps >= 0);
    if (outer * inner == 0) return L4J_OK;
    L4J_CHECK(out && (n == 0 || (a && b)));
#pragma omp parallel for schedule(static) if (outer * n * inner > L4J_PAR_MIN)
    for (int64_t oi = 0; oi < outer * inner; oi++) {
        const int64_t o = oi / inner, i = oi % inner, base = o * n * inner + i;
        double ab = 0, aa = 0, bb = 0;
        for (int64_t j = 0; j < n; j++) {
            const double u = a[base + j * inner], v = b[base + j * inner];
            ab += u * v; aa += u * u; bb += v * v;
        }
        out[oi] = (float)(ab / (std::max(std::sqrt(aa), (double)eps) * std::max(std::sqrt(bb), (double)eps)));
    }
    return L4J_OK;
}
