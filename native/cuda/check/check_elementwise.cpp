// Checks of elementwise.cu and backward_elementwise.cu (and sum_rows of backward_embed.cu) against the CPU kernels:
// every activation kind forward and backward, gated, at ordinary and extreme inputs (where the derivatives must
// stay finite), outputs aliasing inputs, column scaling and bias with accumulating, deterministic reductions.
#include "check.h"
using namespace l4jcheck;

namespace {
const float kTol = 1e-5f;
const int kKinds[] = {L4J_ACT_RELU, L4J_ACT_GELU, L4J_ACT_GELU_NEW, L4J_ACT_GELU_PYTORCH_TANH, L4J_ACT_SILU};
const std::vector<std::pair<int64_t, int64_t>> kShapes = {{1, 1}, {3, 1}, {1, 7}, {5, 33}, {37, 129}, {300, 70}};

// standard normals scaled by 3, with zeros and extreme values planted
std::vector<float> act_inputs(int64_t n, uint64_t seed) {
    std::vector<float> x = randn(n, seed, 3.0f);
    const float planted[] = {0.0f, -0.0f, 25.0f, -25.0f, 90.0f, -90.0f, 1e4f, -1e4f, 1e-6f};
    for (int64_t i = 0; i < n && i < 9; i++) x[i * 7 % n] = planted[i];
    return x;
}
std::string shape(int64_t a, int64_t b) { return std::to_string(a) + "x" + std::to_string(b); }
}  // namespace

L4JC_CHECK_CASE(activation_matches_cpu) {
    for (int kind : kKinds)
        for (int64_t n : {1, 31, 257, 5000}) {
            const std::string what = "activation kind " + std::to_string(kind) + " n=" + std::to_string(n);
            std::vector<float> x = act_inputs(n, 71 + n), lin = randn(n, 72), g = randn(n, 73), out(n), dx(n), dgate(n), dlin(n);
            ok(l4j_activation(kind, n, x.data(), out.data()), "l4j_activation");
            ok(l4j_activation_backward(kind, n, x.data(), g.data(), dx.data()), "l4j_activation_backward");
            Dev<float> d_x(x), d_lin(lin), d_g(g), d_out(n), d_a(n), d_b(n);
            ok(l4jc_activation(kind, n, d_x.p, d_out.p, nullptr), "l4jc_activation");
            expect_close(d_out.get(), out, kTol, what);
            ok(l4jc_activation_backward(kind, n, d_x.p, d_g.p, d_a.p, nullptr), "l4jc_activation_backward");
            expect_close(d_a.get(), dx, kTol, what + " backward");
            for (float v : d_a.get()) if (!std::isfinite(v)) fail(what + ": backward not finite");

            ok(l4j_gated_activation(kind, n, x.data(), lin.data(), out.data()), "l4j_gated_activation");
            ok(l4jc_gated_activation(kind, n, d_x.p, d_lin.p, d_out.p, nullptr), "l4jc_gated_activation");
            expect_close(d_out.get(), out, kTol, what + " gated");
            ok(l4j_gated_activation_backward(kind, n, x.data(), lin.data(), g.data(), dgate.data(), dlin.data()), "l4j_gated_activation_backward");
            ok(l4jc_gated_activation_backward(kind, n, d_x.p, d_lin.p, d_g.p, d_a.p, d_b.p, nullptr), "l4jc_gated_activation_backward");
            expect_close(d_a.get(), dgate, kTol, what + " dgate");
            expect_close(d_b.get(), dlin, kTol, what + " dlinear");
            // one output at a time, each in place over dout
            Dev<float> d_g2(g);
            ok(l4jc_gated_activation_backward(kind, n, d_x.p, d_lin.p, d_g2.p, d_g2.p, nullptr, nullptr), "dgate only, in place");
            expect_close(d_g2.get(), dgate, kTol, what + " dgate in place");
            d_g2.upload(g);
            ok(l4jc_gated_activation_backward(kind, n, d_x.p, d_lin.p, d_g2.p, nullptr, d_g2.p, nullptr), "dlinear only, in place");
            expect_close(d_g2.get(), dlin, kTol, what + " dlinear in place");
            // forward and backward in place
            ok(l4jc_activation_backward(kind, n, d_x.p, d_g.p, d_g.p, nullptr), "l4jc_activation_backward in place");
            expect_close(d_g.get(), dx, kTol, what + " backward in place");
            ok(l4j_activation(kind, n, x.data(), out.data()), "l4j_activation");
            ok(l4jc_activation(kind, n, d_x.p, d_x.p, nullptr), "l4jc_activation in place");
            expect_close(d_x.get(), out, kTol, what + " in place");
        }
    Dev<float> x(4);
    if (l4jc_activation(9, 4, x.p, x.p, nullptr) != L4J_ERR_UNSUPPORTED) fail("activation kind 9 accepted");
    if (l4jc_gated_activation_backward(-1, 4, x.p, x.p, x.p, x.p, nullptr, nullptr) != L4J_ERR_UNSUPPORTED) fail("gated kind -1 accepted");
    if (timing()) {
        const int64_t n = 8 * 128 * 3072;
        Dev<float> a(randn(n, 74)), b(randn(n, 75)), o(n);
        double ms = time_ms([&] { ok(l4jc_activation(L4J_ACT_GELU_NEW, n, a.p, o.p, nullptr), "activation"); });
        report_time("activation gelu_new", "1024 x 3072", ms, 8.0 * n, 12.0 * n);
        ms = time_ms([&] { ok(l4jc_activation_backward(L4J_ACT_GELU_NEW, n, a.p, b.p, o.p, nullptr), "activation_backward"); });
        report_time("activation_backward gelu_new", "1024 x 3072", ms, 12.0 * n, 30.0 * n);
        ms = time_ms([&] { ok(l4jc_gated_activation(L4J_ACT_SILU, n, a.p, b.p, o.p, nullptr), "gated_activation"); });
        report_time("gated_activation silu", "1024 x 3072", ms, 12.0 * n, 6.0 * n);
    }
}

