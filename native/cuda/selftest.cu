// Self-test of the CUDA part of the C ABI, run by CudaSelfTest (JUnit) when a GPU is present.
// Prints "no CUDA device" and exits 0 without one; exits 1 on any mismatch.
#include "lens4j_cuda.h"
#include <cmath>
#include <cstdio>
#include <vector>

int main() {
    int n_dev = l4jc_device_count();
    if (n_dev == 0) { std::printf("no CUDA device\n"); return 0; }
    const int64_t n = 1 << 20;
    std::vector<float> a(n), b(n), out(n, -1.0f);
    for (int64_t i = 0; i < n; i++) { a[i] = std::sin((float)i); b[i] = 0.5f * (float)(i % 97); }
    void *da = nullptr, *db = nullptr, *dc = nullptr;
    if (l4jc_malloc(&da, n * 4) || l4jc_malloc(&db, n * 4) || l4jc_malloc(&dc, n * 4)) { std::printf("malloc failed\n"); return 1; }
    if (l4jc_memcpy(da, a.data(), n * 4, 0) || l4jc_memcpy(db, b.data(), n * 4, 0)) { std::printf("copy failed\n"); return 1; }
    if (l4jc_add(n, (const float *)da, (const float *)db, (float *)dc) || l4jc_synchronize()) { std::printf("add failed\n"); return 1; }
    if (l4jc_memcpy(out.data(), dc, n * 4, 1)) { std::printf("copy back failed\n"); return 1; }
    for (int64_t i = 0; i < n; i++)
        if (out[i] != a[i] + b[i]) { std::printf("mismatch at %lld: %f vs %f\n", (long long)i, out[i], a[i] + b[i]); return 1; }
    if (l4jc_add(-1, (const float *)da, (const float *)db, (float *)dc) != L4J_ERR_ARG) { std::printf("bad n accepted\n"); return 1; }
    l4jc_free(da); l4jc_free(db); l4jc_free(dc);
    std::printf("ok: %d device(s), add of %lld floats matches the host\n", n_dev, (long long)n);
    return 0;
}
