// Checks of tensor_ops.cu against cpu/tensor_ops.cpp: gathers and element-wise ops exactly, reductions within double
// rounding, arg / top-k indices exactly (ties, NaN), on ragged shapes with both team kinds (inner 1 and inner > 1).
#include "check.h"
#include <cstring>
#include <limits>
using namespace l4jcheck;

namespace {
const float kNaN = std::numeric_limits<float>::quiet_NaN();
const float kInf = std::numeric_limits<float>::infinity();

struct Dim3 { int64_t outer, n, inner; };
const Dim3 kDims[] = {{1, 1, 1}, {3, 37, 1}, {2, 1, 5}, {4, 70, 33}, {1, 300, 1}, {5, 9, 2}};

std::vector<uint32_t> bits(const std::vector<float> &v) {
    std::vector<uint32_t> u(v.size());
    std::memcpy(u.data(), v.data(), v.size() * 4);
    for (auto &x : u) if ((x & 0x7fffffffu) > 0x7f800000u) x = 0x7fc00000u;  // any NaN is NaN
    return u;
}
std::string dims_name(const char *op, Dim3 d) {
    return std::string(op) + " [" + std::to_string(d.outer) + "," + std::to_string(d.n) + "," + std::to_string(d.inner) + "]";
}
// values rounded to halves: many ties
std::vector<float> tied(size_t n, uint64_t seed) {
    std::vector<float> v = randn(n, seed, 2.0f);
    for (auto &x : v) x = std::round(x * 2.0f) / 2.0f;
    return v;
}
}  // namespace

L4JC_CHECK_CASE(strided_copy_matches_cpu) {
    std::vector<float> src = randn(3 * 5 * 7 + 11, 1);
    Dev<float> dsrc(src);
    struct View { std::vector<int64_t> shape, strides; int64_t offset; };
    const View views[] = {
        {{7, 5, 3}, {1, 7, 35}, 0},        // full permute of [3,5,7]
        {{2, 3, 4}, {35, 14, 2}, 3},       // slices with steps and an offset
        {{5, 1, 7}, {7, 0, 1}, 35},        // a broadcast (stride 0) dimension
        {{}, {}, 12},                      // a scalar
        {{4, 0, 2}, {1, 1, 1}, 0},         // empty
    };
    for (const View &v : views) {
        int64_t n = 1;
        for (int64_t s : v.shape) n *= s;
        std::vector<float> want((size_t)std::max<int64_t>(n, 1), -1.0f);
        const int nd = (int)v.shape.size();
        ok(l4j_strided_copy(nd, v.shape.data(), v.strides.data(), v.offset, src.data(), want.data()), "l4j_strided_copy");
        Dev<float> dout(std::vector<float>(want.size(), -1.0f));
        ok(l4jc_strided_copy(nd, v.shape.data(), v.strides.data(), v.offset, dsrc.p, dout.p, nullptr), "l4jc_strided_copy");
        expect_equal(dout.get(), want, "strided_copy ndim " + std::to_string(nd));
    }
    const int64_t bad_shape[17] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1}, strides[17] = {0};
    Dev<float> dout(4);
    if (l4jc_strided_copy(17, bad_shape, strides, 0, dsrc.p, dout.p, nullptr) != L4J_ERR_ARG) fail("17 dimensions accepted");
    const int64_t neg[2] = {2, 2}, negs[2] = {1, -1};
    if (l4jc_strided_copy(2, neg, negs, 4, dsrc.p, dout.p, nullptr) != L4J_ERR_ARG) fail("a negative stride accepted");
    if (timing()) {  // [8,128,12,64] -> [8,12,128,64] (heads to the front)
        const int64_t shape[4] = {8, 12, 128, 64}, st[4] = {128 * 768, 64, 768, 1}, n = 8 * 128 * 768;
        Dev<float> a(n), b(n);
        const double ms = time_ms([&] { ok(l4jc_strided_copy(4, shape, st, 0, a.p, b.p, nullptr), "strided_copy"); });
        report_time("strided_copy", "[8,128,12,64] permute", ms, 8.0 * n, 0);
    }
}

