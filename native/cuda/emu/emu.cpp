// The CUDA emulation's scheduler and runtime API (see cuda_emu.h): each block's threads are ucontext fibers on the
// calling OS thread, resumed in rounds (each runnable fiber once per round, in a seeded shuffled order in strict
// mode); a fiber yields only at a barrier or warp collective, so a kernel without them runs each thread to
// completion in turn. Device memory is host memory of the exact size asked (an AddressSanitizer build catches
// overflows), tracked so tests can check it stays flat.
#include "cuda_emu.h"
#include <ucontext.h>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/common_interface_defs.h>
#define L4J_EMU_ASAN 1
#endif

// the __shared__ variables of every kernel of this library (cuda_emu.h puts them in this section)
extern "C" char __start_l4j_emu_shared[] __attribute__((weak, visibility("hidden")));
extern "C" char __stop_l4j_emu_shared[] __attribute__((weak, visibility("hidden")));

namespace l4j_emu {
namespace {
#ifdef L4J_EMU_ASAN
constexpr size_t kStackBytes = 512 * 1024;  // instrumented frames are larger
#else
constexpr size_t kStackBytes = 128 * 1024;
#endif
constexpr unsigned kMaxThreads = 1024;
constexpr size_t kMaxSmem = 232448;  // 227 KiB, the H100/H200 opt-in limit per block

// strict mode (default on): shuffled rounds, divergence checks, poisoned static shared memory
struct Settings {
    bool strict = true;
    uint64_t seed = 1;
    Settings() {
        if (const char *e = std::getenv("L4J_EMU_STRICT")) strict = std::string(e) != "0";
        if (const char *e = std::getenv("L4J_EMU_SEED")) seed = std::strtoull(e, nullptr, 10);
    }
};
const Settings &settings() { static const Settings s; return s; }

enum class State { Runnable, AtBarrier, Done };
struct Fiber {
    ucontext_t ctx;
    uint3 tid;
    int linear;
    State state;
    const char *barrier_file;  // where it waits (AtBarrier)
    int barrier_line;
};
struct WarpSlot { uint32_t value, mask; uint64_t round; };

struct Block {
    std::vector<Fiber> fibers;
    std::vector<char *> stacks;
    ucontext_t scheduler;
    Fiber *current = nullptr;
    const std::function<void()> *body = nullptr;
    const char *kernel = "";
    uint3 block_idx{0, 0, 0};
    dim3 block_dim, grid_dim;
    std::vector<unsigned char> smem;
    std::vector<WarpSlot> warp_slots;  // one per thread, for shuffles and ballots
    uint64_t round = 0;                // the scheduler's current round
    std::vector<int> order;            // this round's resume order
    bool diverged = false;             // a divergence was reported for this launch
#ifdef L4J_EMU_ASAN
    const void *sched_stack = nullptr;
    size_t sched_stack_size = 0;
#endif
};
thread_local Block *g_block = nullptr;
thread_local cudaError_t g_last_error = cudaSuccess;
thread_local std::string g_failure;  // what cudaErrorLaunchFailure means this time
const uint3 kZero{0, 0, 0};
const dim3 kOne{1, 1, 1};

std::mutex g_mem_mutex;
std::unordered_map<void *, size_t> g_device_allocs;
std::atomic<size_t> g_device_bytes{0};
constexpr size_t kTotalMem = (size_t)141 << 30;  // an H200's 141 GB

// a kernel's threads did something a GPU leaves undefined: the launch fails (first report per launch kept)
void diverge(Block &b, const std::string &what) {
    if (b.diverged) return;
    b.diverged = true;
    g_failure = "unspecified launch failure: " + std::string(b.kernel) + " block (" + std::to_string(b.block_idx.x) +
                "," + std::to_string(b.block_idx.y) + "," + std::to_string(b.block_idx.z) + "): " + what;
    g_last_error = cudaErrorLaunchFailure;
}

#ifdef L4J_EMU_ASAN
// AddressSanitizer must be told when the stack changes under it
void switch_begin(void **fake, const void *bottom, size_t size) { __sanitizer_start_switch_fiber(fake, bottom, size); }
void switch_end(void *fake, const void **bottom, size_t *size) { __sanitizer_finish_switch_fiber(fake, bottom, size); }
#endif

void fiber_entry(unsigned lo, unsigned hi) {
    Block *b = (Block *)(((uintptr_t)hi << 32) | lo);
#ifdef L4J_EMU_ASAN
    switch_end(nullptr, &b->sched_stack, &b->sched_stack_size);
#endif
    (*b->body)();
    b->current->state = State::Done;
#ifdef L4J_EMU_ASAN
    switch_begin(nullptr, b->sched_stack, b->sched_stack_size);  // this fiber's stack is finished with
#endif
    // returning resumes uc_link, the scheduler
}

void yield_to_scheduler() {
    Block *b = g_block;
#ifdef L4J_EMU_ASAN
    void *fake = nullptr;
    switch_begin(&fake, b->sched_stack, b->sched_stack_size);
    swapcontext(&b->current->ctx, &b->scheduler);
    switch_end(fake, nullptr, nullptr);
#else
    swapcontext(&b->current->ctx, &b->scheduler);
#endif
}

void resume(Block &b, int i) {
    b.current = &b.fibers[i];
#ifdef L4J_EMU_ASAN
    void *fake = nullptr;
    switch_begin(&fake, b.stacks[i], kStackBytes);
    swapcontext(&b.scheduler, &b.fibers[i].ctx);
    switch_end(fake, nullptr, nullptr);
#else
    swapcontext(&b.scheduler, &b.fibers[i].ctx);
#endif
}

std::string site(const Fiber &f) {
    const char *slash = std::strrchr(f.barrier_file, '/');
    return std::string(slash ? slash + 1 : f.barrier_file) + ":" + std::to_string(f.barrier_line);
}

// every thread not done waits at a barrier: a GPU needs all of them there, at one __syncthreads
void check_barrier(Block &b) {
    int done = 0, waiting = 0;
    const Fiber *first = nullptr;
    for (const Fiber &f : b.fibers) {
        if (f.state == State::Done) done++;
        if (f.state != State::AtBarrier) continue;
        waiting++;
        if (!first) { first = &f; continue; }
        if (f.barrier_line != first->barrier_line || std::strcmp(f.barrier_file, first->barrier_file) != 0)
            diverge(b, "threads " + std::to_string(first->linear) + " and " + std::to_string(f.linear) +
                           " wait at different __syncthreads (" + site(*first) + ", " + site(f) + ")");
    }
    if (done && first)
        diverge(b, "__syncthreads at " + site(*first) + " reached by " + std::to_string(waiting) + " of " +
                       std::to_string(b.fibers.size()) + " threads (the others returned)");
}

void run_block(Block &b, std::mt19937_64 *shuffle) {
    const int n = (int)b.fibers.size();
    for (int i = 0; i < n; i++) {
        Fiber &f = b.fibers[i];
        f.state = State::Runnable;
        getcontext(&f.ctx);
        f.ctx.uc_stack.ss_sp = b.stacks[i];
        f.ctx.uc_stack.ss_size = kStackBytes;
        f.ctx.uc_link = &b.scheduler;
        const uintptr_t self = (uintptr_t)&b;
        makecontext(&f.ctx, (void (*)())fiber_entry, 2, (unsigned)(self & 0xffffffffu), (unsigned)(self >> 32));
    }
    for (auto &w : b.warp_slots) w = WarpSlot{0, 0, ~(uint64_t)0};
    b.order.resize(n);
    for (int i = 0; i < n; i++) b.order[i] = i;
    for (;;) {
        b.round++;
        if (shuffle) std::shuffle(b.order.begin(), b.order.end(), *shuffle);
        bool any_runnable = false, any_waiting = false;
        for (int i : b.order) {
            if (b.fibers[i].state != State::Runnable) continue;
            any_runnable = true;
            resume(b, i);
        }
        for (int i = 0; i < n; i++) {
            if (b.fibers[i].state == State::Runnable) any_runnable = true;
            if (b.fibers[i].state == State::AtBarrier) any_waiting = true;
        }
        if (!any_runnable && !any_waiting) break;
        // every thread still running has reached __syncthreads: release them together
        if (!any_runnable) {
            if (settings().strict) check_barrier(b);
            for (int i = 0; i < n; i++)
                if (b.fibers[i].state == State::AtBarrier) b.fibers[i].state = State::Runnable;
        }
    }
    b.current = nullptr;
}

// in strict mode a collective's lanes must all have arrived in the same round, with the same mask
void check_warp(Block &b, int me, uint32_t mask, const char *what) {
    if (!settings().strict) return;
    const int warp0 = me & ~31, n = (int)b.fibers.size();
    for (int l = 0; l < 32; l++) {
        if (!(mask >> l & 1u)) continue;
        if (warp0 + l >= n) {
            diverge(b, std::string(what) + " mask names lane " + std::to_string(l) + " of warp " +
                           std::to_string(warp0 / 32) + ", beyond the block's " + std::to_string(n) + " threads");
            return;
        }
        const WarpSlot &w = b.warp_slots[warp0 + l];
        if (w.round != b.warp_slots[me].round || w.mask != mask) {
            diverge(b, std::string(what) + " by thread " + std::to_string(me) + " with mask 0x" +
                           [&] { char h[16]; std::snprintf(h, sizeof h, "%08x", mask); return std::string(h); }() +
                           ": thread " + std::to_string(warp0 + l) + " is not at the same exchange");
            return;
        }
    }
}
}  // namespace

const uint3 &thread_idx() { return g_block && g_block->current ? g_block->current->tid : kZero; }
const uint3 &block_idx() { return g_block ? g_block->block_idx : kZero; }
const dim3 &block_dim() { return g_block ? g_block->block_dim : kOne; }
const dim3 &grid_dim() { return g_block ? g_block->grid_dim : kOne; }
void *dynamic_smem() { return g_block && !g_block->smem.empty() ? g_block->smem.data() : nullptr; }
int lane_id() { return g_block && g_block->current ? (g_block->current->linear & 31) : 0; }

void sync_threads(const char *file, int line) {
    if (!g_block || !g_block->current) return;
    g_block->current->state = State::AtBarrier;
    g_block->current->barrier_file = file;
    g_block->current->barrier_line = line;
    yield_to_scheduler();
}

void sync_warp() {
    if (!g_block || !g_block->current) return;
    yield_to_scheduler();  // stays runnable: resumes next round, after every lane ran up to here
}

uint32_t warp_exchange(uint32_t mine, int src, uint32_t mask) {
    Block *b = g_block;
    if (!b || !b->current) return mine;
    const int me = b->current->linear, warp0 = me & ~31;
    b->warp_slots[me] = WarpSlot{mine, mask, b->round};
    yield_to_scheduler();                  // every lane has written its slot
    check_warp(*b, me, mask, "__shfl_sync");
    const int from = warp0 + (src & 31);
    const uint32_t v = from < (int)b->fibers.size() ? b->warp_slots[from].value : mine;
    yield_to_scheduler();                  // every lane has read before any writes again
    return v;
}

uint32_t warp_ballot(bool pred, uint32_t mask) {
    Block *b = g_block;
    if (!b || !b->current) return pred ? 1u : 0u;
    const int me = b->current->linear, warp0 = me & ~31;
    b->warp_slots[me] = WarpSlot{pred ? 1u : 0u, mask, b->round};
    yield_to_scheduler();
    check_warp(*b, me, mask, "__ballot_sync");
    uint32_t bits = 0;
    for (int l = 0; l < 32 && warp0 + l < (int)b->fibers.size(); l++)
        if ((mask >> l & 1u) && b->warp_slots[warp0 + l].value) bits |= 1u << l;
    yield_to_scheduler();
    return bits;
}

void launch(dim3 grid, dim3 block, size_t smem, void *stream, const char *kernel, const std::function<void()> &body) {
    (void)stream;
    const uint64_t threads = (uint64_t)block.x * block.y * block.z;
    if (threads == 0 || threads > kMaxThreads || block.z > 64 || grid.x == 0 || grid.y == 0 || grid.z == 0 ||
        grid.y > 65535 || grid.z > 65535 || grid.x > 2147483647u) {
        g_last_error = cudaErrorInvalidConfiguration;
        return;
    }
    if (smem > kMaxSmem) { g_last_error = cudaErrorLaunchOutOfResources; return; }
    // __shared__ arrays are static, one copy per kernel: kernels from several OS threads run one at a time
    static std::recursive_mutex launch_mutex;
    std::lock_guard<std::recursive_mutex> serial(launch_mutex);
    Block b;
    b.block_dim = block;
    b.grid_dim = grid;
    b.body = &body;
    b.kernel = kernel;
    b.fibers.resize(threads);
    b.warp_slots.resize(threads);
    b.smem.assign(smem, 0);
    static thread_local std::vector<char *> stack_pool;  // kept for the next launch on this thread
    while (stack_pool.size() < threads) stack_pool.push_back((char *)std::malloc(kStackBytes));
    b.stacks.assign(stack_pool.begin(), stack_pool.begin() + threads);
    for (uint64_t i = 0; i < threads; i++) {
        Fiber &f = b.fibers[i];
        f.linear = (int)i;
        f.tid = uint3{(unsigned)(i % block.x), (unsigned)((i / block.x) % block.y), (unsigned)(i / ((uint64_t)block.x * block.y))};
    }
    // one stream of shuffles for the whole process, so a run is reproducible for a seed
    static std::mt19937_64 shuffle(settings().seed);
    const bool strict = settings().strict;
    const size_t static_smem = __start_l4j_emu_shared && __stop_l4j_emu_shared
                                   ? (size_t)(__stop_l4j_emu_shared - __start_l4j_emu_shared) : 0;
    Block *outer = g_block;
    g_block = &b;
    for (unsigned z = 0; z < grid.z; z++)
        for (unsigned y = 0; y < grid.y; y++)
            for (unsigned x = 0; x < grid.x; x++) {
                b.block_idx = uint3{x, y, z};
                if (smem) std::memset(b.smem.data(), 0xff, smem);  // garbage, as a GPU's shared memory
                if (strict && static_smem) std::memset(__start_l4j_emu_shared, 0xff, static_smem);
                run_block(b, strict ? &shuffle : nullptr);
            }
    g_block = outer;
}
}  // namespace l4j_emu

