// Checks of the strict emulation itself (cuda_emu.h): broken kernels that a GPU leaves undefined must fail their
// launch with a message naming the kernel, and a race that only shows in another thread order must show under the
// shuffled schedule. Built only against the emulation (these kernels would hang or misbehave on a GPU).
#include "cuda_emu.h"
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#define EMU_LAUNCH(kernel, grid, block, ...) l4j_emu::launch((grid), (block), 0, nullptr, #kernel, [&] { kernel(__VA_ARGS__); })

static int g_failed = 0;
static void expect(bool cond, const std::string &what) {
    std::printf("%s %s\n", cond ? "ok  " : "FAIL", what.c_str());
    if (!cond) g_failed++;
}
// the launch's error and its message (cleared)
static std::string launch_error() {
    const cudaError_t e = cudaGetLastError();
    return e == cudaSuccess ? "" : cudaGetErrorString(e);
}

__global__ void early_return_before_barrier(float *out, int n) {
    __shared__ float s[64];
    const int i = threadIdx.x;
    if (i >= n) return;  // the bug: the remaining threads wait at a barrier these never reach
    s[i] = (float)i;
    __syncthreads();
    out[i] = s[n - 1 - i];
}
__global__ void barrier_in_branch(float *out) {
    __shared__ float s[64];
    s[threadIdx.x] = 1.0f;
    if (threadIdx.x < 32) __syncthreads();
    else __syncthreads();  // a different barrier: undefined on a GPU
    out[threadIdx.x] = s[63 - threadIdx.x];
}
__global__ void good_barrier(float *out) {
    __shared__ float s[64];
    s[threadIdx.x] = (float)threadIdx.x;
    __syncthreads();
    out[threadIdx.x] = s[63 - threadIdx.x];
}
__global__ void shuffle_in_branch(float *out) {
    float v = (float)threadIdx.x;
    if (threadIdx.x % 2 == 0) v += __shfl_xor_sync(0xffffffffu, v, 2);  // odd lanes never join the full mask
    out[threadIdx.x] = v;
}
__global__ void full_mask_partial_warp(float *out) {
    out[threadIdx.x] = __shfl_down_sync(0xffffffffu, (float)threadIdx.x, 1);  // 40 threads: warp 1 has 8 lanes
}
__global__ void good_shuffle(float *out) {
    float v = (float)threadIdx.x;
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    out[threadIdx.x] = v;
}
// a race: thread 0 writes what the others read with no barrier between (in index order thread 0 always runs first)
__global__ void missing_barrier(float *out) {
    __shared__ float s;
    if (threadIdx.x == 0) s = 42.0f;
    out[threadIdx.x] = s;
}
__global__ void read_static_shared(float *out) {
    __shared__ float s[4];
    out[threadIdx.x] = s[threadIdx.x];
}
__global__ void write_static_shared(float v, float *out) {
    __shared__ float s[4];
    s[threadIdx.x] = v;
    out[threadIdx.x] = s[threadIdx.x];
}

int main() {
    const bool strict = !std::getenv("L4J_EMU_STRICT") || std::strcmp(std::getenv("L4J_EMU_STRICT"), "0") != 0;
    float out[64];
    std::string e;
    if (!strict) goto order;  // L4J_EMU_STRICT=0: the divergence checks are off; only the schedule is compared

    EMU_LAUNCH(early_return_before_barrier, dim3(1), dim3(64), out, 40);
    e = launch_error();
    expect(e.find("early_return_before_barrier") != std::string::npos && e.find("selftest.cpp:28 reached by 40 of 64") != std::string::npos,
           "a barrier some threads returned before fails the launch: " + e);
    EMU_LAUNCH(barrier_in_branch, dim3(1), dim3(64), out);
    e = launch_error();
    expect(e.find("barrier_in_branch") != std::string::npos && e.find("different __syncthreads") != std::string::npos,
           "threads at two different barriers fail the launch: " + e);
    EMU_LAUNCH(good_barrier, dim3(2), dim3(64), out);
    e = launch_error();
    expect(e.empty() && out[0] == 63.0f && out[63] == 0.0f, "a barrier every thread reaches passes: " + e);

    EMU_LAUNCH(shuffle_in_branch, dim3(1), dim3(32), out);
    e = launch_error();
    expect(e.find("shuffle_in_branch") != std::string::npos && e.find("not at the same exchange") != std::string::npos,
           "a full-mask shuffle half the lanes skip fails the launch: " + e);
    EMU_LAUNCH(full_mask_partial_warp, dim3(1), dim3(40), out);
    e = launch_error();
    expect(e.find("beyond the block's 40 threads") != std::string::npos,
           "a full-mask shuffle in a partial warp fails the launch: " + e);
    EMU_LAUNCH(good_shuffle, dim3(1), dim3(64), out);
    e = launch_error();
    expect(e.empty() && out[0] == 496.0f && out[63] == 32.0f * 32 + 496.0f, "a warp sum every lane joins passes: " + e);

order:
    // the race shows under the shuffled order: some thread reads s before thread 0 writes it (seeded, so stable)
    int stale = 0;
    for (int rep = 0; rep < 4; rep++) {
        EMU_LAUNCH(missing_barrier, dim3(1), dim3(64), out);
        for (int i = 0; i < 64; i++) stale += out[i] != 42.0f;
    }
    if (strict) expect(stale > 0, "a missing barrier gives stale reads under the shuffled order (" + std::to_string(stale) + " of 256)");
    else expect(stale == 0, "in index order the missing barrier goes unseen (" + std::to_string(stale) + " stale)");

    // static __shared__ memory starts as garbage in every block, not as what the last block left there
    if (strict) {
        EMU_LAUNCH(write_static_shared, dim3(1), dim3(4), 1.0f, out);
        EMU_LAUNCH(read_static_shared, dim3(1), dim3(4), out);
        uint32_t bits;
        std::memcpy(&bits, &out[0], 4);
        expect(bits == 0xffffffffu, "static __shared__ memory is poisoned before each block");
    }
    std::printf(g_failed ? "%d emulation self-checks failed\n" : "ok: emulation self-checks passed\n", g_failed);
    return g_failed ? 1 : 0;
}
