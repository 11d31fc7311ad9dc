// Checks of norm.cu and backward_norm.cu against the CPU kernels: LayerNorm / RMSNorm with and without weights,
// hook_scale and RMS hook_normalized outputs, gradients that accumulate (dw, db: the same bits on every run),
// dx aliasing dout, and a constant row (d = 1) whose dx must be exactly 0.
#include "check.h"
using namespace l4jcheck;

namespace {
const float kTol = 1e-5f;
const std::vector<std::pair<int64_t, int64_t>> kShapes = {{1, 1}, {3, 1}, {1, 7}, {5, 33}, {37, 129}, {4, 1000}, {2, 2500}};
std::string shape(int64_t a, int64_t b) { return std::to_string(a) + "x" + std::to_string(b); }
float *opt(bool want, Dev<float> &d) { return want ? d.p : nullptr; }
}  // namespace

L4JC_CHECK_CASE(layernorm_matches_cpu) {
    for (auto [rows, d] : kShapes)
        for (int variant = 0; variant < 4; variant++) {  // with / without w and b
            const bool hw = variant & 1, hb = variant & 2;
            std::vector<float> x = randn(rows * d, 21 + d, 3.0f), w = randn(d, 22), b = randn(d, 23);
            for (auto &v : x) v += 5.0f;  // an offset mean, so the centring matters
            std::vector<float> out(rows * d), scale(rows);
            ok(l4j_layernorm(rows, d, x.data(), hw ? w.data() : nullptr, hb ? b.data() : nullptr, 1e-5f, out.data(), scale.data()), "l4j_layernorm");
            Dev<float> dx(x), dw(w), db(b), dout(rows * d), ds(rows);
            ok(l4jc_layernorm(rows, d, dx.p, opt(hw, dw), opt(hb, db), 1e-5f, dout.p, ds.p, nullptr), "l4jc_layernorm");
            const std::string what = "layernorm " + shape(rows, d) + " variant " + std::to_string(variant);
            expect_close(dout.get(), out, kTol, what);
            expect_close(ds.get(), scale, kTol, what + " scale");
            // in place, no scale
            ok(l4jc_layernorm(rows, d, dx.p, opt(hw, dw), opt(hb, db), 1e-5f, dx.p, nullptr, nullptr), "l4jc_layernorm in place");
            expect_close(dx.get(), out, kTol, what + " in place");
        }
    if (timing()) {
        const int64_t rows = 8 * 128, d = 768;
        Dev<float> x(randn(rows * d, 24)), w(randn(d, 25)), b(randn(d, 26)), o(rows * d), s(rows);
        double ms = time_ms([&] { ok(l4jc_layernorm(rows, d, x.p, w.p, b.p, 1e-5f, o.p, s.p, nullptr), "layernorm"); });
        report_time("layernorm", "1024 x 768", ms, 8.0 * rows * d, 8.0 * rows * d);
    }
}

L4JC_CHECK_CASE(rmsnorm_matches_cpu) {
    for (auto [rows, d] : kShapes)
        for (int hw = 0; hw < 2; hw++) {
            std::vector<float> x = randn(rows * d, 31 + d, 2.0f), w = randn(d, 32);
            std::vector<float> out(rows * d), scale(rows), normalized(rows * d);
            ok(l4j_rmsnorm(rows, d, x.data(), hw ? w.data() : nullptr, 1e-6f, out.data(), scale.data(), normalized.data()), "l4j_rmsnorm");
            Dev<float> dx(x), dw(w), dout(rows * d), ds(rows), dn(rows * d);
            ok(l4jc_rmsnorm(rows, d, dx.p, opt(hw, dw), 1e-6f, dout.p, ds.p, dn.p, nullptr), "l4jc_rmsnorm");
            const std::string what = "rmsnorm " + shape(rows, d) + (hw ? " w" : " no w");
            expect_close(dout.get(), out, kTol, what);
            expect_close(ds.get(), scale, kTol, what + " scale");
            expect_close(dn.get(), normalized, kTol, what + " normalized");
            ok(l4jc_rmsnorm(rows, d, dx.p, opt(hw, dw), 1e-6f, dx.p, nullptr, nullptr, nullptr), "l4jc_rmsnorm in place");
            expect_close(dx.get(), out, kTol, what + " in place");
        }
    if (timing()) {
        const int64_t rows = 8 * 128, d = 768;
        Dev<float> x(randn(rows * d, 33)), w(randn(d, 34)), o(rows * d), s(rows);
        double ms = time_ms([&] { ok(l4jc_rmsnorm(rows, d, x.p, w.p, 1e-6f, o.p, s.p, nullptr, nullptr), "rmsnorm"); });
        report_time("rmsnorm", "1024 x 768", ms, 8.0 * rows * d, 5.0 * rows * d);
    }
}

