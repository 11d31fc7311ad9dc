// Checks of softmax.cu and backward_softmax.cu against the CPU kernels: ordinary, partly masked (-inf) and fully
// masked rows, long rows (a GPT-2 vocabulary), large logits, in-place use, and bad targets (never read through).
#include "check.h"
#include <limits>
using namespace l4jcheck;

namespace {
const float kTol = 1e-5f, kInf = std::numeric_limits<float>::infinity();
const std::vector<std::pair<int64_t, int64_t>> kShapes = {{1, 1}, {3, 1}, {1, 7}, {5, 33}, {37, 129}, {4, 1000}, {2, 50257}};

// logits with a large offset in row 0, -inf entries in row 1, and row 2 entirely -inf (when the shape has them)
std::vector<float> logits(int64_t rows, int64_t n, uint64_t seed, bool fully_masked_row) {
    std::vector<float> x = randn(rows * n, seed, 4.0f);
    for (int64_t i = 0; i < n; i++) x[i] += 1000.0f;
    if (rows > 1)
        for (int64_t i = 0; i < n; i += 3) x[n + i] = -kInf;
    if (rows > 2 && fully_masked_row)
        for (int64_t i = 0; i < n; i++) x[2 * n + i] = -kInf;
    return x;
}
std::string shape(int64_t a, int64_t b) { return std::to_string(a) + "x" + std::to_string(b); }

using RowOp = int (*)(int64_t, int64_t, const float *, float *);
using RowOpDev = int (*)(int64_t, int64_t, const float *, float *, void *);
using RowGrad = int (*)(int64_t, int64_t, const float *, const float *, float *);
using RowGradDev = int (*)(int64_t, int64_t, const float *, const float *, float *, void *);

// The forward (also in place) and the backward from its output, CPU against GPU; the GPU's outputs are returned.
// A fully masked row's forward output may be NaN (log_softmax): the backward then starts from the partly masked
// row 1 there instead, so that it compares numbers.
void check_forward_backward(const char *name, RowOp cpu, RowOpDev gpu, RowGrad cpu_grad, RowGradDev gpu_grad,
                            int64_t rows, int64_t n, uint64_t seed, std::vector<float> &y, std::vector<float> &got_y,
                            std::vector<float> &got_dx) {
    const std::string what = std::string(name) + " " + shape(rows, n);
    std::vector<float> x = logits(rows, n, seed, true), g = randn(rows * n, seed + 1), dx(rows * n);
    y.assign(rows * n, 0.0f);
    ok(cpu(rows, n, x.data(), y.data()), name);
    Dev<float> d_x(x), d_y(rows * n), d_g(g), d_dx(rows * n);
    ok(gpu(rows, n, d_x.p, d_y.p, nullptr), name);
    got_y = d_y.get();
    expect_close(got_y, y, kTol, what);
    ok(gpu(rows, n, d_x.p, d_x.p, nullptr), name);
    expect_close(d_x.get(), y, kTol, what + " in place");

    std::vector<float> y_in = y;
    for (int64_t r = 2; r < rows; r++)
        if (std::isnan(y_in[r * n])) std::copy(y.begin() + n, y.begin() + 2 * n, y_in.begin() + r * n);
    d_y.upload(y_in);
    ok(cpu_grad(rows, n, y_in.data(), g.data(), dx.data()), name);
    ok(gpu_grad(rows, n, d_y.p, d_g.p, d_dx.p, nullptr), name);
    got_dx = d_dx.get();
    expect_close(got_dx, dx, kTol, what + " backward");
    ok(gpu_grad(rows, n, d_y.p, d_g.p, d_g.p, nullptr), name);
    expect_close(d_g.get(), dx, kTol, what + " backward in place");
}
}  // namespace

L4JC_CHECK_CASE(softmax_matches_cpu) {
    for (auto [rows, n] : kShapes) {
        std::vector<float> y, got, dx;
        check_forward_backward("softmax", l4j_softmax, l4jc_softmax, l4j_softmax_backward, l4jc_softmax_backward, rows, n,
                               101 + n, y, got, dx);
        for (int64_t i = 0; rows > 2 && i < n; i++) if (got[2 * n + i] != 0.0f) fail("softmax of a fully masked row is not 0");
        for (int64_t i = 0; i < rows * n; i++) if (y[i] == 0.0f && dx[i] != 0.0f) fail("softmax_backward: masked entry not 0");
    }
    if (timing()) {
        const int64_t rows = 8 * 128, n = 50257;
        Dev<float> x(randn(rows * n, 103)), y(rows * n), g(randn(rows * n, 104));
        double ms = time_ms([&] { ok(l4jc_softmax(rows, n, x.p, y.p, nullptr), "softmax"); });
        report_time("softmax", "1024 x 50257", ms, 12.0 * rows * n, 4.0 * rows * n);
        ms = time_ms([&] { ok(l4jc_softmax_backward(rows, n, y.p, g.p, x.p, nullptr), "softmax_backward"); });
        report_time("softmax_backward", "1024 x 50257", ms, 20.0 * rows * n, 4.0 * rows * n);
    }
}