using l4j_emu::g_last_error;


static cudaError_t fail(cudaError_t e) { g_last_error = e; return e; }

cudaError_t cudaGetDeviceCount(int *n) { if (!n) return fail(cudaErrorInvalidValue); *n = 1; return cudaSuccess; }
cudaError_t cudaSetDevice(int d) { return d == 0 ? cudaSuccess : fail(cudaErrorInvalidValue); }
cudaError_t cudaGetDevice(int *d) { if (d) *d = 0; return cudaSuccess; }
cudaError_t cudaGetDeviceProperties(cudaDeviceProp *p, int d) {
    if (!p || d != 0) return fail(cudaErrorInvalidValue);
    std::memset(p, 0, sizeof *p);
    std::snprintf(p->name, sizeof p->name, "lens4j CUDA emulation (CPU)");
    p->totalGlobalMem = l4j_emu::kTotalMem;
    p->sharedMemPerBlock = 49152;
    p->sharedMemPerBlockOptin = l4j_emu::kMaxSmem;
    p->multiProcessorCount = 132;
    p->major = 9;
    p->warpSize = 32;
    p->maxThreadsPerBlock = 1024;
    return cudaSuccess;
}
cudaError_t cudaMalloc(void **p, size_t bytes) {
    if (!p) return fail(cudaErrorInvalidValue);
    // exactly the bytes asked (256-aligned, as cudaMalloc): one past the end is outside the allocation
    void *m = nullptr;
    if (posix_memalign(&m, 256, std::max<size_t>(bytes, 1)) != 0) return fail(cudaErrorMemoryAllocation);
    std::memset(m, 0xa5, bytes);  // device memory starts as garbage
    std::lock_guard<std::mutex> g(l4j_emu::g_mem_mutex);
    l4j_emu::g_device_allocs[m] = bytes;
    l4j_emu::g_device_bytes += bytes;
    *p = m;
    return cudaSuccess;
}
cudaError_t cudaFree(void *p) {
    if (!p) return cudaSuccess;
    std::lock_guard<std::mutex> g(l4j_emu::g_mem_mutex);
    auto it = l4j_emu::g_device_allocs.find(p);
    if (it == l4j_emu::g_device_allocs.end()) return fail(cudaErrorInvalidValue);
    l4j_emu::g_device_bytes -= it->second;
    l4j_emu::g_device_allocs.erase(it);
    std::free(p);
    return cudaSuccess;
}
cudaError_t cudaMallocHost(void **p, size_t bytes) {
    if (!p) return fail(cudaErrorInvalidValue);
    *p = std::malloc(std::max<size_t>(bytes, 1));
    return *p ? cudaSuccess : fail(cudaErrorMemoryAllocation);
}
cudaError_t cudaHostAlloc(void **p, size_t bytes, unsigned) { return cudaMallocHost(p, bytes); }
cudaError_t cudaFreeHost(void *p) { std::free(p); return cudaSuccess; }
cudaError_t cudaMemGetInfo(size_t *free_bytes, size_t *total_bytes) {
    if (total_bytes) *total_bytes = l4j_emu::kTotalMem;
    if (free_bytes) *free_bytes = l4j_emu::kTotalMem - l4j_emu::g_device_bytes.load();
    return cudaSuccess;
}
cudaError_t cudaMemcpy(void *dst, const void *src, size_t bytes, cudaMemcpyKind) {
    if (bytes && (!dst || !src)) return fail(cudaErrorInvalidValue);
    if (bytes) std::memmove(dst, src, bytes);
    return cudaSuccess;
}
cudaError_t cudaMemcpyAsync(void *dst, const void *src, size_t bytes, cudaMemcpyKind k, cudaStream_t) {
    return cudaMemcpy(dst, src, bytes, k);
}
cudaError_t cudaMemcpy2DAsync(void *dst, size_t dpitch, const void *src, size_t spitch, size_t width, size_t height,
                              cudaMemcpyKind, cudaStream_t) {
    if (width > dpitch || width > spitch) return fail(cudaErrorInvalidValue);
    for (size_t r = 0; r < height; r++) std::memmove((char *)dst + r * dpitch, (const char *)src + r * spitch, width);
    return cudaSuccess;
}
cudaError_t cudaMemset(void *p, int value, size_t bytes) {
    if (bytes && !p) return fail(cudaErrorInvalidValue);
    if (bytes) std::memset(p, value, bytes);
    return cudaSuccess;
}
cudaError_t cudaMemsetAsync(void *p, int value, size_t bytes, cudaStream_t) { return cudaMemset(p, value, bytes); }
struct l4j_emu_stream { int unused; };
struct l4j_emu_event { int unused; };
cudaError_t cudaStreamCreate(cudaStream_t *s) { if (!s) return fail(cudaErrorInvalidValue); *s = new l4j_emu_stream(); return cudaSuccess; }
cudaError_t cudaStreamCreateWithFlags(cudaStream_t *s, unsigned) { return cudaStreamCreate(s); }
cudaError_t cudaStreamDestroy(cudaStream_t s) { delete s; return cudaSuccess; }
cudaError_t cudaStreamSynchronize(cudaStream_t) { return cudaSuccess; }
cudaError_t cudaStreamWaitEvent(cudaStream_t, cudaEvent_t, unsigned) { return cudaSuccess; }
cudaError_t cudaDeviceSynchronize() { return cudaSuccess; }
cudaError_t cudaEventCreate(cudaEvent_t *e) { if (!e) return fail(cudaErrorInvalidValue); *e = new l4j_emu_event(); return cudaSuccess; }
cudaError_t cudaEventDestroy(cudaEvent_t e) { delete e; return cudaSuccess; }
cudaError_t cudaEventRecord(cudaEvent_t, cudaStream_t) { return cudaSuccess; }
cudaError_t cudaEventSynchronize(cudaEvent_t) { return cudaSuccess; }
cudaError_t cudaEventElapsedTime(float *ms, cudaEvent_t, cudaEvent_t) { if (ms) *ms = 0.0f; return cudaSuccess; }
cudaError_t cudaGetLastError() { cudaError_t e = g_last_error; g_last_error = cudaSuccess; return e; }
cudaError_t cudaPeekAtLastError() { return g_last_error; }
const char *cudaGetErrorString(cudaError_t e) {
    switch (e) {
        case cudaSuccess: return "no error";
        case cudaErrorInvalidValue: return "invalid argument";
        case cudaErrorMemoryAllocation: return "out of memory";
        case cudaErrorInvalidConfiguration: return "invalid configuration argument";
        case cudaErrorLaunchOutOfResources: return "too many resources requested for launch";
        case cudaErrorLaunchFailure: return l4j_emu::g_failure.empty() ? "unspecified launch failure" : l4j_emu::g_failure.c_str();
        default: return "unknown error";
    }
}
