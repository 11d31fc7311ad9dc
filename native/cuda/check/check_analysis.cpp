// Checks of analysis_kernels.cu against the CPU kernels of lens4j_analysis.h (and l4j_index_select for capture).
#include "check.h"
#include "lens4j_analysis.h"
#include <string>
using namespace l4jcheck;

namespace {
std::string dims(std::initializer_list<int64_t> v) {
    std::string s;
    for (int64_t x : v) s += (s.empty() ? "" : "x") + std::to_string(x);
    return s;
}
}  // namespace

L4JC_CHECK_CASE(analysis_neuron_scores_match_cpu) {
    // rows past one 8-row tile, d_model past one 256-wide chunk, neurons not a multiple of 8, padded leading dims
    struct S { int64_t rows, F, D, ldh, ldg; };
    for (S s : {S{1, 1, 1, 1, 1}, S{3, 37, 300, 40, 301}, S{9, 70, 65, 70, 130}, S{17, 13, 512, 13, 512}}) {
        std::vector<float> h = randn(s.rows * s.ldh, 1 + s.F), W = randn(s.F * s.D, 2 + s.D), g = randn(s.rows * s.ldg, 3 + s.rows);
        std::vector<float> want(s.rows * s.F);
        ok(l4j_neuron_scores(s.rows, s.F, s.D, h.data(), s.ldh, W.data(), g.data(), s.ldg, want.data()), "l4j_neuron_scores");
        Dev<float> dh(h), dW(W), dg(g), out(randn(s.rows * s.F, 9));  // garbage first: the kernel overwrites
        ok(l4jc_neuron_scores(s.rows, s.F, s.D, dh.p, s.ldh, dW.p, dg.p, s.ldg, out.p, nullptr), "l4jc_neuron_scores");
        expect_close(out.get(), want, 1e-5f, "neuron_scores " + dims({s.rows, s.F, s.D}));
    }
    if (l4jc_neuron_scores(2, 4, 8, nullptr, 4, nullptr, nullptr, 7, nullptr, nullptr) != L4J_ERR_ARG) fail("ldg < d_model accepted");
    if (timing()) {  // GPT-2 small, a batch of 8 prompts: W_out [3072, 768]
        const int64_t rows = 8, F = 3072, D = 768;
        Dev<float> h(rows * F), W(F * D), g(rows * D), out(rows * F);
        double ms = time_ms([&] { ok(l4jc_neuron_scores(rows, F, D, h.p, F, W.p, g.p, D, out.p, nullptr), "neuron_scores"); });
        report_time("neuron_scores", dims({rows, F, D}), ms, 4.0 * (F * D + 2 * rows * F + rows * D), 2.0 * rows * F * D);
    }
}

L4JC_CHECK_CASE(analysis_attribution_reduce_matches_cpu) {
    // inner 1 and 31 take the column kernel, 32 / 64 / 33 the row kernel; n not a multiple of 32
    struct S { int64_t outer, n, inner; };
    for (S s : {S{1, 1, 1}, S{5, 37, 1}, S{7, 5, 31}, S{4, 3, 64}, S{2, 11, 33}, S{3, 70, 32}, S{300, 33, 1}}) {
        const int64_t m = s.outer * s.n * s.inner;
        std::vector<float> clean = randn(m, 4 + m), corrupt = randn(m, 5 + m), grad = randn(m, 6 + m), want(s.n), diff(m);
        for (int64_t e = 0; e < m; e++) diff[e] = corrupt[e] - clean[e];
        ok(l4j_attribution_reduce(s.outer, s.n, s.inner, clean.data(), corrupt.data(), grad.data(), want.data()), "l4j_attribution_reduce");
        Dev<float> dc(clean), dx(corrupt), dg(grad), dd(diff), out(randn(s.n, 7));
        ok(l4jc_attribution_reduce(s.outer, s.n, s.inner, dc.p, dx.p, dg.p, out.p, nullptr), "l4jc_attribution_reduce");
        expect_close(out.get(), want, 1e-5f, "attribution_reduce " + dims({s.outer, s.n, s.inner}));
        ok(l4jc_attribution_reduce(s.outer, s.n, s.inner, nullptr, dd.p, dg.p, out.p, nullptr), "l4jc_attribution_reduce (difference given)");
        expect_close(out.get(), want, 1e-5f, "attribution_reduce, difference given " + dims({s.outer, s.n, s.inner}));
    }
    if (timing()) {  // GPT-2 small, batch 8 x 128: neurons, heads and resid positions of one layer
        struct S { const char *what; int64_t outer, n, inner; };
        for (S s : {S{"neurons", 1024, 3072, 1}, S{"heads", 1024, 12, 64}, S{"resid_pre", 8, 128, 768}}) {
            const int64_t m = s.outer * s.n * s.inner;
            Dev<float> a(m), b(m), g(m), out(s.n);
            double ms = time_ms([&] { ok(l4jc_attribution_reduce(s.outer, s.n, s.inner, a.p, b.p, g.p, out.p, nullptr), "attribution_reduce"); });
            report_time(std::string("attribution_reduce ") + s.what, dims({s.outer, s.n, s.inner}), ms, 12.0 * m, 3.0 * m);
        }
    }
}

