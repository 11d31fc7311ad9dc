// Backward of activations, gated activations and scale_cols. See lens4j.h "backward".
#include "backward.h"

namespace {
using l4j_act::act;
using l4j_act::kSqrt2OverPi;
using l4j_act::kInvSqrt2;
constexpr float kInvSqrt2Pi = 0.3989422804014327f;

inline float clampf(float x, float lo, float hi) { return x < lo ? lo : (x > hi ? hi : x); }  // NaN passes


// act'(x). Inputs are clamped where the derivative has reached 0 or 1 in float, so huge or infinite x
// give 0 or 1 instead of inf * 0 = NaN; branch-free so the loops vectorise.
template <int KIND>
inline float dact(float x) {
    if constexpr (KIND == L4J_ACT_RELU) {
        return x > 0.0f ? 1.0f : 0.0f;  // torch: relu'(0) = 0
    } else if constexpr (KIND == L4J_ACT_GELU) {
        const float z = clampf(x, -20.0f, 20.0f);  // Phi(z) + z phi(z)
        return 0.5f * (1.0f + l4j_erf(z * kInvSqrt2)) + z * kInvSqrt2Pi * l4j_exp(-0.5f * z * z);
    } else if constexpr (KIND == L4J_ACT_GELU_NEW || KIND == L4J_ACT_GELU_PYTORCH_TANH) {
        const float z = clampf(x, -20.0f, 20.0f);
        const float u = kSqrt2OverPi * (z + 0.044715f * z * z * z);
        // tanh and sech^2 from e = exp(-2|u|) in (0, 1]: no overflow and no 1 - t^2 cancellation
        const float e = l4j_exp(-2.0f * std::fabs(u)), inv = 1.0f / (1.0f + e);
        const float ta = (1.0f - e) * inv, t = u < 0.0f ? -ta : ta, sech2 = 4.0f * e * inv * inv;
        return 0.5f * (1.0f + t) + 0.5f * z * sech2 * kSqrt2OverPi * (1.0f + 3.0f * 0.044715f * z * z);
    } else {  // silu: s (1 + x (1 - s)), with 1 - s = e s for e = exp(-x) (exact for large x)
        const float z = clampf(x, -80.0f, 80.0f);
        const float e = l4j_exp(-z), s = 1.0f / (1.0f + e);
        return s * (1.0f + z * e * s);
    }
}

template <int KIND>
void dact_loop(int64_t n, const float *x, const float *g, float *dx) {
#pragma omp parallel for simd schedule(static) if (n > L4J_PAR_MIN)
    for (int64_t i = 0; i < n; i++) dx[i] = g[i] * dact<KIND>(x[i]);
}

template <int KIND>
void gated_loop(int64_t n, const float *gp, const float *lin, const float *g, float *dgate, float *dlin) {
    if (dgate && dlin) {
#pragma omp parallel for simd schedule(static) if (n > L4J_PAR_MIN)
        for (int64_t i = 0; i < n; i++) {
            const float gi = g[i];  // read before either write: both may alias dout
            const float a = act<KIND>(gp[i]), da = dact<KIND>(gp[i]);
            dgate[i] = gi * lin[i] * da;
            dlin[i] = gi * a;
        }
    } else if (dgate) {
#pragma omp parallel for simd schedule(static) if (n > L4J_PAR_MIN)
        for (int64_t i = 0; i < n; i++) dgate[i] = g[i] * lin[i] * dact<KIND>(gp[i]);
    } else if (dlin) {
#pragma omp parallel for simd schedule(static) if (n > L4J_PAR_MIN)
        for (int64_t i = 0; i < n; i++) dlin[i] = g[i] * act<KIND>(gp[i]);
    }
}
}  // namespace

extern "C" int l4j_activation_backward(int kind, int64_t n, const float *x, const float *dout, float *dx) {
    L4J_CHECK(n >= 0 && x && dout && dx);
    switch (kind) {
        case L4J_ACT_RELU: dact_loop<L4J_ACT_RELU>(n, x, dout, dx); break;
        case L4J_ACT_GELU: dact_loop<L4J_ACT_GELU>(n, x, dout, dx); break;
        case L4J_ACT_GELU_NEW: dact_loop<L4J_ACT_GELU_NEW>(n, x, dout, dx); break;
        case L4J_ACT_GELU_PYTORCH_TANH: dact_loop<L4J_ACT_GELU_PYTORCH_TANH>(n, x, dout, dx); break;
        case L4J_ACT_SILU: dact_loop<L4J_ACT_SILU>(n, x, dout, dx); break;
        default: return L4J_ERR_UNSUPPORTED;
    }
    return L4J_OK;
}

extern "C" int l4j_gated_activation_backward(int kind, int64_t n, const float *gate_pre, const float *linear,
                                             const float *dout, float *dgate, float *dlinear) {
    L4J_CHECK(n >= 0 && gate_pre && linear && dout);
    switch (kind) {
        case L4J_ACT_RELU: gated_loop<L4J_ACT_RELU>(n, gate_pre, linear, dout, dgate, dlinear); break;
        case L4J_ACT_GELU: gated_loop<L4J_ACT_GELU>(n, gate_pre, linear, dout, dgate, dlinear); break;
        case L4J_ACT_GELU_NEW: gated_loop<L4J_ACT_GELU_NEW>(n, gate_pre, linear, dout, dgate, dlinear); break;
        case L4J_ACT_GELU_PYTORCH_TANH: gated_loop<L4J_ACT_GELU_PYTORCH_TANH>(n, gate_pre, linear, dout, dgate, dlinear); break;
        case L4J_ACT_SILU: gated_loop<L4J_ACT_SILU>(n, gate_pre, linear, dout, dgate, dlinear); break;
        default: return L4J_ERR_UNSUPPORTED;
    }
    return L4J_OK;
}

extern "C" int l4j_scale_cols_backward(int64_t rows, int64_t d, const float *x, const float *w, const float *dout,
                                       float *dx, float *dw) {
    L4J_CHECK(rows >= 0 && d > 0 && x && w && dout);
    // dw first: dx may alias dout
    if (dw) l4j_col_reduce(rows, d, dw, [=](int64_t r, int64_t c) { return dout[r * d + c] * x[r * d + c]; });
    if (dx) {
#pragma omp parallel for schedule(static) if (rows * d > L4J_PAR_MIN)
        for (int64_t r = 0; r < rows; r++)
            for (int64_t i = 0; i < d; i++) dx[r * d + i] = dout[r * d + i] * w[i];
    }
    return L4J_OK;
}
