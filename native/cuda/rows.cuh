// Launch shapes and deterministic reductions shared by the row-wise kernels (norm, softmax, embedding, element-wise
// and their backwards).
#pragma once
#include "l4jc.cuh"

// Threads for a kernel that gives one block to a row of n: about 8 elements a thread, a multiple of 32 (as
// l4jc_block_sum needs), 32 to 1,024.
static inline int l4jc_row_threads(int64_t n) {
    int64_t t = ((n + 7) / 8 + 31) / 32 * 32;
    return (int)(t < 32 ? 32 : (t > 1024 ? 1024 : t));
}

// out[c] += sum_r f(r, c), as the CPU's l4j_col_reduce: each float term summed in double, rounded once. A block
// owns 32 columns (threadIdx.x, so a warp reads 128 contiguous bytes of a row); its 16 row lanes (threadIdx.y) sum
// every 16th row, then lane 0 adds the 16 partial sums in lane order. A fixed tree and no atomics: the same bits
// on every run, stream and GPU (the weight gradients' determinism promise in lens4j.h).
constexpr int kColReduceCols = 32, kColReduceLanes = 16;

template <class F>
__global__ void __launch_bounds__(kColReduceCols * kColReduceLanes)
l4jc_col_reduce_kernel(int64_t rows, int64_t d, float *out, F f) {
    __shared__ double part[kColReduceLanes][kColReduceCols];
    const int tx = threadIdx.x, ty = threadIdx.y;
    for (int64_t c0 = (int64_t)blockIdx.x * kColReduceCols; c0 < d; c0 += (int64_t)gridDim.x * kColReduceCols) {
        const int64_t c = c0 + tx;
        double acc = 0;
        if (c < d)
            for (int64_t r = ty; r < rows; r += kColReduceLanes) acc += (double)f(r, c);
        part[ty][tx] = acc;
        __syncthreads();
        if (ty == 0 && c < d) {
            double total = 0;
            for (int l = 0; l < kColReduceLanes; l++) total += part[l][tx];
            out[c] += (float)total;
        }
        __syncthreads();  // part is reused by the next column block
    }
}

template <class F>
static inline void l4jc_col_reduce(int64_t rows, int64_t d, float *out, F f, void *stream) {
    auto k = &l4jc_col_reduce_kernel<F>;
    L4J_LAUNCH(k, l4jc_blocks(d, kColReduceCols), dim3(kColReduceCols, kColReduceLanes), 0, stream, rows, d, out, f);
}

// f(r, c) = x[r, c] of a [rows, d] matrix (sum_rows, bias gradients); prefixed: a global name shared by every .cu
struct l4jc_entry {
    const float *x;
    int64_t d;
    __device__ float operator()(int64_t r, int64_t c) const { return x[r * d + c]; }
};

// The row loop of a kernel that gives one block to each row (grid-stride over rows).
#define L4JC_FOR_ROWS(r, rows) for (int64_t r = blockIdx.x; r < (rows); r += gridDim.x)
// A block's threads over the columns of one row.
#define L4JC_FOR_COLS(i, n) for (int64_t i = threadIdx.x; i < (n); i += blockDim.x)
// A grid-stride loop over n elements.
#define L4JC_FOR_ELEMENTS(i, n) \
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < (n); i += (int64_t)gridDim.x * blockDim.x)

// Launches k(rows, n, args...) with a block per row of n; nothing for no rows.
template <class... P, class... A>
static inline int l4jc_launch_rows(void (*k)(int64_t, int64_t, P...), int64_t rows, int64_t n, void *stream,
                                   const char *what, A... args) {
    if (rows == 0) return L4J_OK;
    L4J_LAUNCH(k, l4jc_blocks(rows, 1), l4jc_row_threads(n), 0, stream, rows, n, args...);
    return L4JC_LAUNCHED(what);
}

// Launches the element-wise kernel k(n, args...) over n elements; L4J_ERR_UNSUPPORTED when k is null (an unknown
// activation kind, see L4JC_ACT_KERNEL).
template <class... P, class... A>
static inline int l4jc_launch_elements(void (*k)(int64_t, P...), int64_t n, void *stream, const char *what, A... args) {
    if (!k) return L4J_ERR_UNSUPPORTED;
    if (n == 0) return L4J_OK;
    L4J_LAUNCH(k, l4jc_blocks(n, 256), 256, 0, stream, n, args...);
    return L4JC_LAUNCHED(what);
}
