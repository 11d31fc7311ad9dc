// Backward of softmax, log_softmax and cross-entropy (native/cpu/backward_softmax.cpp; contracts in lens4j.h): a
// block per row. Every thread reads its dout elements for the row's sum before the reduction's barriers and
// writes dx only after them, each element by the thread that read it, so dx may alias dout.
#include "rows.cuh"

namespace {
// masked entries (y == 0) are left out of the sum and get exactly 0, whatever their upstream value
__global__ void softmax_backward_kernel(int64_t rows, int64_t n, const float *y, const float *dout, float *dx) {
    __shared__ float red[33];
    L4JC_FOR_ROWS(r, rows) {
        const float *yr = y + r * n, *gr = dout + r * n;
        float s = 0;
        L4JC_FOR_COLS(i, n) if (yr[i] != 0.0f) s += yr[i] * gr[i];
        s = l4jc_block_sum(s, red);
        L4JC_FOR_COLS(i, n) dx[r * n + i] = yr[i] != 0.0f ? yr[i] * (gr[i] - s) : 0.0f;
    }
}

__global__ void log_softmax_backward_kernel(int64_t rows, int64_t n, const float *y, const float *dout, float *dx) {
    __shared__ float red[33];
    L4JC_FOR_ROWS(r, rows) {
        const float *yr = y + r * n, *gr = dout + r * n;
        float s = 0;
        L4JC_FOR_COLS(i, n) s += gr[i];
        s = l4jc_block_sum(s, red);
        L4JC_FOR_COLS(i, n) dx[r * n + i] = gr[i] - expf(yr[i]) * s;  // exp(-inf) = 0: masked keeps dout
    }
}

// A bad target (Java validates targets before they reach the device) is never used as an index: its row is NaN.
__global__ void cross_entropy_backward_kernel(int64_t rows, int64_t n, const float *logits, const int32_t *targets,
                                              const float *dloss, float *dlogits) {
    __shared__ float red[33];
    L4JC_FOR_ROWS(r, rows) {
        const float *xr = logits + r * n;
        float m = -INFINITY;
        L4JC_FOR_COLS(i, n) m = fmaxf(m, xr[i]);
        m = l4jc_block_max(m, red);
        float s = 0;
        L4JC_FOR_COLS(i, n) s += expf(xr[i] - m);
        s = l4jc_block_sum(s, red);
        const int32_t t = targets[r];
        const bool valid = t >= 0 && t < n;
        const float dl = dloss[r], k = dl / s;
        L4JC_FOR_COLS(i, n) {
            float v = k * expf(xr[i] - m);
            if (i == t) v -= dl;
            dlogits[r * n + i] = valid ? v : NAN;
        }
    }
}
}  // namespace

extern "C" int l4jc_softmax_backward(int64_t rows, int64_t n, const float *y, const float *dout, float *dx, void *stream) {
    L4JC_CHECK(rows >= 0 && n > 0 && y && dout && dx);
    return l4jc_launch_rows(softmax_backward_kernel, rows, n, stream, "softmax_backward", y, dout, dx);
}

extern "C" int l4jc_log_softmax_backward(int64_t rows, int64_t n, const float *y, const float *dout, float *dx,
                                         void *stream) {
    L4JC_CHECK(rows >= 0 && n > 0 && y && dout && dx);
    return l4jc_launch_rows(log_softmax_backward_kernel, rows, n, stream, "log_softmax_backward", y, dout, dx);
}

extern "C" int l4jc_cross_entropy_backward(int64_t rows, int64_t n, const float *logits, const int32_t *targets,
                                           const float *dloss, float *dlogits, void *stream) {
    L4JC_CHECK(rows >= 0 && n > 0 && logits && targets && dloss && dlogits);
    return l4jc_launch_rows(cross_entropy_backward_kernel, rows, n, stream, "cross_entropy_backward", logits, targets,
                            dloss, dlogits);
}
