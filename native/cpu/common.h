// Shared helpers for the CPU kernels: argument checks, parallel thresholds, vectorisable math.
#pragma once
#include "lens4j.h"
#include <cmath>
#include <cstdint>
#include <cstring>
#include <omp.h>

#define L4J_CHECK(cond) do { if (!(cond)) return L4J_ERR_ARG; } while (0)

/* Every token id in [0, d_vocab): the embedding kernels check this before touching any row. */
static inline bool l4j_tokens_in_range(int64_t n_tokens, const int32_t *tokens, int64_t d_vocab) {
    for (int64_t i = 0; i < n_tokens; i++)
        if (tokens[i] < 0 || tokens[i] >= d_vocab) return false;
    return true;
}

// Below this many elements, thread start-up costs more than the work.
static constexpr int64_t L4J_PAR_MIN = 1 << 14;

// Whether l4j_gemm runs an M x N x K product on lens4j's AVX-512F kernel (CPU has it, LENS4J_GEMM is not "openblas",
// the product fills its tiles); kernels that multiply blocks themselves (attention) follow the same choice.
bool l4j_gemm_takes_avx512(int64_t M, int64_t N, int64_t K);

// exp(x) by range reduction to 2^n * e^r, |r| <= ln2/2, degree-6 polynomial: relative error ~2e-7.
// 2^n is applied as two normal factors, so large x overflows to +inf and very negative x (or -inf)
// underflows through denormals to 0, as expf does. Branch-free so GCC vectorises callers.
static inline float l4j_exp(float x) {
    x = x < -110.0f ? -110.0f : (x > 89.0f ? 89.0f : x);
    const float n = std::floor(x * 1.44269504088896341f + 0.5f);
    const float r = x - n * 0.693145751953125f - n * 1.428606765330187e-06f;
    float p = 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    const int32_t ni = (int32_t)n, n1 = ni >> 1, n2 = ni - n1;  // n in [-159, 128]
    const int32_t b1 = (n1 + 127) << 23, b2 = (n2 + 127) << 23;
    float s1, s2;
    std::memcpy(&s1, &b1, sizeof s1);
    std::memcpy(&s2, &b2, sizeof s2);
    return p * s1 * s2;
}

static inline float l4j_tanh(float x) {
    // tanh(x) = 1 - 2 / (e^{2x} + 1); small |x| uses the odd Taylor series to avoid cancellation.
    const float e = l4j_exp(2.0f * x);
    const float big = 1.0f - 2.0f / (e + 1.0f);
    const float x2 = x * x;
    const float small = x * (1.0f + x2 * (-1.0f / 3.0f + x2 * (2.0f / 15.0f + x2 * (-17.0f / 315.0f))));
    return std::fabs(x) < 0.0625f ? small : big;
}

static inline float l4j_erf(float x) {
    // erf via erf(x) = sign(x) * (1 - erfc(|x|)), erfc by Numerical Recipes' Chebyshev fit (|error| < 1.2e-7).
    const float z = std::fabs(x);
    const float t = 1.0f / (1.0f + 0.5f * z);
    const float poly = -z * z - 1.26551223f + t * (1.00002368f + t * (0.37409196f + t * (0.09678418f +
                       t * (-0.18628806f + t * (0.27886807f + t * (-1.13520398f + t * (1.48851587f +
                       t * (-0.82215223f + t * 0.17087277f))))))));
    const float erfc = t * l4j_exp(poly);
    const float r = 1.0f - erfc;
    return x >= 0.0f ? r : -r;
}

// The activation formulas, shared by the forward kernels and the backward kernels (which need act(x) too).
namespace l4j_act {
constexpr float kSqrt2OverPi = 0.7978845608028654f;
constexpr float kInvSqrt2 = 0.7071067811865476f;

template <int KIND>
inline float act(float x) {
    if constexpr (KIND == L4J_ACT_RELU) return x > 0.0f ? x : 0.0f;
    else if constexpr (KIND == L4J_ACT_GELU) return 0.5f * x * (1.0f + l4j_erf(x * kInvSqrt2));
    else if constexpr (KIND == L4J_ACT_GELU_NEW || KIND == L4J_ACT_GELU_PYTORCH_TANH)
        return 0.5f * x * (1.0f + l4j_tanh(kSqrt2OverPi * (x + 0.044715f * x * x * x)));
    else return x / (1.0f + l4j_exp(-x));  // silu
}
}  // namespace l4j_act
