// A CPU emulation of the part of CUDA that lens4j's kernels use, so the same .cu sources run on a machine without a
// GPU (CI, laptops) and can be checked against the CPU kernels. It executes each block's threads as fibers on one OS
// thread: __syncthreads and warp shuffles are real barriers (a fiber yields until every thread of the block, or of
// its warp, has arrived), __shared__ memory is one static copy (blocks run one after another), dynamic shared memory
// is a per-launch buffer. It checks the launch limits a GPU enforces (1,024 threads, 227 KiB shared memory, grid
// y/z <= 65,535) and reports violations through cudaGetLastError. Strict by default (L4J_EMU_STRICT=0 turns it off):
// the fibers of each round resume in a seeded shuffled order (L4J_EMU_SEED, default 1), a __syncthreads that not every
// thread of the block reaches at the same call site and a warp collective that not every lane of its mask joins are
// launch errors naming the kernel, and __shared__ arrays (placed in one ELF section) are filled with 0xff before each
// block. What it cannot show: timing, the GPU's memory model, warp divergence costs, or a kernel that only works
// because of lock-step execution without __syncwarp.
#pragma once
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <algorithm>
#include <functional>

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __noinline__
#define __launch_bounds__(...)
#define __align__(n) alignas(n)
// every __shared__ variable in one section, so the scheduler can fill them with garbage before each block
#define __shared__ static __attribute__((section("l4j_emu_shared")))
#define __constant__ static
#define __restrict__ __restrict

struct dim3 {
    unsigned x, y, z;
    constexpr dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {}
};
struct uint3 { unsigned x, y, z; };

namespace l4j_emu {
// the running thread's coordinates (fibers of one block share the OS thread; the scheduler sets these)
const uint3 &thread_idx();
const uint3 &block_idx();
const dim3 &block_dim();
const dim3 &grid_dim();
void *dynamic_smem();
// a block barrier; the call site identifies it (threads waiting at different sites are a divergence error)
void sync_threads(const char *file, int line);
void sync_warp();
int lane_id();
// exchanges a 32-bit value among the lanes of `mask` (the running thread's warp); returns lane `src`'s value
uint32_t warp_exchange(uint32_t mine, int src, uint32_t mask);
// the warp's lanes' predicates as a bit mask (lane i at bit i)
uint32_t warp_ballot(bool pred, uint32_t mask);
// runs body() as grid x block threads of `kernel`; records a launch error instead when the configuration is invalid
// or (strict mode) when the kernel's threads diverge at a barrier or a warp collective
void launch(dim3 grid, dim3 block, size_t smem, void *stream, const char *kernel, const std::function<void()> &body);
}  // namespace l4j_emu

#define threadIdx (l4j_emu::thread_idx())
#define blockIdx (l4j_emu::block_idx())
#define blockDim (l4j_emu::block_dim())
#define gridDim (l4j_emu::grid_dim())
static constexpr int warpSize = 32;

#define __syncthreads() l4j_emu::sync_threads(__FILE__, __LINE__)
inline void __syncwarp(unsigned = 0xffffffffu) { l4j_emu::sync_warp(); }

// 32-bit values in one exchange; 64-bit ones (double, long long: CUDA's overloads) as two halves
template <class T> inline T l4j_emu_shfl(T v, int src, unsigned mask) {
    static_assert(sizeof(T) == 4 || sizeof(T) == 8, "emulated shuffles move 32- or 64-bit values");
    uint32_t bits[sizeof(T) / 4];
    std::memcpy(bits, &v, sizeof(T));
    for (auto &b : bits) b = l4j_emu::warp_exchange(b, src, mask);
    T out;
    std::memcpy(&out, bits, sizeof(T));
    return out;
}
template <class T> inline T __shfl_sync(unsigned m, T v, int src, int width = 32) {
    const int lane = l4j_emu::lane_id();
    return l4j_emu_shfl(v, (lane & ~(width - 1)) + (src & (width - 1)), m);
}
template <class T> inline T __shfl_xor_sync(unsigned m, T v, int mask, int width = 32) {
    const int lane = l4j_emu::lane_id();
    const int src = lane ^ mask;
    return l4j_emu_shfl(v, (src & ~(width - 1)) == (lane & ~(width - 1)) ? src : lane, m);
}
template <class T> inline T __shfl_down_sync(unsigned m, T v, unsigned delta, int width = 32) {
    const int lane = l4j_emu::lane_id();
    const int src = lane + (int)delta;
    return l4j_emu_shfl(v, (src & ~(width - 1)) == (lane & ~(width - 1)) ? src : lane, m);
}
template <class T> inline T __shfl_up_sync(unsigned m, T v, unsigned delta, int width = 32) {
    const int lane = l4j_emu::lane_id();
    const int src = lane - (int)delta;
    return l4j_emu_shfl(v, src >= (lane & ~(width - 1)) ? src : lane, m);
}
inline unsigned __ballot_sync(unsigned m, int pred) { return l4j_emu::warp_ballot(pred != 0, m); }
inline int __any_sync(unsigned m, int pred) { return __ballot_sync(m, pred) != 0; }
inline int __all_sync(unsigned m, int pred) { return (l4j_emu::warp_ballot(pred != 0, m) & m) == m; }
inline int __popc(unsigned x) { return __builtin_popcount(x); }
inline int __ffs(int x) { return __builtin_ffs(x); }
inline int __clz(int x) { return x == 0 ? 32 : __builtin_clz((unsigned)x); }