namespace {
// Both metrics on [rows_total, vocab] logits read at each prompt's last position, with shared and per-row id lists.
void check_metric(bool prob, int64_t B, int64_t P, int64_t V, uint64_t seed) {
    auto cpu = prob ? l4j_prob_metric : l4j_logit_metric;
    auto gpu = prob ? l4jc_prob_metric : l4jc_logit_metric;
    const int64_t R = B * P, k = 4;
    std::vector<float> logits = randn(R * V, seed, 3.0f), dl0 = randn(R * V, seed + 1);
    if (prob) for (int64_t v = 0; v < V; v++) logits[(1 * P + P - 1) * V + v] = -INFINITY;  // row 1 all masked
    std::vector<int32_t> last(B), ids = randint(B * k, (int32_t)V, seed + 2);
    for (int64_t b = 0; b < B; b++) last[b] = (int32_t)(b * P + P - 1);
    ids[1] = ids[0];  // a duplicate id in a list adds up
    std::vector<float> w = randn(B * k, seed + 3);
    for (int64_t ld : {int64_t(0), k}) {
        const std::string what = std::string(prob ? "prob" : "logit") + "_metric ld_ids=" + std::to_string(ld) + " " + dims({B, P, V});
        std::vector<float> value(B), dl = dl0;
        ok(cpu(B, V, logits.data(), last.data(), k, ids.data(), w.data(), ld, value.data(), dl.data()), what.c_str());
        Dev<float> dlog(logits), ddl(dl0), dv(randn(B, 8)), dw(w);
        Dev<int32_t> dlast(last), dids(ids);
        ok(gpu(B, V, dlog.p, dlast.p, k, dids.p, dw.p, ld, dv.p, ddl.p, nullptr), what.c_str());
        expect_close(dv.get(), value, 1e-5f, what + " value");
        expect_close(ddl.get(), dl, 1e-5f, what + " dlogits");
        ok(gpu(B, V, dlog.p, dlast.p, k, dids.p, dw.p, ld, dv.p, nullptr, nullptr), what.c_str());  // no gradient wanted
        expect_close(dv.get(), value, 1e-5f, what + " value without gradient");
    }
}
}  // namespace

L4JC_CHECK_CASE(analysis_logit_metric_matches_cpu) {
    check_metric(false, 1, 1, 1, 30);
    check_metric(false, 5, 3, 1000, 31);
    check_metric(false, 300, 2, 77, 32);  // rows past one 128-thread block
    // an id outside the vocabulary: the CPU refuses it, the GPU skips it (never reading outside the row)
    std::vector<float> logits = {1, 2, 3, 4}, w = {1, -1};
    std::vector<int32_t> ids = {2, 9};
    float v = 0;
    if (l4j_logit_metric(1, 4, logits.data(), nullptr, 2, ids.data(), w.data(), 0, &v, nullptr) != L4J_ERR_RANGE) fail("bad id accepted on the CPU");
    Dev<float> dl(logits), dw(w), dv(1);
    Dev<int32_t> di(ids);
    ok(l4jc_logit_metric(1, 4, dl.p, nullptr, 2, di.p, dw.p, 0, dv.p, nullptr, nullptr), "logit_metric with a bad id");
    expect_equal(dv.get(), std::vector<float>{3.0f}, "logit_metric skips a bad id");
    if (timing()) {
        const int64_t B = 8, P = 128, V = 50257;
        Dev<float> lg(B * P * V), dlg(B * P * V), val(B), wt(2);
        std::vector<int32_t> last(B), two = {11, 12};
        for (int64_t b = 0; b < B; b++) last[b] = (int32_t)(b * P + P - 1);
        Dev<int32_t> dlast(last), dids(two);
        double ms = time_ms([&] { ok(l4jc_logit_metric(B, V, lg.p, dlast.p, 2, dids.p, wt.p, 0, val.p, dlg.p, nullptr), "logit_metric"); });
        report_time("logit_metric (logit diff)", dims({B, V}), ms, 4.0 * B * 6, 4.0 * B);
    }
}

