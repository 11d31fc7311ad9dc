// What every native/cuda/<op>.cu includes: the CUDA runtime (or, when built as lens4j_cuda_emu, its CPU emulation),
// the launch macro both understand, and the status / reduction helpers the kernels share.
#pragma once
#include "lens4j_cuda.h"
#include <cstdint>
#ifdef L4J_CUDA_EMU
#include "emu/cuda_emu.h"
// kernel may not contain a top-level comma (wrap a template instance in parentheses or an alias)
#define L4J_LAUNCH(kernel, grid, block, smem, stream, ...) \
    l4j_emu::launch((grid), (block), (smem), (stream), #kernel, [&] { kernel(__VA_ARGS__); })
#define L4J_DYN_SMEM(T, name) T *name = (T *)l4j_emu::dynamic_smem()
#else
#include <cuda_runtime.h>
#include <cuda_bf16.h>
#define L4J_LAUNCH(kernel, grid, block, smem, stream, ...) \
    kernel<<<(grid), (block), (smem), (cudaStream_t)(stream)>>>(__VA_ARGS__)
#define L4J_DYN_SMEM(T, name) extern __shared__ __align__(16) unsigned char l4j_dyn_smem_[]; T *name = (T *)l4j_dyn_smem_
#endif

#define L4JC_CHECK(cond) do { if (!(cond)) return L4J_ERR_ARG; } while (0)
#define L4JC_STREAM(s) ((cudaStream_t)(s))

// Records a CUDA failure for l4jc_last_error; returns L4J_ERR_DEVICE for it, L4J_OK for cudaSuccess.
int l4jc_record(cudaError_t e, const char *what);
// Records a failure that is not a cudaError_t (cuBLAS missing or failing) for l4jc_last_error; returns status.
int l4jc_record_text(int status, const char *text);
// Scratch device memory ordered on `stream`: cudaMallocAsync / cudaFreeAsync where the device has memory pools, else
// cudaMalloc / cudaFree (drivers before CUDA 11.2, some virtualised GPUs). A failed allocation sets *p to NULL, is
// recorded for l4jc_last_error (L4J_ERR_NOMEM when out of memory, else L4J_ERR_DEVICE) and is cleared from the
// runtime's last error, so the next launch does not report it. Freeing NULL does nothing.
int l4jc_scratch_alloc(void **p, int64_t bytes, void *stream, const char *what);
int l4jc_scratch_free(void *p, void *stream, const char *what);
// The status of the kernels just launched (launch errors only: execution errors surface at the next sync).
#define L4JC_LAUNCHED(what) l4jc_record(cudaGetLastError(), what)

// Blocks for a grid-stride loop over n elements: enough to fill the GPU, never past the grid limit.
static inline unsigned l4jc_blocks(int64_t n, int threads) {
    int64_t b = (n + threads - 1) / threads;
    return (unsigned)(b < 1 ? 1 : (b > 65535 * 8 ? 65535 * 8 : b));
}

struct l4jc_sum_op { __device__ __forceinline__ float operator()(float a, float b) const { return a + b; } };
struct l4jc_max_op { __device__ __forceinline__ float operator()(float a, float b) const { return fmaxf(a, b); } };

template <class Op> __device__ __forceinline__ float l4jc_warp_reduce(float v, Op op) {
    for (int o = 16; o > 0; o >>= 1) v = op(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}
// op over the block (blockDim.x a multiple of 32, at most 1024); every thread gets the result. Uses 33 floats of
// shared memory passed by the caller; ends with a barrier, so it may be called again at once.
template <class Op> __device__ __forceinline__ float l4jc_block_reduce(float v, float identity, float *shared33, Op op) {
    v = l4jc_warp_reduce(v, op);
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = (blockDim.x + 31) >> 5;
    if (lane == 0) shared33[warp] = v;
    __syncthreads();
    if (warp == 0) {
        float t = lane < warps ? shared33[lane] : identity;
        t = l4jc_warp_reduce(t, op);
        if (lane == 0) shared33[32] = t;
    }
    __syncthreads();
    const float total = shared33[32];
    __syncthreads();
    return total;
}
__device__ __forceinline__ float l4jc_warp_sum(float v) { return l4jc_warp_reduce(v, l4jc_sum_op()); }
__device__ __forceinline__ float l4jc_warp_max(float v) { return l4jc_warp_reduce(v, l4jc_max_op()); }
__device__ __forceinline__ float l4jc_block_sum(float v, float *shared33) { return l4jc_block_reduce(v, 0.0f, shared33, l4jc_sum_op()); }
__device__ __forceinline__ float l4jc_block_max(float v, float *shared33) { return l4jc_block_reduce(v, -INFINITY, shared33, l4jc_max_op()); }