L4JC_CHECK_CASE(index_select_matches_cpu) {
    for (Dim3 d : {Dim3{3, 10, 7}, Dim3{1, 5, 1}, Dim3{4, 33, 1}}) {
        std::vector<float> src = randn(d.outer * d.n * d.inner, 2 + d.n);
        std::vector<int32_t> idx = randint(13, (int32_t)d.n, 3 + d.n);
        idx[0] = (int32_t)d.n - 1;
        idx[1] = 0;
        std::vector<float> want(d.outer * 13 * d.inner);
        ok(l4j_index_select(d.outer, d.n, d.inner, src.data(), 13, idx.data(), want.data()), "l4j_index_select");
        Dev<float> dsrc(src), dout(want.size());
        Dev<int32_t> didx(idx);
        ok(l4jc_index_select(d.outer, d.n, d.inner, dsrc.p, 13, didx.p, dout.p, nullptr), "l4jc_index_select");
        expect_equal(dout.get(), want, dims_name("index_select", d));
    }
    // an index Java failed to catch is skipped, never read out of bounds: its slot keeps what was there
    std::vector<float> src = randn(12, 4), init(16, 7.0f);  // out is [outer 2, k 4, inner 2]
    std::vector<int32_t> idx = {1, 99, -1, 0};
    Dev<float> dsrc(src), dout(init);
    Dev<int32_t> didx(idx);
    ok(l4jc_index_select(2, 3, 2, dsrc.p, 4, didx.p, dout.p, nullptr), "index_select with a bad index");
    std::vector<float> got = dout.get();
    if (got[0] != src[2] || got[2] != 7.0f || got[4] != 7.0f || got[6] != src[0]) fail("index_select: bad index not skipped");
}

L4JC_CHECK_CASE(binary_and_unary_match_cpu) {
    // [4,1,6] op [1,5,6] -> [4,5,6], and a [5,6] op scalar
    const int64_t shape[3] = {4, 5, 6}, as[3] = {6, 0, 1}, bs[3] = {0, 6, 1};
    std::vector<float> a = randn(24, 5), b = randn(30, 6);
    a[3] = kNaN; b[7] = kNaN; b[8] = 0.0f; a[9] = kInf;
    Dev<float> da(a), db(b), dout(120);
    for (int op = L4J_BIN_ADD; op <= L4J_BIN_MIN; op++) {
        std::vector<float> want(120);
        ok(l4j_binary(op, 3, shape, a.data(), as, b.data(), bs, want.data()), "l4j_binary");
        ok(l4jc_binary(op, 3, shape, da.p, as, db.p, bs, dout.p, nullptr), "l4jc_binary");
        expect_equal(bits(dout.get()), bits(want), "binary op " + std::to_string(op));
    }
    const int64_t s2[2] = {5, 6}, a2[2] = {6, 1}, b2[2] = {0, 0};
    std::vector<float> want(30);
    ok(l4j_binary(L4J_BIN_DIV, 2, s2, b.data(), a2, a.data() + 1, b2, want.data()), "l4j_binary scalar");
    ok(l4jc_binary(L4J_BIN_DIV, 2, s2, db.p, a2, da.p + 1, b2, dout.p, nullptr), "l4jc_binary scalar");
    std::vector<float> got = dout.get();
    got.resize(30);
    expect_equal(bits(got), bits(want), "binary by a scalar");
    if (l4jc_binary(6, 3, shape, da.p, as, db.p, bs, dout.p, nullptr) != L4J_ERR_ARG) fail("binary op 6 accepted");

    std::vector<float> x = randn(1001, 7, 2.0f);
    x[0] = kNaN; x[1] = -kInf; x[2] = 0.0f; x[3] = -0.0f;
    Dev<float> dx(x);
    for (int op = L4J_UN_NEG; op <= L4J_UN_SQUARE; op++) {
        std::vector<float> w(x.size());
        ok(l4j_unary(op, (int64_t)x.size(), x.data(), w.data()), "l4j_unary");
        Dev<float> dy(x.size());
        ok(l4jc_unary(op, (int64_t)x.size(), dx.p, dy.p, nullptr), "l4jc_unary");
        // exp / log: the GPU's expf / logf are within 2 ulp of the CPU's; the rest are exact
        if (op == L4J_UN_EXP || op == L4J_UN_LOG) expect_close(dy.get(), w, 1e-6f, "unary op " + std::to_string(op));
        else expect_equal(bits(dy.get()), bits(w), "unary op " + std::to_string(op));
    }
    std::vector<float> w(x.size());
    ok(l4j_unary(L4J_UN_SQUARE, (int64_t)x.size(), x.data(), w.data()), "l4j_unary");
    ok(l4jc_unary(L4J_UN_SQUARE, (int64_t)x.size(), dx.p, dx.p, nullptr), "l4jc_unary in place");
    expect_equal(bits(dx.get()), bits(w), "unary in place");
    if (timing()) {  // a [1024,768] activation plus a bias row
        const int64_t sh[2] = {1024, 768}, sa[2] = {768, 1}, sb[2] = {0, 1}, n = 1024 * 768;
        Dev<float> p(n), q(768), r(n);
        const double ms = time_ms([&] { ok(l4jc_binary(L4J_BIN_ADD, 2, sh, p.p, sa, q.p, sb, r.p, nullptr), "binary"); });
        report_time("binary add", "[1024,768] + [768]", ms, 8.0 * n, (double)n);
    }
}

