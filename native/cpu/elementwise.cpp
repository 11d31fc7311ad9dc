#include "common.h"

namespace {

using l4j_act::act;

template <int KIND>
void act_loop(int64_t n, const float *x, float *out) {
#pragma omp parallel for simd schedule(static) if (n > L4J_PAR_MIN)
    for (int64_t i = 0; i < n; i++) out[i] = act<KIND>(x[i]);
}

template <int KIND>
void gated_loop(int64_t n, const float *g, const float *l, float *out) {
#pragma omp parallel for simd schedule(static) if (n > L4J_PAR_MIN)
    for (int64_t i = 0; i < n; i++) out[i] = act<KIND>(g[i]) * l[i];
}
}  // namespace

extern "C" int l4j_activation(int kind, int64_t n, const float *x, float *out) {
    L4J_CHECK(n >= 0 && x && out);
    switch (kind) {
        case L4J_ACT_RELU: act_loop<L4J_ACT_RELU>(n, x, out); break;
        case L4J_ACT_GELU: act_loop<L4J_ACT_GELU>(n, x, out); break;
        case L4J_ACT_GELU_NEW: act_loop<L4J_ACT_GELU_NEW>(n, x, out); break;
        case L4J_ACT_GELU_PYTORCH_TANH: act_loop<L4J_ACT_GELU_PYTORCH_TANH>(n, x, out); break;
        case L4J_ACT_SILU: act_loop<L4J_ACT_SILU>(n, x, out); break;
        default: return L4J_ERR_UNSUPPORTED;
    }
    return L4J_OK;
}

extern "C" int l4j_gated_activation(int kind, int64_t n, const float *gate_pre, const float *linear, float *out) {
    L4J_CHECK(n >= 0 && gate_pre && linear && out);
    switch (kind) {
        case L4J_ACT_RELU: gated_loop<L4J_ACT_RELU>(n, gate_pre, linear, out); break;
        case L4J_ACT_GELU: gated_loop<L4J_ACT_GELU>(n, gate_pre, linear, out); break;
        case L4J_ACT_GELU_NEW: gated_loop<L4J_ACT_GELU_NEW>(n, gate_pre, linear, out); break;
        case L4J_ACT_GELU_PYTORCH_TANH: gated_loop<L4J_ACT_GELU_PYTORCH_TANH>(n, gate_pre, linear, out); break;
        case L4J_ACT_SILU: gated_loop<L4J_ACT_SILU>(n, gate_pre, linear, out); break;
        default: return L4J_ERR_UNSUPPORTED;
    }
    return L4J_OK;
}

extern "C" int l4j_add(int64_t n, const float *a, const float *b, float *out) {
    L4J_CHECK(n >= 0 && a && b && out);
#pragma omp parallel for simd schedule(static) if (n > L4J_PAR_MIN)
    for (int64_t i = 0; i < n; i++) out[i] = a[i] + b[i];
    return L4J_OK;
}

extern "C" int l4j_scale_cols(int64_t rows, int64_t d, const float *x, const float *w, float *out) {
    L4J_CHECK(rows >= 0 && d > 0 && x && w && out);
#pragma omp parallel for schedule(static) if (rows * d > L4J_PAR_MIN)
    for (int64_t r = 0; r < rows; r++)
        for (int64_t i = 0; i < d; i++) out[r * d + i] = x[r * d + i] * w[i];
    return L4J_OK;
}

extern "C" int l4j_add_bias(int64_t rows, int64_t d, const float *x, const float *bias, float *out) {
    L4J_CHECK(rows >= 0 && d > 0 && x && bias && out);
#pragma omp parallel for schedule(static) if (rows * d > L4J_PAR_MIN)
    for (int64_t r = 0; r < rows; r++)
        for (int64_t i = 0; i < d; i++) out[r * d + i] = x[r * d + i] + bias[i];
    return L4J_OK;
}
