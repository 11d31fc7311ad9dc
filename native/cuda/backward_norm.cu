// Backward of LayerNorm and RMSNorm (native/cpu/backward_norm.cpp; contracts in lens4j.h). The weight gradients
// (dw, db) are deterministic column reductions (rows.cuh) launched before the row kernel, because dx may alias
// dout; the row kernel gives a block to each row and reads every dout element before the barriers of its
// reductions, writing dx only after them.
#include "rows.cuh"

namespace {
__device__ __forceinline__ float row_mean(const float *xr, int64_t d, float *red) {
    float s = 0;
    L4JC_FOR_COLS(i, d) s += xr[i];
    return l4jc_block_sum(s, red) / (float)d;
}

// dw needs each row's mean, which the forward does not keep: computed once into a scratch buffer
__global__ void row_mean_kernel(int64_t rows, int64_t d, const float *x, float *mean) {
    __shared__ float red[33];
    L4JC_FOR_ROWS(r, rows) {
        const float m = row_mean(x + r * d, d, red);
        if (threadIdx.x == 0) mean[r] = m;
    }
}

// g = dout * w, rounded and never contracted into an FMA, so g - mean(g) cancels exactly on a constant row
__device__ __forceinline__ float grad_in(const float *gr, const float *w, int64_t i) {
    return w ? __fmul_rn(gr[i], w[i]) : gr[i];
}

__global__ void layernorm_backward_kernel(int64_t rows, int64_t d, const float *x, const float *w, const float *scale,
                                          const float *dout, float *dx, float *dscale) {
    __shared__ float red[33];
    L4JC_FOR_ROWS(r, rows) {
        const float *xr = x + r * d, *gr = dout + r * d;
        const float mu = row_mean(xr, d, red), inv = 1.0f / scale[r];
        // n = xc / scale; G = sum g, A = sum g n, N = sum n (0 up to rounding)
        float G = 0, A = 0, N = 0;
        L4JC_FOR_COLS(i, d) {
            const float g = grad_in(gr, w, i), n = (xr[i] - mu) * inv;
            G += g;
            A += g * n;
            N += n;
        }
        G = l4jc_block_sum(G, red);
        A = l4jc_block_sum(A, red);
        N = l4jc_block_sum(N, red);
        if (dscale && threadIdx.x == 0) dscale[r] = -A * inv;
        if (dx) {
            const float gm = G / (float)d, a = A / (float)d, nm = N / (float)d;
            L4JC_FOR_COLS(i, d) dx[r * d + i] = inv * ((grad_in(gr, w, i) - gm) - a * ((xr[i] - mu) * inv - nm));
        }
    }
}

__global__ void rmsnorm_backward_kernel(int64_t rows, int64_t d, const float *x, const float *w, const float *scale,
                                        const float *dout, float *dx, float *dnormalized, float *dscale) {
    __shared__ float red[33];
    L4JC_FOR_ROWS(r, rows) {
        const float *xr = x + r * d, *gr = dout + r * d;
        const float inv = 1.0f / scale[r];
        float A = 0;  // sum g n with g = dout * w, n = x / scale
        L4JC_FOR_COLS(i, d) A += grad_in(gr, w, i) * (xr[i] * inv);
        A = l4jc_block_sum(A, red);
        if (dscale && threadIdx.x == 0) dscale[r] = -A * inv;
        const float a = A / (float)d;
        L4JC_FOR_COLS(i, d) {
            const float g = grad_in(gr, w, i);
            if (dx) dx[r * d + i] = inv * (g - xr[i] * inv * a);
            if (dnormalized) dnormalized[r * d + i] = g;
        }
    }
}

struct LayerNormDw {
    const float *x, *dout, *mean, *scale;
    int64_t d;
    __device__ float operator()(int64_t r, int64_t c) const { return dout[r * d + c] * ((x[r * d + c] - mean[r]) / scale[r]); }
};
struct RmsNormDw {
    const float *x, *dout, *scale;
    int64_t d;
    __device__ float operator()(int64_t r, int64_t c) const { return dout[r * d + c] * (x[r * d + c] / scale[r]); }
};
}  // namespace

extern "C" int l4jc_layernorm_backward(int64_t rows, int64_t d, const float *x, const float *w, const float *scale,
                                       const float *dout, float *dx, float *dw, float *db, float *dscale, void *stream) {
    L4JC_CHECK(rows >= 0 && d > 0 && x && scale && dout);
    if (rows == 0) return L4J_OK;
    if (dw) {
        float *mean = nullptr;
        if (int s = l4jc_scratch_alloc((void **)&mean, rows * (int64_t)sizeof(float), stream, "layernorm_backward scratch"))
            return s;
        L4J_LAUNCH(row_mean_kernel, l4jc_blocks(rows, 1), l4jc_row_threads(d), 0, stream, rows, d, x, mean);
        l4jc_col_reduce(rows, d, dw, LayerNormDw{x, dout, mean, scale, d}, stream);
        const int launched = L4JC_LAUNCHED("layernorm_backward dw");
        const int freed = l4jc_scratch_free(mean, stream, "layernorm_backward scratch free");
        if (launched || freed) return launched ? launched : freed;
    }
    if (db) l4jc_col_reduce(rows, d, db, l4jc_entry{dout, d}, stream);
    if (!dx && !dscale) return L4JC_LAUNCHED("layernorm_backward db");
    return l4jc_launch_rows(layernorm_backward_kernel, rows, d, stream, "layernorm_backward", x, w, scale, dout, dx, dscale);
}

extern "C" int l4jc_rmsnorm_backward(int64_t rows, int64_t d, const float *x, const float *w, const float *scale,
                                     const float *dout, float *dx, float *dw, float *dnormalized, float *dscale,
                                     void *stream) {
    L4JC_CHECK(rows >= 0 && d > 0 && x && scale && dout);
    if (rows == 0) return L4J_OK;
    if (dw) l4jc_col_reduce(rows, d, dw, RmsNormDw{x, dout, scale, d}, stream);
    if (!dx && !dscale && !dnormalized) return L4JC_LAUNCHED("rmsnorm_backward dw");
    return l4jc_launch_rows(rmsnorm_backward_kernel, rows, d, stream, "rmsnorm_backward", x, w, scale, dout, dx,
                            dnormalized, dscale);
}
