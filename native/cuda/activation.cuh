// The activation functions and torch's derivatives of them, on the device: the formulas of native/cpu/common.h
// (l4j_act::act) and backward_elementwise.cpp (dact) with CUDA's expf / erff / tanhf.
#pragma once
#include "l4jc.cuh"

namespace l4jc_act {
constexpr float kSqrt2OverPi = 0.7978845608028654f;
constexpr float kInvSqrt2 = 0.7071067811865476f;
constexpr float kInvSqrt2Pi = 0.3989422804014327f;

__device__ __forceinline__ float clampf(float x, float lo, float hi) { return x < lo ? lo : (x > hi ? hi : x); }  // NaN passes

template <int KIND>
__device__ __forceinline__ float act(float x) {
    if constexpr (KIND == L4J_ACT_RELU) return x > 0.0f ? x : 0.0f;
    else if constexpr (KIND == L4J_ACT_GELU) return 0.5f * x * (1.0f + erff(x * kInvSqrt2));
    else if constexpr (KIND == L4J_ACT_GELU_NEW || KIND == L4J_ACT_GELU_PYTORCH_TANH)
        return 0.5f * x * (1.0f + tanhf(kSqrt2OverPi * (x + 0.044715f * x * x * x)));
    else return x / (1.0f + expf(-x));  // silu
}

// act'(x); inputs clamped where the derivative has reached 0 or 1 in float, so huge or infinite x give 0 or 1
// instead of inf * 0 = NaN (as the CPU twin)
template <int KIND>
__device__ __forceinline__ float dact(float x) {
    if constexpr (KIND == L4J_ACT_RELU) {
        return x > 0.0f ? 1.0f : 0.0f;  // torch: relu'(0) = 0
    } else if constexpr (KIND == L4J_ACT_GELU) {
        const float z = clampf(x, -20.0f, 20.0f);  // Phi(z) + z phi(z)
        return 0.5f * (1.0f + erff(z * kInvSqrt2)) + z * kInvSqrt2Pi * expf(-0.5f * z * z);
    } else if constexpr (KIND == L4J_ACT_GELU_NEW || KIND == L4J_ACT_GELU_PYTORCH_TANH) {
        const float z = clampf(x, -20.0f, 20.0f);
        const float u = kSqrt2OverPi * (z + 0.044715f * z * z * z);
        // tanh and sech^2 from e = exp(-2|u|) in (0, 1]: no overflow and no 1 - t^2 cancellation
        const float e = expf(-2.0f * fabsf(u)), inv = 1.0f / (1.0f + e);
        const float ta = (1.0f - e) * inv, t = u < 0.0f ? -ta : ta, sech2 = 4.0f * e * inv * inv;
        return 0.5f * (1.0f + t) + 0.5f * z * sech2 * kSqrt2OverPi * (1.0f + 3.0f * 0.044715f * z * z);
    } else {  // silu: s (1 + x (1 - s)), with 1 - s = e s for e = exp(-x) (exact for large x)
        const float z = clampf(x, -80.0f, 80.0f);
        const float e = expf(-z), s = 1.0f / (1.0f + e);
        return s * (1.0f + z * e * s);
    }
}
}  // namespace l4jc_act

// kernel<KIND> for a run-time activation kind; nullptr for an unknown one
#define L4JC_ACT_KERNEL(kernel, kind)                                                        \
    ((kind) == L4J_ACT_RELU ? &kernel<L4J_ACT_RELU>                                          \
     : (kind) == L4J_ACT_GELU ? &kernel<L4J_ACT_GELU>                                        \
     : (kind) == L4J_ACT_GELU_NEW ? &kernel<L4J_ACT_GELU_NEW>                                \
     : (kind) == L4J_ACT_GELU_PYTORCH_TANH ? &kernel<L4J_ACT_GELU_PYTORCH_TANH>              \
     : (kind) == L4J_ACT_SILU ? &kernel<L4J_ACT_SILU> : nullptr)