L4JC_CHECK_CASE(reduce_matches_cpu) {
    uint64_t seed = 20;
    for (Dim3 d : kDims)
        for (int op = L4J_RED_SUM; op <= L4J_RED_NORM2; op++) {
            std::vector<float> x = randn(d.outer * d.n * d.inner, seed++);
            if ((op == L4J_RED_MAX || op == L4J_RED_MIN) && x.size() > 4) x[x.size() / 2] = kNaN;  // propagates
            std::vector<float> want(d.outer * d.inner);
            ok(l4j_reduce(op, d.outer, d.n, d.inner, x.data(), want.data()), "l4j_reduce");
            Dev<float> dx(x), dout(want.size());
            ok(l4jc_reduce(op, d.outer, d.n, d.inner, dx.p, dout.p, nullptr), "l4jc_reduce");
            expect_close(dout.get(), want, 1e-6f, dims_name(("reduce op " + std::to_string(op)).c_str(), d));
        }
    // n = 0: sum 0, mean NaN (0 / 0) as the CPU; max has no identity
    for (int op : {L4J_RED_SUM, L4J_RED_MEAN, L4J_RED_NORM2}) {
        std::vector<float> want(6);
        ok(l4j_reduce(op, 2, 0, 3, nullptr, want.data()), "l4j_reduce n=0");
        Dev<float> dout(6);
        ok(l4jc_reduce(op, 2, 0, 3, nullptr, dout.p, nullptr), "l4jc_reduce n=0");
        expect_equal(bits(dout.get()), bits(want), "reduce n=0 op " + std::to_string(op));
    }
    Dev<float> dout(6);
    if (l4jc_reduce(L4J_RED_MAX, 2, 0, 3, nullptr, dout.p, nullptr) != L4J_ERR_ARG) fail("max over n=0 accepted");
    if (timing()) {
        const int64_t rows = 1024, n = 50257;
        Dev<float> x(rows * n), out(rows);
        ok(l4jc_memset_async(x.p, 0, rows * n * 4, nullptr), "memset");
        const double ms = time_ms([&] { ok(l4jc_reduce(L4J_RED_SUM, rows, n, 1, x.p, out.p, nullptr), "reduce"); });
        report_time("reduce sum", "[1024,50257] last dim", ms, 4.0 * rows * n, (double)rows * n);
        const double ms2 = time_ms([&] { ok(l4jc_reduce(L4J_RED_MEAN, 8, 128, 768, x.p, out.p, nullptr), "reduce"); });
        report_time("reduce mean", "[8,128,768] dim 1", ms2, 4.0 * 8 * 128 * 768, 8.0 * 128 * 768);
    }
}

