// Element-wise kernels (native/cpu/elementwise.cpp; l4jc_add lives in runtime.cu): grid-stride loops over the
// elements, a block per row where a column index is needed. Each element is read before it is written, so
// the outputs may alias their inputs as the CPU contracts allow.
#include "activation.cuh"
#include "rows.cuh"

namespace {
template <int KIND>
__global__ void activation_kernel(int64_t n, const float *x, float *out) {
    L4JC_FOR_ELEMENTS(i, n) out[i] = l4jc_act::act<KIND>(x[i]);
}

template <int KIND>
__global__ void gated_activation_kernel(int64_t n, const float *gate_pre, const float *linear, float *out) {
    L4JC_FOR_ELEMENTS(i, n) out[i] = l4jc_act::act<KIND>(gate_pre[i]) * linear[i];
}

__global__ void scale_cols_kernel(int64_t rows, int64_t d, const float *x, const float *w, float *out) {
    L4JC_FOR_ROWS(r, rows) L4JC_FOR_COLS(i, d) out[r * d + i] = x[r * d + i] * w[i];
}

__global__ void add_bias_kernel(int64_t rows, int64_t d, const float *x, const float *bias, float *out) {
    L4JC_FOR_ROWS(r, rows) L4JC_FOR_COLS(i, d) out[r * d + i] = x[r * d + i] + bias[i];
}
}  // namespace

extern "C" int l4jc_activation(int kind, int64_t n, const float *x, float *out, void *stream) {
    L4JC_CHECK(n >= 0 && x && out);
    if (kind < L4J_ACT_RELU || kind > L4J_ACT_SILU) return L4J_ERR_UNSUPPORTED;
    if (n == 0) return L4J_OK;
#define CALL(KIND) { auto k = &activation_kernel<KIND>; L4J_LAUNCH(k, l4jc_blocks(n, 256), 256, 0, stream, n, x, out); }
    L4JC_ACT_DISPATCH(kind, CALL)
#undef CALL
    return L4JC_LAUNCHED("activation");
}

extern "C" int l4jc_gated_activation(int kind, int64_t n, const float *gate_pre, const float *linear, float *out,
                                     void *stream) {
    L4JC_CHECK(n >= 0 && gate_pre && linear && out);
    if (kind < L4J_ACT_RELU || kind > L4J_ACT_SILU) return L4J_ERR_UNSUPPORTED;
    if (n == 0) return L4J_OK;
#define CALL(KIND) { auto k = &gated_activation_kernel<KIND>; L4J_LAUNCH(k, l4jc_blocks(n, 256), 256, 0, stream, n, gate_pre, linear, out); }
    L4JC_ACT_DISPATCH(kind, CALL)
#undef CALL
    return L4JC_LAUNCHED("gated_activation");
}

extern "C" int l4jc_scale_cols(int64_t rows, int64_t d, const float *x, const float *w, float *out, void *stream) {
    L4JC_CHECK(rows >= 0 && d > 0 && x && w && out);
    if (rows == 0) return L4J_OK;
    L4J_LAUNCH(scale_cols_kernel, l4jc_blocks(rows, 1), l4jc_row_threads(d), 0, stream, rows, d, x, w, out);
    return L4JC_LAUNCHED("scale_cols");
}

extern "C" int l4jc_add_bias(int64_t rows, int64_t d, const float *x, const float *bias, float *out, void *stream) {
    L4JC_CHECK(rows >= 0 && d > 0 && x && bias && out);
    if (rows == 0) return L4J_OK;
    L4J_LAUNCH(add_bias_kernel, l4jc_blocks(rows, 1), l4jc_row_threads(d), 0, stream, rows, d, x, bias, out);
    return L4JC_LAUNCHED("add_bias");
}
