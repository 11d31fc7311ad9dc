// Runner of the kernel checks (see check.h). Exit 0 when all pass (or, on a real build, when there is no GPU: it
// says so), 1 on any failure. Arguments: --time (report kernel times), a substring to run only matching cases.
#include "check.h"
#include <cstring>

namespace l4jcheck {
std::vector<Case> &registry() { static std::vector<Case> r; return r; }
static bool g_timing = false;
bool timing() { return g_timing; }

void report_time(const std::string &kernel, const std::string &shape, double ms, double bytes, double flops) {
    std::printf("time %-28s %-34s %9.4f ms  %8.1f GB/s  %9.1f GFLOP/s\n", kernel.c_str(), shape.c_str(), ms,
                bytes / (ms * 1e6), flops / (ms * 1e6));
}

void expect_close(const std::vector<float> &got, const std::vector<float> &want, float tol, const std::string &what) {
    if (got.size() != want.size()) fail(what + ": size " + std::to_string(got.size()) + " vs " + std::to_string(want.size()));
    float ref = 1.0f;
    for (float w : want) if (std::isfinite(w)) ref = std::max(ref, std::fabs(w));
    for (size_t i = 0; i < got.size(); i++) {
        const float g = got[i], w = want[i];
        if (std::isnan(w) || std::isinf(w)) {
            if (!(std::isnan(w) ? std::isnan(g) : g == w)) fail(what + ": at " + std::to_string(i) + " got " + std::to_string(g) + ", want " + std::to_string(w));
            continue;
        }
        if (!(std::fabs(g - w) <= tol * ref))
            fail(what + ": at " + std::to_string(i) + " got " + std::to_string(g) + ", want " + std::to_string(w) +
                 " (tolerance " + std::to_string(tol * ref) + ")");
    }
}

double time_ms(const std::function<void()> &f, int reps) {
    f();
    ok(l4jc_synchronize(), "synchronize");
    auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < reps; i++) f();
    ok(l4jc_synchronize(), "synchronize");
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count() / reps;
}
}  // namespace l4jcheck

int main(int argc, char **argv) {
    const char *filter = nullptr;
    for (int i = 1; i < argc; i++) {
        if (!std::strcmp(argv[i], "--time")) l4jcheck::g_timing = !l4jc_is_emulated();  // emulated times mean nothing
        else filter = argv[i];
    }
    if (l4jc_device_count() == 0) { std::printf("no CUDA device: nothing checked\n"); return 0; }
    char name[256] = "";
    l4jc_device_name(0, name, sizeof name);
    int passed = 0, failed = 0;
    for (auto &c : l4jcheck::registry()) {
        if (filter && !std::strstr(c.name, filter)) continue;
        try {
            c.run();
            passed++;
        } catch (const std::exception &e) {
            failed++;
            std::printf("FAIL %s: %s\n", c.name, e.what());
        }
    }
    if (failed) { std::printf("%d of %d checks failed on %s\n", failed, passed + failed, name); return 1; }
    std::printf("ok: %d checks passed on %s\n", passed, name);
    return 0;
}