L4JC_CHECK_CASE(layernorm_backward_matches_cpu) {
    for (auto [rows, d] : kShapes)
        for (int hw = 0; hw < 2; hw++) {
            std::vector<float> x = randn(rows * d, 41 + d, 2.0f), w = randn(d, 42), g = randn(rows * d, 43 + rows);
            for (auto &v : x) v -= 3.0f;
            std::vector<float> y(rows * d), scale(rows);
            ok(l4j_layernorm(rows, d, x.data(), hw ? w.data() : nullptr, nullptr, 1e-5f, y.data(), scale.data()), "l4j_layernorm");
            // dw, db accumulate onto what they hold
            std::vector<float> dx(rows * d), dw = randn(d, 44), db = randn(d, 45), dscale(rows);
            Dev<float> d_x(x), d_w(w), d_s(scale), d_g(g), d_dx(rows * d), d_dw(dw), d_db(db), d_ds(rows);
            ok(l4j_layernorm_backward(rows, d, x.data(), hw ? w.data() : nullptr, scale.data(), g.data(), dx.data(), dw.data(), db.data(), dscale.data()), "l4j_layernorm_backward");
            ok(l4jc_layernorm_backward(rows, d, d_x.p, opt(hw, d_w), d_s.p, d_g.p, d_dx.p, d_dw.p, d_db.p, d_ds.p, nullptr), "l4jc_layernorm_backward");
            const std::string what = "layernorm_backward " + shape(rows, d) + (hw ? " w" : " no w");
            if (d == 1) expect_equal(d_dx.get(), std::vector<float>(rows, 0.0f), what + " dx of a constant row");
            expect_close(d_dx.get(), dx, kTol, what + " dx");
            expect_close(d_dw.get(), dw, kTol, what + " dw");
            expect_close(d_db.get(), db, kTol, what + " db");
            expect_close(d_ds.get(), dscale, kTol, what + " dscale");
            // deterministic weight gradients: a second accumulation from the same start gives the same bits
            std::vector<float> first = d_dw.get();
            d_dw.upload(randn(d, 44));
            ok(l4jc_layernorm_backward(rows, d, d_x.p, opt(hw, d_w), d_s.p, d_g.p, nullptr, d_dw.p, nullptr, nullptr, nullptr), "l4jc_layernorm_backward dw only");
            expect_equal(d_dw.get(), first, what + " dw run to run");
            // dx in place over dout
            ok(l4jc_layernorm_backward(rows, d, d_x.p, opt(hw, d_w), d_s.p, d_g.p, d_g.p, nullptr, nullptr, nullptr, nullptr), "l4jc_layernorm_backward in place");
            expect_close(d_g.get(), dx, kTol, what + " dx in place");
        }
    if (timing()) {
        const int64_t rows = 8 * 128, d = 768;
        Dev<float> x(randn(rows * d, 46)), w(randn(d, 47)), s(std::vector<float>(rows, 1.0f)), g(randn(rows * d, 48));
        Dev<float> dx(rows * d), dw(d), db(d);
        double ms = time_ms([&] { ok(l4jc_layernorm_backward(rows, d, x.p, w.p, s.p, g.p, dx.p, dw.p, db.p, nullptr, nullptr), "layernorm_backward"); });
        report_time("layernorm_backward", "1024 x 768 (dx dw db)", ms, 4.0 * rows * d * 7, 20.0 * rows * d);
    }
}

L4JC_CHECK_CASE(rmsnorm_backward_matches_cpu) {
    for (auto [rows, d] : kShapes)
        for (int hw = 0; hw < 2; hw++) {
            std::vector<float> x = randn(rows * d, 51 + d, 2.0f), w = randn(d, 52), g = randn(rows * d, 53 + rows);
            std::vector<float> y(rows * d), scale(rows);
            ok(l4j_rmsnorm(rows, d, x.data(), hw ? w.data() : nullptr, 1e-6f, y.data(), scale.data(), nullptr), "l4j_rmsnorm");
            std::vector<float> dx(rows * d), dw = randn(d, 54), dn(rows * d), dscale(rows);
            Dev<float> d_x(x), d_w(w), d_s(scale), d_g(g), d_dx(rows * d), d_dw(dw), d_dn(rows * d), d_ds(rows);
            ok(l4j_rmsnorm_backward(rows, d, x.data(), hw ? w.data() : nullptr, scale.data(), g.data(), dx.data(), dw.data(), dn.data(), dscale.data()), "l4j_rmsnorm_backward");
            ok(l4jc_rmsnorm_backward(rows, d, d_x.p, opt(hw, d_w), d_s.p, d_g.p, d_dx.p, d_dw.p, d_dn.p, d_ds.p, nullptr), "l4jc_rmsnorm_backward");
            const std::string what = "rmsnorm_backward " + shape(rows, d) + (hw ? " w" : " no w");
            expect_close(d_dx.get(), dx, kTol, what + " dx");
            expect_close(d_dw.get(), dw, kTol, what + " dw");
            expect_close(d_dn.get(), dn, kTol, what + " dnormalized");
            expect_close(d_ds.get(), dscale, kTol, what + " dscale");
            ok(l4jc_rmsnorm_backward(rows, d, d_x.p, opt(hw, d_w), d_s.p, d_g.p, d_g.p, nullptr, nullptr, nullptr, nullptr), "l4jc_rmsnorm_backward in place");
            expect_close(d_g.get(), dx, kTol, what + " dx in place");
        }
    if (timing()) {
        const int64_t rows = 8 * 128, d = 768;
        Dev<float> x(randn(rows * d, 55)), w(randn(d, 56)), s(std::vector<float>(rows, 1.0f)), g(randn(rows * d, 57)), dx(rows * d), dw(d);
        double ms = time_ms([&] { ok(l4jc_rmsnorm_backward(rows, d, x.p, w.p, s.p, g.p, dx.p, dw.p, nullptr, nullptr, nullptr), "rmsnorm_backward"); });
        report_time("rmsnorm_backward", "1024 x 768 (dx dw)", ms, 4.0 * rows * d * 5, 10.0 * rows * d);
    }
}