// log_softmax of a fully masked row is NaN on both sides (no finite answer exists); partly masked rows give -inf
L4JC_CHECK_CASE(log_softmax_matches_cpu) {
    for (auto [rows, n] : kShapes) {
        std::vector<float> y, got, dx;
        check_forward_backward("log_softmax", l4j_log_softmax, l4jc_log_softmax, l4j_log_softmax_backward,
                               l4jc_log_softmax_backward, rows, n, 111 + n, y, got, dx);
        if (rows > 2 && !std::isnan(got[2 * n])) fail("log_softmax of a fully masked row is not NaN");
        if (rows > 1 && n > 1 && got[n] != -kInf) fail("log_softmax of a masked entry is not -inf");
    }
    if (timing()) {
        const int64_t rows = 8 * 128, n = 50257;
        Dev<float> x(randn(rows * n, 113)), y(rows * n);
        double ms = time_ms([&] { ok(l4jc_log_softmax(rows, n, x.p, y.p, nullptr), "log_softmax"); });
        report_time("log_softmax", "1024 x 50257", ms, 12.0 * rows * n, 4.0 * rows * n);
    }
}

L4JC_CHECK_CASE(cross_entropy_matches_cpu) {
    for (auto [rows, n] : kShapes) {
        const std::string what = shape(rows, n);
        std::vector<float> x = logits(rows, n, 121 + n, false), dloss = randn(rows, 122), loss(rows), dl(rows * n);
        std::vector<int32_t> t = randint(rows, (int32_t)n, 123 + n);
        if (rows > 1) t[1] = n > 1 ? 1 : 0;  // row 1 is -inf at multiples of 3: a finite target
        ok(l4j_cross_entropy(rows, n, x.data(), t.data(), loss.data()), "l4j_cross_entropy");
        ok(l4j_cross_entropy_backward(rows, n, x.data(), t.data(), dloss.data(), dl.data()), "l4j_cross_entropy_backward");
        Dev<float> d_x(x), d_loss(rows), d_dloss(dloss), d_dl(rows * n);
        Dev<int32_t> d_t(t);
        ok(l4jc_cross_entropy(rows, n, d_x.p, d_t.p, d_loss.p, nullptr), "l4jc_cross_entropy");
        expect_close(d_loss.get(), loss, kTol, "cross_entropy " + what);
        ok(l4jc_cross_entropy_backward(rows, n, d_x.p, d_t.p, d_dloss.p, d_dl.p, nullptr), "l4jc_cross_entropy_backward");
        expect_close(d_dl.get(), dl, kTol, "cross_entropy_backward " + what);
    }
    // Java validates targets; a bad one reaching the device is never used as an index: loss and gradient NaN
    const int64_t rows = 3, n = 40;
    std::vector<float> x = randn(rows * n, 124), dloss(rows, 1.0f), loss(rows);
    std::vector<int32_t> t = {5, -1, 40};
    Dev<float> d_x(x), d_loss(rows), d_dloss(dloss), d_dl(rows * n);
    Dev<int32_t> d_t(t);
    ok(l4jc_cross_entropy(rows, n, d_x.p, d_t.p, d_loss.p, nullptr), "l4jc_cross_entropy");
    ok(l4jc_cross_entropy_backward(rows, n, d_x.p, d_t.p, d_dloss.p, d_dl.p, nullptr), "l4jc_cross_entropy_backward");
    std::vector<float> got = d_loss.get(), grad = d_dl.get();
    ok(l4j_cross_entropy(1, n, x.data(), t.data(), loss.data()), "l4j_cross_entropy");
    expect_close({got[0]}, {loss[0]}, kTol, "cross_entropy good row beside bad ones");
    if (!std::isnan(got[1]) || !std::isnan(got[2])) fail("cross_entropy: a bad target's loss is not NaN");
    for (int64_t i = n; i < rows * n; i++) if (!std::isnan(grad[i])) fail("cross_entropy_backward: a bad target's row is not NaN");
    if (timing()) {
        const int64_t r = 8 * 128, v = 50257;
        Dev<float> lg(randn(r * v, 125)), ls(r), dls(std::vector<float>(r, 1.0f)), dlg(r * v);
        Dev<int32_t> tg(randint(r, (int32_t)v, 126));
        double ms = time_ms([&] { ok(l4jc_cross_entropy(r, v, lg.p, tg.p, ls.p, nullptr), "cross_entropy"); });
        report_time("cross_entropy", "1024 x 50257", ms, 8.0 * r * v, 3.0 * r * v);
        ms = time_ms([&] { ok(l4jc_cross_entropy_backward(r, v, lg.p, tg.p, dls.p, dlg.p, nullptr), "cross_entropy_backward"); });
        report_time("cross_entropy_backward", "1024 x 50257", ms, 12.0 * r * v, 5.0 * r * v);
    }
}
