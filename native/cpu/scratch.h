// Per-thread packing buffers kept between GEMM calls: a fresh malloc of a few MB per GEMM is an mmap, page faults
// and a munmap whose TLB shootdowns stall the other threads (a forward makes hundreds of these calls). Buffers over
// kKeepBytes are freed after the call (trim), so a huge one-off product does not stay resident.
#pragma once
#include <cstddef>
#include <cstdlib>

namespace l4j {
struct Scratch {
    static constexpr size_t kKeepBytes = (size_t)32 << 20;
    void *p = nullptr;
    size_t n = 0;
    ~Scratch() { std::free(p); }
    Scratch() = default;
    Scratch(const Scratch &) = delete;
    Scratch &operator=(const Scratch &) = delete;
    // 64-byte aligned, so packed panels load on cache-line boundaries
    void *get(size_t bytes) {
        if (bytes <= n) return p;
        bytes = (bytes + 63) / 64 * 64;
        void *q = std::aligned_alloc(64, bytes);
        if (!q) return nullptr;
        std::free(p);
        p = q;
        n = bytes;
        return p;
    }
    void trim() {
        if (n > kKeepBytes) { std::free(p); p = nullptr; n = 0; }
    }
};
}  // namespace l4j
