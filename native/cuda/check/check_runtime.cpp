// Checks of runtime.cu: memory, copies, streams, errors, and the first kernel (add).
#include "check.h"
using namespace l4jcheck;

L4JC_CHECK_CASE(runtime_memory_and_copies) {
    std::vector<float> a = randn(1000, 1);
    Dev<float> d(a);
    expect_equal(d.get(), a, "round trip");
    void *z = nullptr;
    ok(l4jc_malloc(&z, 4096), "malloc");
    std::vector<float> zeros(1024, 1.0f);
    ok(l4jc_memcpy(zeros.data(), z, 4096, 1), "download");
    for (float v : zeros) if (v != 0.0f) fail("l4jc_malloc is not zero-filled");
    ok(l4jc_free(z), "free");
    if (l4jc_malloc(&z, 0) != L4J_ERR_ARG) fail("malloc of 0 bytes accepted");
    if (l4jc_memcpy(d.p, a.data(), 4, 3) != L4J_ERR_ARG) fail("copy kind 3 accepted");
    int64_t free_b = 0, total_b = 0;
    ok(l4jc_mem_info(&free_b, &total_b), "mem_info");
    if (!(free_b > 0 && free_b <= total_b)) fail("mem_info: free " + std::to_string(free_b) + " of " + std::to_string(total_b));
}

L4JC_CHECK_CASE(runtime_streams) {
    void *s = nullptr;
    ok(l4jc_stream_create(&s), "stream_create");
    std::vector<float> a = randn(3000, 2), b = randn(3000, 3), want(3000);
    for (size_t i = 0; i < a.size(); i++) want[i] = a[i] + b[i];
    Dev<float> da(a.size()), db(b.size()), dc(a.size());
    ok(l4jc_memcpy_async(da.p, a.data(), 12000, 0, s), "memcpy_async");
    ok(l4jc_memcpy_async(db.p, b.data(), 12000, 0, s), "memcpy_async");
    ok(l4jc_add(3000, da.p, db.p, dc.p, s), "add");
    ok(l4jc_stream_synchronize(s), "stream_synchronize");
    expect_equal(dc.get(), want, "add on a stream");
    ok(l4jc_stream_destroy(s), "stream_destroy");
}

L4JC_CHECK_CASE(add_matches_cpu) {
    for (int64_t n : {1, 31, 256, 257, 100003}) {
        std::vector<float> a = randn(n, 10 + n), b = randn(n, 20 + n), want(n);
        ok(l4j_add(n, a.data(), b.data(), want.data()), "l4j_add");
        Dev<float> da(a), db(b), dc(n);
        ok(l4jc_add(n, da.p, db.p, dc.p, nullptr), "l4jc_add");
        expect_equal(dc.get(), want, "add n=" + std::to_string(n));
    }
    if (timing()) {
        const int64_t n = 1 << 26;
        Dev<float> a(n), b(n), c(n);
        double ms = time_ms([&] { ok(l4jc_add(n, a.p, b.p, c.p, nullptr), "add"); });
        report_time("add", "n=2^26", ms, 12.0 * n, (double)n);
    }
}