L4JC_CHECK_CASE(analysis_prob_metric_matches_cpu) {
    check_metric(true, 3, 2, 1, 40);
    check_metric(true, 3, 2, 3001, 41);
    check_metric(true, 2, 1, 257, 42);
    if (timing()) {
        const int64_t B = 8, V = 50257;
        Dev<float> lg(B * V), dlg(B * V), val(B), wt(4);
        std::vector<int32_t> four = {1, 2, 3, 4};
        Dev<int32_t> dids(four);
        double ms = time_ms([&] { ok(l4jc_prob_metric(B, V, lg.p, nullptr, 4, dids.p, wt.p, 0, val.p, dlg.p, nullptr), "prob_metric"); });
        report_time("prob_metric (prob set diff)", dims({B, V}), ms, 4.0 * B * V * 4, 6.0 * B * V);
    }
}

L4JC_CHECK_CASE(analysis_capture_async_matches_index_select) {
    void *compute = nullptr, *copy = nullptr, *ready = nullptr, *done = nullptr;
    ok(l4jc_stream_create(&compute), "stream_create");
    ok(l4jc_stream_create(&copy), "stream_create");
    ok(l4jc_event_create(&ready), "event_create");
    ok(l4jc_event_create(&done), "event_create");
    struct S { int64_t outer, n, inner; std::vector<int32_t> idx; };
    for (const S &s : {S{3, 7, 33, {6}}, S{2, 5, 1, {0, 4, 2, 2}}, S{1, 130, 257, {129, 0, 64}}}) {
        const int64_t k = (int64_t)s.idx.size(), m = s.outer * k * s.inner;
        std::vector<float> src = randn(s.outer * s.n * s.inner, 50 + s.n), want(m);
        ok(l4j_index_select(s.outer, s.n, s.inner, src.data(), k, s.idx.data(), want.data()), "l4j_index_select");
        Dev<float> dsrc(src), staging(m);
        Dev<int32_t> didx(s.idx);
        float *host = nullptr;
        ok(l4jc_host_alloc((void **)&host, m * (int64_t)sizeof(float)), "host_alloc");
        ok(l4jc_capture_async(s.outer, s.n, s.inner, dsrc.p, k, didx.p, staging.p, host, ready, done, copy, compute), "capture_async");
        ok(l4jc_stream_wait_event(compute, done), "stream_wait_event");  // staging may be reused after this on `compute`
        ok(l4jc_event_synchronize(done), "event_synchronize");
        std::vector<float> got(host, host + m);
        expect_equal(got, want, "capture " + dims({s.outer, s.n, s.inner, k}));
        ok(l4jc_host_free(host), "host_free");
    }
    {   // an index outside [0, n) gathers zeros instead of reading outside src
        std::vector<float> src = randn(2 * 3 * 4, 60);
        std::vector<int32_t> idx = {1, 3, -1};
        Dev<float> dsrc(src), staging(2 * 3 * 4);
        Dev<int32_t> didx(idx);
        std::vector<float> host(2 * 3 * 4, 7.0f), want(2 * 3 * 4, 0.0f);
        for (int o = 0; o < 2; o++)
            for (int i = 0; i < 4; i++) want[(o * 3 + 0) * 4 + i] = src[(o * 3 + 1) * 4 + i];
        ok(l4jc_capture_async(2, 3, 4, dsrc.p, 3, didx.p, staging.p, host.data(), ready, done, copy, compute), "capture_async bad idx");
        ok(l4jc_event_synchronize(done), "event_synchronize");
        expect_equal(host, want, "capture with indices outside [0, n)");
    }
    if (l4jc_capture_async(1, 1, 1, nullptr, 1, nullptr, nullptr, nullptr, ready, nullptr, copy, compute) != L4J_ERR_ARG)
        fail("capture_async without a done event accepted");
    if (timing()) {  // one layer's mlp.hook_post of a GPT-2-small batch, every position, to pinned memory
        const int64_t outer = 8, n = 128, inner = 3072;
        std::vector<int32_t> all(n);
        for (int64_t p = 0; p < n; p++) all[p] = (int32_t)p;
        Dev<float> src(outer * n * inner), staging(outer * n * inner);
        Dev<int32_t> didx(all);
        float *host = nullptr;
        ok(l4jc_host_alloc((void **)&host, outer * n * inner * (int64_t)sizeof(float)), "host_alloc");
        double ms = time_ms([&] {
            ok(l4jc_capture_async(outer, n, inner, src.p, n, didx.p, staging.p, host, ready, done, copy, compute), "capture_async");
            ok(l4jc_event_synchronize(done), "event_synchronize");
        });
        report_time("capture_async (gather + D2H)", dims({outer, n, inner}), ms, 12.0 * outer * n * inner, 0.0);
        ok(l4jc_host_free(host), "host_free");
    }
    ok(l4jc_event_destroy(ready), "event_destroy");
    ok(l4jc_event_destroy(done), "event_destroy");
    ok(l4jc_stream_destroy(compute), "stream_destroy");
    ok(l4jc_stream_destroy(copy), "stream_destroy");
}