L4JC_CHECK_CASE(arg_reduce_and_topk_match_cpu) {
    uint64_t seed = 40;
    for (Dim3 d : kDims)
        for (bool nan : {false, true}) {
            std::vector<float> x = tied(d.outer * d.n * d.inner, seed++);
            if (nan && x.size() > 6) { x[x.size() / 3] = kNaN; x[x.size() / 3 + 1] = kNaN; x[x.size() - 1] = kNaN; }
            Dev<float> dx(x);
            for (int want_max : {0, 1}) {
                std::vector<int32_t> want(d.outer * d.inner);
                ok(l4j_arg_reduce(want_max, d.outer, d.n, d.inner, x.data(), want.data()), "l4j_arg_reduce");
                Dev<int32_t> dout(want.size());
                ok(l4jc_arg_reduce(want_max, d.outer, d.n, d.inner, dx.p, dout.p, nullptr), "l4jc_arg_reduce");
                expect_equal(dout.get(), want, dims_name(want_max ? "argmax" : "argmin", d));
            }
            for (int64_t k : {int64_t(1), std::min<int64_t>(5, d.n), std::min<int64_t>(d.n, 12)}) {  // k = n for small n
                std::vector<float> wv(d.outer * k * d.inner);
                std::vector<int32_t> wi(wv.size());
                ok(l4j_topk(d.outer, d.n, d.inner, k, x.data(), wv.data(), wi.data()), "l4j_topk");
                Dev<float> dv(wv.size());
                Dev<int32_t> di(wi.size());
                ok(l4jc_topk(d.outer, d.n, d.inner, k, dx.p, dv.p, di.p, nullptr), "l4jc_topk");
                expect_equal(di.get(), wi, dims_name("topk indices", d) + " k=" + std::to_string(k));
                expect_equal(bits(dv.get()), bits(wv), dims_name("topk values", d) + " k=" + std::to_string(k));
            }
        }
    Dev<float> dx(8), dv(8);
    Dev<int32_t> di(8);
    if (l4jc_topk(1, 4, 1, 5, dx.p, dv.p, di.p, nullptr) != L4J_ERR_ARG) fail("topk k > n accepted");
    if (l4jc_arg_reduce(1, 1, 0, 1, dx.p, di.p, nullptr) != L4J_ERR_ARG) fail("argmax over n=0 accepted");
    if (timing()) {  // next-token predictions over GPT-2's vocabulary
        const int64_t rows = 1024, n = 50257;
        Dev<float> x(randn(rows * n, 9)), v(rows * 10);
        Dev<int32_t> i(rows * 10);
        const double ms = time_ms([&] { ok(l4jc_arg_reduce(1, rows, n, 1, x.p, i.p, nullptr), "arg_reduce"); });
        report_time("arg_reduce max", "[1024,50257]", ms, 4.0 * rows * n, (double)rows * n);
        const double ms2 = time_ms([&] { ok(l4jc_topk(rows, n, 1, 10, x.p, v.p, i.p, nullptr), "topk"); }, 5);
        report_time("topk k=10", "[1024,50257]", ms2, 40.0 * rows * n, 10.0 * rows * n);
    }
}

L4JC_CHECK_CASE(softmax_dim_and_cosine_match_cpu) {
    uint64_t seed = 60;
    for (Dim3 d : kDims)
        for (int log : {0, 1}) {
            std::vector<float> x = randn(d.outer * d.n * d.inner, seed++, 3.0f);
            if (x.size() > 3) x[1] = -kInf;
            if (d.n > 1 && d.inner == 1) for (int64_t j = 0; j < d.n; j++) x[j] = -kInf;  // an all -inf row: NaN, as the CPU
            std::vector<float> want(x.size());
            ok(l4j_softmax_dim(log, d.outer, d.n, d.inner, x.data(), want.data()), "l4j_softmax_dim");
            Dev<float> dx(x), dout(x.size());
            ok(l4jc_softmax_dim(log, d.outer, d.n, d.inner, dx.p, dout.p, nullptr), "l4jc_softmax_dim");
            expect_close(dout.get(), want, 1e-6f, dims_name(log ? "log_softmax_dim" : "softmax_dim", d));
        }
    for (Dim3 d : kDims)
        for (float eps : {1e-8f, 0.5f}) {
            std::vector<float> a = randn(d.outer * d.n * d.inner, seed++), b = randn(a.size(), seed++);
            for (int64_t j = 0; j < d.n; j++) a[j * d.inner] = 0.0f;  // a zero vector: eps guards the division
            std::vector<float> want(d.outer * d.inner);
            ok(l4j_cosine_dim(d.outer, d.n, d.inner, a.data(), b.data(), eps, want.data()), "l4j_cosine_dim");
            Dev<float> da(a), db(b), dout(want.size());
            ok(l4jc_cosine_dim(d.outer, d.n, d.inner, da.p, db.p, eps, dout.p, nullptr), "l4jc_cosine_dim");
            expect_close(dout.get(), want, 1e-6f, dims_name("cosine_dim", d));
        }
    if (timing()) {
        const int64_t rows = 1024, n = 50257;
        Dev<float> x(randn(rows * n, 10)), y(rows * n);
        const double ms = time_ms([&] { ok(l4jc_softmax_dim(1, rows, n, 1, x.p, y.p, nullptr), "softmax_dim"); });
        report_time("log_softmax_dim", "[1024,50257] last dim", ms, 8.0 * rows * n, 3.0 * rows * n);
        Dev<float> c(1024);
        const double ms2 = time_ms([&] { ok(l4jc_cosine_dim(1024, 768, 1, x.p, y.p, 1e-8f, c.p, nullptr), "cosine_dim"); });
        report_time("cosine_dim", "[1024,768] last dim", ms2, 8.0 * 1024 * 768, 6.0 * 1024 * 768);
    }
}
