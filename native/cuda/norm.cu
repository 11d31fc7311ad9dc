// LayerNorm and RMSNorm forward (native/cpu/norm.cpp; TransformerLens semantics, see lens4j.h): a block per row,
// block reductions for the mean and the mean square. out may alias x: every thread reads its elements for the
// sums before the reductions' barriers and writes each element only after reading it.
#include "rows.cuh"

namespace {
__global__ void layernorm_kernel(int64_t rows, int64_t d, const float *x, const float *w, const float *b, float eps,
                                 float *out, float *scale) {
    __shared__ float red[33];
    L4JC_FOR_ROWS(r, rows) {
        const float *xr = x + r * d;
        float *o = out + r * d;
        float s = 0;
        L4JC_FOR_COLS(i, d) s += xr[i];
        const float mean = l4jc_block_sum(s, red) / (float)d;
        float ss = 0;
        L4JC_FOR_COLS(i, d) {
            const float t = xr[i] - mean;
            ss += t * t;
        }
        const float sc = sqrtf(l4jc_block_sum(ss, red) / (float)d + eps), inv = 1.0f / sc;
        if (scale && threadIdx.x == 0) scale[r] = sc;
        L4JC_FOR_COLS(i, d) {
            float v = (xr[i] - mean) * inv;
            if (w) v *= w[i];
            if (b) v += b[i];
            o[i] = v;
        }
    }
}

__global__ void rmsnorm_kernel(int64_t rows, int64_t d, const float *x, const float *w, float eps, float *out,
                               float *scale, float *normalized) {
    __shared__ float red[33];
    L4JC_FOR_ROWS(r, rows) {
        const float *xr = x + r * d;
        float ss = 0;
        L4JC_FOR_COLS(i, d) ss += xr[i] * xr[i];
        const float sc = sqrtf(l4jc_block_sum(ss, red) / (float)d + eps), inv = 1.0f / sc;
        if (scale && threadIdx.x == 0) scale[r] = sc;
        L4JC_FOR_COLS(i, d) {
            const float n = xr[i] * inv;
            if (normalized) normalized[r * d + i] = n;
            out[r * d + i] = w ? n * w[i] : n;
        }
    }
}
}  // namespace

extern "C" int l4jc_layernorm(int64_t rows, int64_t d, const float *x, const float *w, const float *b, float eps,
                              float *out, float *scale, void *stream) {
    L4JC_CHECK(rows >= 0 && d > 0 && x && out);
    return l4jc_launch_rows(layernorm_kernel, rows, d, stream, "layernorm", x, w, b, eps, out, scale);
}

extern "C" int l4jc_rmsnorm(int64_t rows, int64_t d, const float *x, const float *w, float eps, float *out, float *scale,
                            float *normalized, void *stream) {
    L4JC_CHECK(rows >= 0 && d > 0 && x && out);
    return l4jc_launch_rows(rmsnorm_kernel, rows, d, stream, "rmsnorm", x, w, eps, out, scale, normalized);
}
