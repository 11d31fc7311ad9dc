// Checks of rotary.cu and backward_rotary.cu against the CPU kernels: both pair conventions, rotary_dim below
// d_head (the rest passes through), position offsets, in-place use, and the backward undoing the forward.
#include "check.h"
using namespace l4jcheck;

namespace {
struct Shape { int64_t batch, seq, n_heads, d_head, rotary_dim, offset; };
const std::vector<Shape> kShapes = {{1, 1, 1, 2, 2, 0}, {2, 5, 3, 16, 16, 0}, {1, 7, 2, 32, 8, 3}, {3, 33, 4, 64, 64, 5}, {2, 9, 5, 10, 6, 1}};

void tables(int64_t n_ctx, int64_t half, std::vector<float> &c, std::vector<float> &s) {
    c.resize(n_ctx * half);
    s.resize(n_ctx * half);
    for (int64_t p = 0; p < n_ctx; p++)
        for (int64_t i = 0; i < half; i++) {
            const double a = p * std::pow(10000.0, -2.0 * i / (2.0 * half));
            c[p * half + i] = (float)std::cos(a);
            s[p * half + i] = (float)std::sin(a);
        }
}
}  // namespace

L4JC_CHECK_CASE(rotary_matches_cpu) {
    for (const Shape &sh : kShapes)
        for (int adjacent = 0; adjacent < 2; adjacent++) {
            const int64_t n = sh.batch * sh.seq * sh.n_heads * sh.d_head, n_ctx = sh.seq + sh.offset + 2;
            std::vector<float> c, s, x = randn(n, 61 + n), fwd(n), bwd(n);
            tables(n_ctx, sh.rotary_dim / 2, c, s);
            ok(l4j_rotary(sh.batch, sh.seq, sh.n_heads, sh.d_head, sh.rotary_dim, sh.offset, c.data(), s.data(), n_ctx, adjacent, x.data(), fwd.data()), "l4j_rotary");
            ok(l4j_rotary_backward(sh.batch, sh.seq, sh.n_heads, sh.d_head, sh.rotary_dim, sh.offset, c.data(), s.data(), n_ctx, adjacent, x.data(), bwd.data()), "l4j_rotary_backward");
            Dev<float> dc(c), ds(s), dx(x), out(n);
            const std::string what = "rotary d_head " + std::to_string(sh.d_head) + " rotary_dim " + std::to_string(sh.rotary_dim) + (adjacent ? " adjacent" : " half");
            ok(l4jc_rotary(sh.batch, sh.seq, sh.n_heads, sh.d_head, sh.rotary_dim, sh.offset, dc.p, ds.p, n_ctx, adjacent, dx.p, out.p, nullptr), "l4jc_rotary");
            expect_close(out.get(), fwd, 1e-6f, what);
            ok(l4jc_rotary_backward(sh.batch, sh.seq, sh.n_heads, sh.d_head, sh.rotary_dim, sh.offset, dc.p, ds.p, n_ctx, adjacent, dx.p, out.p, nullptr), "l4jc_rotary_backward");
            expect_close(out.get(), bwd, 1e-6f, what + " backward");
            // in place: forward then backward returns x
            ok(l4jc_rotary(sh.batch, sh.seq, sh.n_heads, sh.d_head, sh.rotary_dim, sh.offset, dc.p, ds.p, n_ctx, adjacent, dx.p, dx.p, nullptr), "l4jc_rotary in place");
            expect_close(dx.get(), fwd, 1e-6f, what + " in place");
            ok(l4jc_rotary_backward(sh.batch, sh.seq, sh.n_heads, sh.d_head, sh.rotary_dim, sh.offset, dc.p, ds.p, n_ctx, adjacent, dx.p, dx.p, nullptr), "l4jc_rotary_backward in place");
            expect_close(dx.get(), x, 1e-5f, what + " round trip");
        }
    Dev<float> t(64), x(64);
    if (l4jc_rotary(1, 4, 1, 16, 16, 1, t.p, t.p, 4, 0, x.p, x.p, nullptr) != L4J_ERR_RANGE) fail("rotary past n_ctx accepted");
    if (l4jc_rotary(1, 1, 1, 16, 7, 0, t.p, t.p, 4, 0, x.p, x.p, nullptr) != L4J_ERR_ARG) fail("odd rotary_dim accepted");
    if (l4jc_rotary(1, 1, 1, 16, 18, 0, t.p, t.p, 4, 0, x.p, x.p, nullptr) != L4J_ERR_ARG) fail("rotary_dim > d_head accepted");
    if (timing()) {
        const int64_t b = 8, s = 128, h = 12, d = 64, n = b * s * h * d;
        std::vector<float> c, sn;
        tables(s, d / 2, c, sn);
        Dev<float> dc(c), ds(sn), in(n), out(n);
        double ms = time_ms([&] { ok(l4jc_rotary(b, s, h, d, d, 0, dc.p, ds.p, s, 0, in.p, out.p, nullptr), "rotary"); });
        report_time("rotary", "8x128x12x64", ms, 8.0 * n, 3.0 * n);
    }
}
