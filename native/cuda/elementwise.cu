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
    return l4jc_launch_elements(L4JC_ACT_KERNEL(activation_kernel, kind), n, stream, "activation", x, out);
}

extern "C" int l4jc_gated_activation(int kind, int64_t n, const float *gate_pre, const float *linear, float *out,
                                     void *stream) {
    L4JC_CHECK(n >= 0 && gate_pre && linear && out);
    return l4jc_launch_elements(L4JC_ACT_KERNEL(gated_activation_kernel, kind), n, stream, "gated_activation", gate_pre,
                                linear, out);
}

extern "C" int l4jc_scale_cols(int64_t rows, int64_t d, const float *x, const float *w, float *out, void *stream) {
    L4JC_CHECK(rows >= 0 && d > 0 && x && w && out);
    return l4jc_launch_rows(scale_cols_kernel, rows, d, stream, "scale_cols", x, w, out);
}

extern "C" int l4jc_add_bias(int64_t rows, int64_t d, const float *x, const float *bias, float *out, void *stream) {
    L4JC_CHECK(rows >= 0 && d > 0 && x && bias && out);
    return l4jc_launch_rows(add_bias_kernel, rows, d, stream, "add_bias", x, bias, out);
}
