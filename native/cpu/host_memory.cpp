// Host memory for tensors. glibc serves big blocks with mmap and munmaps them on free, so every forward pass
// page-faults its intermediates in afresh (4 KiB at a time) and pays the unmap's TLB shootdowns. Large blocks
// here are mapped 2 MiB-aligned with MADV_HUGEPAGE and, when freed, kept in a process-wide cache of free blocks
// keyed by rounded size, so the next pass reuses resident, huge-page-backed memory.
#include "common.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cstdlib>
#include <mutex>
#include <vector>

namespace {

constexpr int64_t kAlign = 64;
constexpr int64_t kLargeMin = int64_t(1) << 20;  // blocks at least this big are "large"
constexpr int64_t kHuge = int64_t(2) << 20;      // x86-64 transparent huge page
constexpr int64_t kMiB = int64_t(1) << 20;
constexpr int64_t kParallelZero = int64_t(8) << 20;  // memset below this is faster on one thread

struct FreeBlock {
    void *p;
    int64_t size;  // rounded size, a multiple of kHuge
};

std::mutex mu;
std::vector<FreeBlock> cached;  // oldest free first: eviction takes from the front, reuse searches from the back
int64_t cached_bytes = 0;
int64_t limit_bytes = -1;  // -1 until first use, then the default (see default_limit)

// LENS4J_HOST_CACHE_MB: 1 to 12 decimal digits (anything else falls back to the default; Java warns).
bool parse_env_mb(const char *s, int64_t *mb) {
    if (s == nullptr || *s == '\0') return false;
    int64_t v = 0;
    int n = 0;
    for (; *s; s++, n++) {
        if (*s < '0' || *s > '9' || n >= 12) return false;
        v = v * 10 + (*s - '0');
    }
    *mb = v;
    return true;
}

int64_t default_limit() {
    int64_t mb;
    if (parse_env_mb(std::getenv("LENS4J_HOST_CACHE_MB"), &mb)) return mb * kMiB;
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    int64_t gib = int64_t(1) << 30;
    if (pages <= 0 || page <= 0) return gib;
    int64_t eighth = int64_t(pages) / 8 * int64_t(page);
    return eighth < gib ? eighth : gib;
}

// Callers hold mu.
int64_t limit_locked() {
    if (limit_bytes < 0) limit_bytes = default_limit();
    return limit_bytes;
}

// Drops the oldest blocks until the cache holds at most `room` bytes; returns what to unmap (outside the lock).
std::vector<FreeBlock> evict_locked(int64_t room) {
    std::vector<FreeBlock> out;
    size_t n = 0;
    while (n < cached.size() && cached_bytes > room) {
        cached_bytes -= cached[n].size;
        out.push_back(cached[n++]);
    }
    cached.erase(cached.begin(), cached.begin() + n);
    return out;
}

void unmap_all(const std::vector<FreeBlock> &blocks) {
    for (const FreeBlock &b : blocks) munmap(b.p, size_t(b.size));
}

// A fresh 2 MiB-aligned mapping of `size` bytes (a multiple of kHuge) for `bytes` asked, zero-filled by the kernel.
// Only the whole huge pages the request fills are marked MADV_HUGEPAGE: a huge page over the partial last one
// would make its unused tail resident (2 MiB rounding on every weight matrix measured +10-17% RSS at load).
void *map_large(int64_t size, int64_t bytes) {
    if (size > INT64_MAX - kHuge) return nullptr;
    size_t over = size_t(size + kHuge);
    void *raw = mmap(nullptr, over, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (raw == MAP_FAILED) return nullptr;
    uintptr_t start = uintptr_t(raw), aligned = (start + kHuge - 1) & ~uintptr_t(kHuge - 1);
    size_t head = aligned - start, tail = over - head - size_t(size);
    if (head) munmap(raw, head);
    if (tail) munmap(reinterpret_cast<char *>(aligned) + size, tail);
    char *p = reinterpret_cast<char *>(aligned);
    int64_t huge = bytes / kHuge * kHuge;  // hints only: failure changes nothing
    if (huge > 0) madvise(p, size_t(huge), MADV_HUGEPAGE);
    if (huge < size) madvise(p + huge, size_t(size - huge), MADV_NOHUGEPAGE);
    return p;
}

void zero_fill(void *p, int64_t bytes) {
    char *c = static_cast<char *>(p);
    if (bytes < kParallelZero) {
        std::memset(c, 0, size_t(bytes));
        return;
    }
    const int64_t chunk = kMiB, chunks = (bytes + chunk - 1) / chunk;
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < chunks; i++) {
        int64_t from = i * chunk, len = bytes - from < chunk ? bytes - from : chunk;
        std::memset(c + from, 0, size_t(len));
    }
}

// Rounded size of a large block, or -1 when rounding would overflow.
int64_t rounded(int64_t bytes) { return bytes > INT64_MAX - (kHuge - 1) ? -1 : (bytes + kHuge - 1) / kHuge * kHuge; }

}  // namespace

extern "C" void *l4j_host_alloc(int64_t bytes, int zero) {
    if (bytes <= 0) bytes = 1;
    if (bytes < kLargeMin) {
        int64_t size = (bytes + kAlign - 1) / kAlign * kAlign;  // aligned_alloc wants a multiple of the alignment
        void *p = std::aligned_alloc(size_t(kAlign), size_t(size));
        if (p != nullptr && zero) std::memset(p, 0, size_t(size));
        return p;
    }
    int64_t size = rounded(bytes);
    if (size < 0) return nullptr;
    void *reuse = nullptr;
    {
        std::lock_guard<std::mutex> lock(mu);
        for (size_t i = cached.size(); i-- > 0;) {
            if (cached[i].size == size) {  // the most recently freed: its pages are the likeliest still in cache
                reuse = cached[i].p;
                cached_bytes -= size;
                cached.erase(cached.begin() + i);
                break;
            }
        }
    }
    if (reuse == nullptr) return map_large(size, bytes);
    if (zero) zero_fill(reuse, bytes);
    return reuse;
}

extern "C" void l4j_host_free(void *p, int64_t bytes) {
    if (p == nullptr) return;
    if (bytes <= 0) bytes = 1;
    if (bytes < kLargeMin) {
        std::free(p);
        return;
    }
    int64_t size = rounded(bytes);
    if (size < 0) return;  // never allocated: l4j_host_alloc refused this size
    std::vector<FreeBlock> drop;
    {
        std::lock_guard<std::mutex> lock(mu);
        int64_t limit = limit_locked();
        if (size > limit) {
            drop.push_back({p, size});
        } else {
            drop = evict_locked(limit - size);
            cached.push_back({p, size});
            cached_bytes += size;
        }
    }
    unmap_all(drop);
}

extern "C" int64_t l4j_host_cache_bytes(void) {
    std::lock_guard<std::mutex> lock(mu);
    return cached_bytes;
}

extern "C" void l4j_host_cache_release(void) {
    std::vector<FreeBlock> drop;
    {
        std::lock_guard<std::mutex> lock(mu);
        drop = evict_locked(0);
    }
    unmap_all(drop);
}

extern "C" int64_t l4j_host_cache_limit(int64_t bytes) {
    std::vector<FreeBlock> drop;
    int64_t limit;
    {
        std::lock_guard<std::mutex> lock(mu);
        if (bytes >= 0) limit_bytes = bytes;
        limit = limit_locked();
        drop = evict_locked(limit);
    }
    unmap_all(drop);
    return limit;
}