// fibers of a block run on one OS thread and blocks run one at a time: plain read-modify-write is atomic here
template <class T> inline T atomicAdd(T *p, T v) { T old = *p; *p = old + v; return old; }
template <class T> inline T atomicMax(T *p, T v) { T old = *p; *p = std::max(old, v); return old; }
template <class T> inline T atomicMin(T *p, T v) { T old = *p; *p = std::min(old, v); return old; }
template <class T> inline T atomicExch(T *p, T v) { T old = *p; *p = v; return old; }
template <class T> inline T atomicCAS(T *p, T cmp, T v) { T old = *p; if (old == cmp) *p = v; return old; }
inline void __threadfence() {}
inline void __threadfence_block() {}
template <class T> inline T __ldg(const T *p) { return *p; }

// device math intrinsics (the fast variants compute the accurate value here)
inline float __expf(float x) { return std::exp(x); }
inline float __logf(float x) { return std::log(x); }
inline float __sinf(float x) { return std::sin(x); }
inline float __cosf(float x) { return std::cos(x); }
inline float __tanhf(float x) { return std::tanh(x); }
inline float __powf(float x, float y) { return std::pow(x, y); }
inline float __fdividef(float x, float y) { return x / y; }
inline float __frcp_rn(float x) { return 1.0f / x; }
inline float __fsqrt_rn(float x) { return std::sqrt(x); }
inline float __fmaf_rn(float a, float b, float c) { return std::fma(a, b, c); }
inline float __fmul_rn(float a, float b) { return a * b; }  // never contracted into an FMA (nor is it here: no -mfma)
inline float __saturatef(float x) { return x < 0.0f ? 0.0f : (x > 1.0f ? 1.0f : x); }
inline float rsqrtf(float x) { return 1.0f / std::sqrt(x); }
inline double rsqrt(double x) { return 1.0 / std::sqrt(x); }
inline int __float_as_int(float x) { int i; std::memcpy(&i, &x, 4); return i; }
inline float __int_as_float(int i) { float x; std::memcpy(&x, &i, 4); return x; }
inline unsigned __float_as_uint(float x) { unsigned i; std::memcpy(&i, &x, 4); return i; }
inline float __uint_as_float(unsigned i) { float x; std::memcpy(&x, &i, 4); return x; }
using std::isinf; using std::isnan; using std::isfinite;  // expf, fmaxf, erff ... come from math.h

