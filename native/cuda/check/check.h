// The kernel checks: every l4jc_* kernel against its l4j_* CPU twin (compiled into the same binary) on random
// inputs, including ragged sizes. Built as lens4j_cuda_check (the GPU) and lens4j_cuda_emu_check (the emulation).
// A check file registers cases with L4JC_CHECK_CASE(name) { ... } and uses the helpers below; a failed
// expectation throws, the runner reports it and goes on. With --time, cases also report their kernel's time.
#pragma once
#include "lens4j.h"
#include "lens4j_cuda.h"
#include "lens4j_ops.h"
#include "lens4j_scan.h"
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

namespace l4jcheck {

struct Case { const char *name; std::function<void()> run; };
std::vector<Case> &registry();
struct Register { Register(const char *n, std::function<void()> f) { registry().push_back({n, std::move(f)}); } };
bool timing();  // --time given
// a line of the timing report: kernel, shape, milliseconds per call, bytes moved and FLOPs per call
void report_time(const std::string &kernel, const std::string &shape, double ms, double bytes, double flops);

#define L4JC_CHECK_CASE(name) \
    static void name(); \
    static l4jcheck::Register name##_reg(#name, name); \
    static void name()

[[noreturn]] inline void fail(const std::string &msg) { throw std::runtime_error(msg); }
inline void ok(int status, const char *what) {
    if (status != L4J_OK) {
        char buf[512] = "";
        l4jc_last_error(buf, sizeof buf);
        fail(std::string(what) + " returned status " + std::to_string(status) + " (" + buf + ")");
    }
}

inline std::vector<float> randn(size_t n, uint64_t seed, float scale = 1.0f) {
    std::mt19937_64 g(seed);
    std::normal_distribution<float> d(0.0f, scale);
    std::vector<float> v(n);
    for (auto &x : v) x = d(g);
    return v;
}
inline std::vector<int32_t> randint(size_t n, int32_t hi, uint64_t seed) {
    std::mt19937_64 g(seed);
    std::uniform_int_distribution<int32_t> d(0, hi - 1);
    std::vector<int32_t> v(n);
    for (auto &x : v) x = d(g);
    return v;
}

// A device buffer owning its memory (filled with garbage unless uploaded).
template <class T> struct Dev {
    T *p = nullptr;
    size_t n = 0;
    explicit Dev(size_t count) : n(count) { ok(l4jc_malloc_uninit((void **)&p, (int64_t)(std::max<size_t>(count, 1) * sizeof(T))), "malloc"); }
    explicit Dev(const std::vector<T> &host) : Dev(host.size()) { upload(host); }
    ~Dev() { if (p) l4jc_free(p); }
    Dev(const Dev &) = delete;
    Dev &operator=(const Dev &) = delete;
    void upload(const std::vector<T> &host) { ok(l4jc_memcpy(p, host.data(), (int64_t)(host.size() * sizeof(T)), 0), "upload"); }
    std::vector<T> get() const {
        std::vector<T> h(n);
        ok(l4jc_synchronize(), "synchronize");
        ok(l4jc_memcpy(h.data(), p, (int64_t)(n * sizeof(T)), 1), "download");
        return h;
    }
};

// |got - want| <= tol * max(1, max|want|) everywhere; NaN / inf must match exactly. Names the first bad index.
void expect_close(const std::vector<float> &got, const std::vector<float> &want, float tol, const std::string &what);
template <class T> void expect_equal(const std::vector<T> &got, const std::vector<T> &want, const std::string &what) {
    if (got.size() != want.size()) fail(what + ": size " + std::to_string(got.size()) + " vs " + std::to_string(want.size()));
    for (size_t i = 0; i < got.size(); i++)
        if (!(got[i] == want[i])) fail(what + ": differs at " + std::to_string(i));
}

// milliseconds per call of f (after a warm-up call), synchronised; only when timing()
double time_ms(const std::function<void()> &f, int reps = 20);

}  // namespace l4jcheck
