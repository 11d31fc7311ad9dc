// Backward of activations, gated activations and scale_cols (native/cpu/backward_elementwise.cpp; contracts in
// lens4j.h). Each thread reads its element of dout before writing it, so the gradients may alias dout.
#include "activation.cuh"
#include "rows.cuh"

namespace {
template <int KIND>
__global__ void activation_backward_kernel(int64_t n, const float *x, const float *dout, float *dx) {
    L4JC_FOR_ELEMENTS(i, n) dx[i] = dout[i] * l4jc_act::dact<KIND>(x[i]);
}

template <int KIND>
__global__ void gated_activation_backward_kernel(int64_t n, const float *gate_pre, const float *linear,
                                                 const float *dout, float *dgate, float *dlinear) {
    L4JC_FOR_ELEMENTS(i, n) {
        const float g = dout[i], gp = gate_pre[i];  // read before either write: both may alias dout
        if (dgate) dgate[i] = g * linear[i] * l4jc_act::dact<KIND>(gp);
        if (dlinear) dlinear[i] = g * l4jc_act::act<KIND>(gp);
    }
}

__global__ void scale_cols_backward_kernel(int64_t rows, int64_t d, const float *dout, const float *w, float *dx) {
    L4JC_FOR_ROWS(r, rows) L4JC_FOR_COLS(i, d) dx[r * d + i] = dout[r * d + i] * w[i];
}

struct ProductTerm {
    const float *dout, *x;
    int64_t d;
    __device__ float operator()(int64_t r, int64_t c) const { return dout[r * d + c] * x[r * d + c]; }
};
}  // namespace

extern "C" int l4jc_activation_backward(int kind, int64_t n, const float *x, const float *dout, float *dx, void *stream) {
    L4JC_CHECK(n >= 0 && x && dout && dx);
    return l4jc_launch_elements(L4JC_ACT_KERNEL(activation_backward_kernel, kind), n, stream, "activation_backward", x,
                                dout, dx);
}

extern "C" int l4jc_gated_activation_backward(int kind, int64_t n, const float *gate_pre, const float *linear,
                                              const float *dout, float *dgate, float *dlinear, void *stream) {
    L4JC_CHECK(n >= 0 && gate_pre && linear && dout);
    return l4jc_launch_elements(L4JC_ACT_KERNEL(gated_activation_backward_kernel, kind), n, stream,
                                "gated_activation_backward", gate_pre, linear, dout, dgate, dlinear);
}

extern "C" int l4jc_scale_cols_backward(int64_t rows, int64_t d, const float *x, const float *w, const float *dout,
                                        float *dx, float *dw, void *stream) {
    L4JC_CHECK(rows >= 0 && d > 0 && x && w && dout);
    if (rows == 0) return L4J_OK;
    if (dw) l4jc_col_reduce(rows, d, dw, ProductTerm{dout, x, d}, stream);  // first: dx may alias dout
    if (!dx) return L4JC_LAUNCHED("scale_cols_backward dw");
    return l4jc_launch_rows(scale_cols_backward_kernel, rows, d, stream, "scale_cols_backward", dout, w, dx);
}