// bfloat16, as cuda_bf16.h: the bits of the float's upper half, rounded to nearest even
struct __nv_bfloat16 { uint16_t x; };
inline float __bfloat162float(__nv_bfloat16 b) { uint32_t u = (uint32_t)b.x << 16; float f; std::memcpy(&f, &u, 4); return f; }
inline __nv_bfloat16 __float2bfloat16(float f) {
    uint32_t u;
    std::memcpy(&u, &f, 4);
    __nv_bfloat16 b;
    if ((u & 0x7fffffffu) > 0x7f800000u) b.x = (uint16_t)((u >> 16) | 0x40u);  // NaN stays a (quiet) NaN
    else b.x = (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
    return b;
}
inline __nv_bfloat16 __float2bfloat16_rn(float f) { return __float2bfloat16(f); }

// ---- the runtime API subset ----
typedef int cudaError_t;
typedef struct l4j_emu_stream *cudaStream_t;
typedef struct l4j_emu_event *cudaEvent_t;
enum { cudaSuccess = 0, cudaErrorInvalidValue = 1, cudaErrorMemoryAllocation = 2, cudaErrorInvalidConfiguration = 9,
       cudaErrorLaunchOutOfResources = 701, cudaErrorNoDevice = 100, cudaErrorLaunchFailure = 719 };
enum cudaMemcpyKind { cudaMemcpyHostToHost = 0, cudaMemcpyHostToDevice = 1, cudaMemcpyDeviceToHost = 2,
                      cudaMemcpyDeviceToDevice = 3, cudaMemcpyDefault = 4 };
enum cudaFuncAttribute { cudaFuncAttributeMaxDynamicSharedMemorySize = 8 };
enum cudaDeviceAttr { cudaDevAttrMemoryPoolsSupported = 115 };
// the emulated device has stream-ordered memory pools (cudaMallocAsync)
inline cudaError_t cudaDeviceGetAttribute(int *value, cudaDeviceAttr, int device) {
    if (!value || device != 0) return cudaErrorInvalidValue;
    *value = 1;
    return cudaSuccess;
}
struct cudaDeviceProp { char name[256]; size_t totalGlobalMem; size_t sharedMemPerBlock; size_t sharedMemPerBlockOptin;
                        int multiProcessorCount; int major; int minor; int warpSize; int maxThreadsPerBlock; };
#define cudaStreamNonBlocking 1
#define cudaHostAllocDefault 0

cudaError_t cudaGetDeviceCount(int *n);
cudaError_t cudaSetDevice(int d);
cudaError_t cudaGetDevice(int *d);
cudaError_t cudaGetDeviceProperties(cudaDeviceProp *p, int d);
cudaError_t cudaMalloc(void **p, size_t bytes);
cudaError_t cudaFree(void *p);
// stream-ordered allocation: the emulation runs every launch at once, so this is plain allocation
inline cudaError_t cudaMallocAsync(void **p, size_t bytes, cudaStream_t) { return cudaMalloc(p, bytes); }
inline cudaError_t cudaFreeAsync(void *p, cudaStream_t) { return cudaFree(p); }
cudaError_t cudaMallocHost(void **p, size_t bytes);
cudaError_t cudaHostAlloc(void **p, size_t bytes, unsigned flags);
cudaError_t cudaFreeHost(void *p);
cudaError_t cudaMemGetInfo(size_t *free_bytes, size_t *total_bytes);
cudaError_t cudaMemcpy(void *dst, const void *src, size_t bytes, cudaMemcpyKind kind);
cudaError_t cudaMemcpyAsync(void *dst, const void *src, size_t bytes, cudaMemcpyKind kind, cudaStream_t s = nullptr);
cudaError_t cudaMemcpy2DAsync(void *dst, size_t dpitch, const void *src, size_t spitch, size_t width, size_t height,
                              cudaMemcpyKind kind, cudaStream_t s = nullptr);
cudaError_t cudaMemset(void *p, int value, size_t bytes);
cudaError_t cudaMemsetAsync(void *p, int value, size_t bytes, cudaStream_t s = nullptr);
cudaError_t cudaStreamCreate(cudaStream_t *s);
cudaError_t cudaStreamCreateWithFlags(cudaStream_t *s, unsigned flags);
cudaError_t cudaStreamDestroy(cudaStream_t s);
cudaError_t cudaStreamSynchronize(cudaStream_t s);
cudaError_t cudaStreamWaitEvent(cudaStream_t s, cudaEvent_t e, unsigned flags = 0);
cudaError_t cudaDeviceSynchronize();
cudaError_t cudaEventCreate(cudaEvent_t *e);
cudaError_t cudaEventDestroy(cudaEvent_t e);
cudaError_t cudaEventRecord(cudaEvent_t e, cudaStream_t s = nullptr);
cudaError_t cudaEventSynchronize(cudaEvent_t e);
cudaError_t cudaEventElapsedTime(float *ms, cudaEvent_t a, cudaEvent_t b);
cudaError_t cudaGetLastError();
cudaError_t cudaPeekAtLastError();
const char *cudaGetErrorString(cudaError_t e);
template <class F> inline cudaError_t cudaFuncSetAttribute(F, cudaFuncAttribute, int value) {
    return value >= 0 && value <= 232448 ? cudaSuccess : cudaErrorInvalidValue;
}