L4JC_CHECK_CASE(scale_cols_add_bias_matches_cpu) {
    for (auto [rows, d] : kShapes) {
        const std::string what = shape(rows, d);
        std::vector<float> x = randn(rows * d, 81 + d), w = randn(d, 82), g = randn(rows * d, 83), out(rows * d);
        Dev<float> d_x(x), d_w(w), d_g(g), d_out(rows * d);
        ok(l4j_scale_cols(rows, d, x.data(), w.data(), out.data()), "l4j_scale_cols");
        ok(l4jc_scale_cols(rows, d, d_x.p, d_w.p, d_out.p, nullptr), "l4jc_scale_cols");
        expect_equal(d_out.get(), out, "scale_cols " + what);
        ok(l4j_add_bias(rows, d, x.data(), w.data(), out.data()), "l4j_add_bias");
        ok(l4jc_add_bias(rows, d, d_x.p, d_w.p, d_out.p, nullptr), "l4jc_add_bias");
        expect_equal(d_out.get(), out, "add_bias " + what);

        std::vector<float> dx(rows * d), dw = randn(d, 84);
        Dev<float> d_dw(dw);
        ok(l4j_scale_cols_backward(rows, d, x.data(), w.data(), g.data(), dx.data(), dw.data()), "l4j_scale_cols_backward");
        ok(l4jc_scale_cols_backward(rows, d, d_x.p, d_w.p, d_g.p, d_out.p, d_dw.p, nullptr), "l4jc_scale_cols_backward");
        expect_equal(d_out.get(), dx, "scale_cols_backward dx " + what);
        expect_close(d_dw.get(), dw, kTol, "scale_cols_backward dw " + what);
        // dx in place over dout, dw accumulating a second time
        ok(l4j_scale_cols_backward(rows, d, x.data(), w.data(), g.data(), nullptr, dw.data()), "l4j_scale_cols_backward");
        ok(l4jc_scale_cols_backward(rows, d, d_x.p, d_w.p, d_g.p, d_g.p, d_dw.p, nullptr), "l4jc_scale_cols_backward in place");
        expect_equal(d_g.get(), dx, "scale_cols_backward dx in place " + what);
        expect_close(d_dw.get(), dw, kTol, "scale_cols_backward dw twice " + what);
    }
}

// out += column sums: summed in double in a fixed order, so equal to the CPU's double sums after rounding
// (within one float ulp of the accumulated value) and the same bits on every run
L4JC_CHECK_CASE(sum_rows_matches_cpu) {
    for (auto [rows, d] : kShapes) {
        std::vector<float> x = randn(rows * d, 91 + rows), start = randn(d, 92), want = start;
        ok(l4j_sum_rows(rows, d, x.data(), want.data()), "l4j_sum_rows");
        Dev<float> d_x(x), out(start);
        ok(l4jc_sum_rows(rows, d, d_x.p, out.p, nullptr), "l4jc_sum_rows");
        std::vector<float> got = out.get();
        expect_close(got, want, 1e-6f, "sum_rows " + shape(rows, d));
        out.upload(start);
        ok(l4jc_sum_rows(rows, d, d_x.p, out.p, nullptr), "l4jc_sum_rows again");
        expect_equal(out.get(), got, "sum_rows run to run " + shape(rows, d));
    }
    // a planted sum: rows of 1..rows in every column
    const int64_t rows = 1000, d = 45;
    std::vector<float> x(rows * d);
    for (int64_t r = 0; r < rows; r++)
        for (int64_t c = 0; c < d; c++) x[r * d + c] = (float)(r + 1);
    Dev<float> d_x(x), out(std::vector<float>(d, 0.5f));
    ok(l4jc_sum_rows(rows, d, d_x.p, out.p, nullptr), "l4jc_sum_rows");
    expect_equal(out.get(), std::vector<float>(d, 500500.5f), "sum_rows of 1..1000");
    if (timing()) {
        const int64_t r = 8 * 128, dd = 3072;
        Dev<float> a(randn(r * dd, 93)), o(dd);
        double ms = time_ms([&] { ok(l4jc_sum_rows(r, dd, a.p, o.p, nullptr), "sum_rows"); });
        report_time("sum_rows", "1024 x 3072", ms, 4.0 * r * dd, (double)r * dd);
        Dev<float> w(randn(dd, 94)), g(randn(r * dd, 95)), dx(r * dd);
        ms = time_ms([&] { ok(l4jc_scale_cols_backward(r, dd, a.p, w.p, g.p, dx.p, o.p, nullptr), "scale_cols_backward"); });
        report_time("scale_cols_backward", "1024 x 3072 (dx dw)", ms, 4.0 * 4 * r * dd, 3.0 * r * dd);
    }
}
