// Softmax, log-softmax and cross-entropy over the last dimension (native/cpu/softmax.cpp): a block per row, block
// reductions for the max and the sum of exponentials. A row that is all -inf gives softmax 0 (TL's masked
// attention). Outputs are written only after the reductions' barriers, each element by the thread that read it,
// so out may alias x.
#include "rows.cuh"

namespace {
__device__ __forceinline__ float row_max(const float *xr, int64_t n, float *red) {
    float m = -INFINITY;
    L4JC_FOR_COLS(i, n) m = fmaxf(m, xr[i]);
    return l4jc_block_max(m, red);
}

__device__ __forceinline__ float row_sum_exp(const float *xr, int64_t n, float m, float *red) {
    float s = 0;
    L4JC_FOR_COLS(i, n) s += expf(xr[i] - m);
    return l4jc_block_sum(s, red);
}

__global__ void softmax_kernel(int64_t rows, int64_t n, const float *x, float *out) {
    __shared__ float red[33];
    L4JC_FOR_ROWS(r, rows) {
        const float *xr = x + r * n;
        float *o = out + r * n;
        const float m = row_max(xr, n, red);
        if (m == -INFINITY) {  // every entry masked: zeros (TL's NaN -> 0)
            L4JC_FOR_COLS(i, n) o[i] = 0.0f;
            continue;
        }
        const float inv = 1.0f / row_sum_exp(xr, n, m, red);
        L4JC_FOR_COLS(i, n) o[i] = expf(xr[i] - m) * inv;
    }
}

// (x - max) - lse rather than x - (max + lse): keeps precision for large logits, as torch does
__global__ void log_softmax_kernel(int64_t rows, int64_t n, const float *x, float *out) {
    __shared__ float red[33];
    L4JC_FOR_ROWS(r, rows) {
        const float *xr = x + r * n;
        const float m = row_max(xr, n, red), lse = logf(row_sum_exp(xr, n, m, red));
        L4JC_FOR_COLS(i, n) out[r * n + i] = (xr[i] - m) - lse;
    }
}

// Targets cannot be range-checked here without a host sync: Java validates them before they reach the device (the
// CPU twin's L4J_ERR_RANGE); a bad one is never read through, its loss is NaN.
__global__ void cross_entropy_kernel(int64_t rows, int64_t n, const float *logits, const int32_t *targets, float *loss) {
    __shared__ float red[33];
    L4JC_FOR_ROWS(r, rows) {
        const float *xr = logits + r * n;
        const float m = row_max(xr, n, red), lse = logf(row_sum_exp(xr, n, m, red));
        if (threadIdx.x == 0) {
            const int32_t t = targets[r];
            loss[r] = t >= 0 && t < n ? lse - (xr[t] - m) : NAN;
        }
    }
}
}  // namespace

extern "C" int l4jc_softmax(int64_t rows, int64_t n, const float *x, float *out, void *stream) {
    L4JC_CHECK(rows >= 0 && n > 0 && x && out);
    return l4jc_launch_rows(softmax_kernel, rows, n, stream, "softmax", x, out);
}

extern "C" int l4jc_log_softmax(int64_t rows, int64_t n, const float *x, float *out, void *stream) {
    L4JC_CHECK(rows >= 0 && n > 0 && x && out);
    return l4jc_launch_rows(log_softmax_kernel, rows, n, stream, "log_softmax", x, out);
}

extern "C" int l4jc_cross_entropy(int64_t rows, int64_t n, const float *logits, const int32_t *targets, float *loss,
                                  void *stream) {
    L4JC_CHECK(rows >= 0 && n > 0 && logits && targets && loss);
    return l4jc_launch_rows(cross_entropy_kernel, rows, n, stream, "cross_entropy", logits, targets, loss);
}
