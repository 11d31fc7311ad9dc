// Checks of gemm.cu / gemm_bf16.cu against l4j_gemm / l4j_gemm_bf16: every transpose combination, ragged shapes,
// padded leading dimensions, beta 0 (over garbage) and 1, bias, K = 0, TF32, both bf16 modes and the conversions.
#include "check.h"
#include <cstring>
#include <limits>
using namespace l4jcheck;

namespace {
struct Shape { int64_t M, N, K; };
const Shape kShapes[] = {{1, 1, 1}, {1, 33, 7}, {17, 5, 1}, {37, 29, 45}, {64, 130, 70}, {3, 257, 2}};

// Runs l4j_gemm and l4jc_gemm on the same inputs (leading dimensions padded by `pad`) and compares C.
void compare_gemm(int tA, int tB, Shape s, int64_t pad, float alpha, float beta, bool bias, float tol, uint64_t seed) {
    const int64_t lda = (tA ? s.M : s.K) + pad, ldb = (tB ? s.K : s.N) + pad, ldc = s.N + pad;
    const int64_t arows = tA ? s.K : s.M, brows = tB ? s.N : s.K;
    std::vector<float> a = randn(arows * lda, seed), b = randn(brows * ldb, seed + 1), c = randn(s.M * ldc, seed + 2);
    std::vector<float> bs = randn(s.N, seed + 3);
    if (beta == 0.0f) c.assign(c.size(), std::numeric_limits<float>::quiet_NaN());  // beta 0 must ignore C
    std::vector<float> want = c;
    ok(l4j_gemm(tA, tB, s.M, s.N, s.K, alpha, a.data(), lda, b.data(), ldb, beta, want.data(), ldc, bias ? bs.data() : nullptr), "l4j_gemm");
    Dev<float> da(a), db(b), dc(c), dbias(bs);
    ok(l4jc_gemm(tA, tB, s.M, s.N, s.K, alpha, da.p, lda, db.p, ldb, beta, dc.p, ldc, bias ? dbias.p : nullptr, nullptr), "l4jc_gemm");
    std::vector<float> got = dc.get();
    // the padding between rows of C is never written
    for (int64_t i = 0; i < s.M; i++)
        for (int64_t j = s.N; j < ldc; j++) {
            const float g = got[i * ldc + j], w = c[i * ldc + j];
            if (!(g == w || (g != g && w != w))) fail("gemm wrote C's padding");
        }
    expect_close(got, want, tol, "gemm tA=" + std::to_string(tA) + " tB=" + std::to_string(tB) + " M=" + std::to_string(s.M) +
                 " N=" + std::to_string(s.N) + " K=" + std::to_string(s.K) + " pad=" + std::to_string(pad) +
                 " beta=" + std::to_string(beta) + (bias ? " bias" : ""));
}

std::vector<uint32_t> bits(const std::vector<float> &v) {
    std::vector<uint32_t> u(v.size());
    std::memcpy(u.data(), v.data(), v.size() * 4);
    return u;
}

void time_sgemm(int tB, int64_t M, int64_t N, int64_t K, const char *what) {
    Dev<float> a(M * K), b(K * N), c(M * N);
    ok(l4jc_memset_async(a.p, 0, M * K * 4, nullptr), "memset");
    ok(l4jc_memset_async(b.p, 0, K * N * 4, nullptr), "memset");
    for (int tf32 : {0, 1}) {
        ok(l4jc_set_tf32(tf32), "set_tf32");
        const double ms = time_ms([&] { ok(l4jc_gemm(0, tB, M, N, K, 1.0f, a.p, K, b.p, tB ? K : N, 0.0f, c.p, N, nullptr, nullptr), "gemm"); });
        report_time(std::string("gemm") + (tf32 ? " tf32" : " fp32"), std::string(what) + " " + std::to_string(M) + "x" +
                    std::to_string(N) + "x" + std::to_string(K), ms, 4.0 * (M * K + K * N + M * N), 2.0 * M * N * K);
    }
    ok(l4jc_set_tf32(0), "set_tf32");
}
}  // namespace

L4JC_CHECK_CASE(gemm_matches_cpu) {
    uint64_t seed = 100;
    for (int tA : {0, 1})
        for (int tB : {0, 1})
            for (const Shape &s : kShapes)
                for (int64_t pad : {0, 3}) {
                    compare_gemm(tA, tB, s, pad, 1.0f, 0.0f, false, 1e-5f, seed += 10);
                    compare_gemm(tA, tB, s, pad, 0.5f, 1.0f, true, 1e-5f, seed += 10);
                }
    compare_gemm(0, 1, {9, 11, 13}, 1, -2.0f, 0.0f, true, 1e-5f, 7);
    compare_gemm(1, 0, {9, 11, 13}, 2, 1.5f, 0.25f, false, 1e-5f, 8);
    if (timing()) {
        time_sgemm(0, 1024, 3072, 768, "mlp_in");
        time_sgemm(0, 1024, 768, 3072, "mlp_out");
        time_sgemm(0, 1024, 2304, 768, "qkv");
        time_sgemm(1, 1024, 50257, 768, "unembed");
    }
}

L4JC_CHECK_CASE(gemm_k0_and_arguments) {
    // K = 0: C = beta C + bias, A and B unused (NULL)
    for (float beta : {0.0f, 1.0f, -0.5f})
        for (bool bias : {false, true}) {
            const int64_t M = 5, N = 7, ldc = 9;
            std::vector<float> c = randn(M * ldc, 40), bs = randn(N, 41), want = c;
            ok(l4j_gemm(0, 0, M, N, 0, 1.0f, nullptr, 1, nullptr, N, beta, want.data(), ldc, bias ? bs.data() : nullptr), "l4j_gemm K=0");
            Dev<float> dc(c), db(bs);
            ok(l4jc_gemm(0, 0, M, N, 0, 1.0f, nullptr, 1, nullptr, N, beta, dc.p, ldc, bias ? db.p : nullptr, nullptr), "l4jc_gemm K=0");
            expect_equal(dc.get(), want, "gemm K=0 beta=" + std::to_string(beta));
        }
    // gemm_bf16 with K = 0 is the same C = beta C + bias (against l4j_gemm: l4j_gemm_bf16 passes ldb 1 to l4j_gemm
    // for K = 0 and so rejects any N > 1)
    for (float beta : {0.0f, 0.5f}) {
        const int64_t M = 3, N = 6;
        std::vector<float> c = randn(M * N, 42), bs = randn(N, 43), want = c;
        ok(l4j_gemm(0, 0, M, N, 0, 1.0f, nullptr, 1, nullptr, N, beta, want.data(), N, bs.data()), "l4j_gemm K=0");
        Dev<float> dc(c), db(bs);
        for (int mode : {0, 1}) {
            dc.upload(c);
            ok(l4jc_gemm_bf16(0, M, N, 0, 1.0f, nullptr, 1, nullptr, N, beta, dc.p, N, db.p, mode, nullptr), "l4jc_gemm_bf16 K=0");
            expect_equal(dc.get(), want, "gemm_bf16 K=0 mode " + std::to_string(mode));
        }
    }
    // on a stream of its own
    {
        void *s = nullptr;
        ok(l4jc_stream_create(&s), "stream_create");
        const int64_t M = 7, N = 9, K = 11;
        std::vector<float> a = randn(M * K, 44), b = randn(K * N, 45), want(M * N);
        ok(l4j_gemm(0, 0, M, N, K, 1.0f, a.data(), K, b.data(), N, 0.0f, want.data(), N, nullptr), "l4j_gemm");
        Dev<float> da(a), db(b), dc(M * N);
        ok(l4jc_gemm(0, 0, M, N, K, 1.0f, da.p, K, db.p, N, 0.0f, dc.p, N, nullptr, s), "l4jc_gemm on a stream");
        ok(l4jc_stream_synchronize(s), "stream_synchronize");
        expect_close(dc.get(), want, 1e-5f, "gemm on a stream");
        ok(l4jc_stream_destroy(s), "stream_destroy");
    }
    Dev<float> a(64), b(64), c(64);
    if (l4jc_gemm(0, 0, 4, 4, 4, 1.0f, a.p, 4, b.p, 4, 0.0f, c.p, 3, nullptr, nullptr) != L4J_ERR_ARG) fail("ldc < N accepted");
    if (l4jc_gemm(1, 0, 4, 4, 4, 1.0f, a.p, 3, b.p, 4, 0.0f, c.p, 4, nullptr, nullptr) != L4J_ERR_ARG) fail("lda < M (transA) accepted");
    if (l4jc_gemm(0, 1, 4, 4, 4, 1.0f, a.p, 4, b.p, 3, 0.0f, c.p, 4, nullptr, nullptr) != L4J_ERR_ARG) fail("ldb < K (transB) accepted");
    if (l4jc_gemm(0, 0, 4, 4, 4, 1.0f, nullptr, 4, b.p, 4, 0.0f, c.p, 4, nullptr, nullptr) != L4J_ERR_ARG) fail("A NULL accepted");
    if (l4jc_gemm(0, 0, 1, (int64_t)1 << 31, 1, 1.0f, a.p, 1, b.p, (int64_t)1 << 31, 0.0f, c.p, (int64_t)1 << 31, nullptr, nullptr) != L4J_ERR_ARG)
        fail("N past cuBLAS's int accepted");
    if (l4jc_gemm_bf16(0, 4, 4, 4, 1.0f, a.p, 4, (const uint16_t *)b.p, 4, 0.0f, c.p, 4, nullptr, 2, nullptr) != L4J_ERR_ARG)
        fail("gemm_bf16 mode 2 accepted");
}

// TL's [heads, d_model, d_head] weights read in place as column groups, against the CPU twins: whole 32-column panels
// (64), groups that straddle them (40, 7), bias, beta over garbage
L4JC_CHECK_CASE(gemm_grouped_matches_cpu) {
    struct G { int64_t M, heads, K, dh; };
    const G kGroups[] = {{70, 3, 48, 64}, {33, 5, 17, 40}, {9, 4, 30, 7}, {1, 2, 8, 16}};
    uint64_t seed = 700;
    for (const G &g : kGroups)
        for (int with_bias : {0, 1}) {
            const int64_t N = g.heads * g.dh, S = g.K * g.dh;
            std::vector<float> a = randn(g.M * g.K, seed++), w = randn(g.heads * S, seed++), bs = randn(N, seed++);
            std::vector<float> c(g.M * N, std::numeric_limits<float>::quiet_NaN()), want = c, want16 = c;
            const float *bias = with_bias ? bs.data() : nullptr;
            ok(l4j_gemm_grouped(g.M, N, g.K, 1.0f, a.data(), g.K, w.data(), g.dh, g.dh, S, 0.0f, want.data(), N, bias, 0),
               "l4j_gemm_grouped");
            std::vector<uint16_t> w16(w.size());
            ok(l4j_f32_to_bf16((int64_t)w.size(), w.data(), w16.data()), "f32_to_bf16");
            ok(l4j_gemm_bf16_grouped(g.M, N, g.K, 1.0f, a.data(), g.K, w16.data(), g.dh, g.dh, S, 0.0f, want16.data(), N,
                                     bias, 1), "l4j_gemm_bf16_grouped");
            Dev<float> da(a), dw(w), dc(c), db(bs);
            Dev<uint16_t> dw16(w16);
            const std::string what = "M=" + std::to_string(g.M) + " heads=" + std::to_string(g.heads) + " K=" +
                                     std::to_string(g.K) + " d_head=" + std::to_string(g.dh) + (with_bias ? " bias" : "");
            ok(l4jc_gemm_grouped(g.M, N, g.K, 1.0f, da.p, g.K, dw.p, g.dh, g.dh, S, 0.0f, dc.p, N, with_bias ? db.p : nullptr,
                                 0, nullptr), "l4jc_gemm_grouped");
            expect_close(dc.get(), want, 1e-5f, "gemm_grouped " + what);
            dc.upload(c);
            ok(l4jc_gemm_bf16_grouped(g.M, N, g.K, 1.0f, da.p, g.K, dw16.p, g.dh, g.dh, S, 0.0f, dc.p, N,
                                      with_bias ? db.p : nullptr, 1, nullptr), "l4jc_gemm_bf16_grouped");
            expect_close(dc.get(), want16, 1e-5f, "gemm_bf16_grouped (widened) " + what);
            // mode 0 rounds A to bf16 once for all groups: the CPU reference widens B with A rounded the same way
            std::vector<uint16_t> a16(a.size());
            std::vector<float> ar(a.size()), want0 = c;
            ok(l4j_f32_to_bf16((int64_t)a.size(), a.data(), a16.data()), "f32_to_bf16 (A)");
            ok(l4j_bf16_to_f32((int64_t)a.size(), a16.data(), ar.data()), "bf16_to_f32 (A)");
            ok(l4j_gemm_bf16_grouped(g.M, N, g.K, 1.0f, ar.data(), g.K, w16.data(), g.dh, g.dh, S, 0.0f, want0.data(), N,
                                     bias, 1), "l4j_gemm_bf16_grouped (A rounded)");
            dc.upload(c);
            ok(l4jc_gemm_bf16_grouped(g.M, N, g.K, 1.0f, da.p, g.K, dw16.p, g.dh, g.dh, S, 0.0f, dc.p, N,
                                      with_bias ? db.p : nullptr, 0, nullptr), "l4jc_gemm_bf16_grouped mode 0");
            expect_close(dc.get(), want0, 1e-5f, "gemm_bf16_grouped (A rounded) " + what);
        }
    Dev<float> a(64), b(64), c(64);
    if (l4jc_gemm_grouped(2, 6, 4, 1.0f, a.p, 4, b.p, 4, 4, 16, 0.0f, c.p, 6, nullptr, 0, nullptr) != L4J_ERR_ARG)
        fail("gemm_grouped: N not a multiple of the group accepted");
    if (l4jc_gemm_grouped(2, 8, 4, 1.0f, a.p, 4, b.p, 3, 4, 16, 0.0f, c.p, 8, nullptr, 0, nullptr) != L4J_ERR_ARG)
        fail("gemm_grouped: ldb < group accepted");
}

L4JC_CHECK_CASE(gemm_tf32) {
    // TF32 keeps 10 mantissa bits of each input: close to the f32 product, not equal; off again gives f32 back
    const int64_t M = 33, N = 47, K = 64;
    std::vector<float> a = randn(M * K, 60), b = randn(K * N, 61), want(M * N);
    ok(l4j_gemm(0, 0, M, N, K, 1.0f, a.data(), K, b.data(), N, 0.0f, want.data(), N, nullptr), "l4j_gemm");
    Dev<float> da(a), db(b), dc(M * N);
    ok(l4jc_set_tf32(1), "set_tf32 on");
    ok(l4jc_gemm(0, 0, M, N, K, 1.0f, da.p, K, db.p, N, 0.0f, dc.p, N, nullptr, nullptr), "gemm tf32");
    expect_close(dc.get(), want, 5e-3f, "gemm tf32");
    ok(l4jc_set_tf32(0), "set_tf32 off");
    ok(l4jc_gemm(0, 0, M, N, K, 1.0f, da.p, K, db.p, N, 0.0f, dc.p, N, nullptr, nullptr), "gemm fp32");
    expect_close(dc.get(), want, 1e-5f, "gemm after tf32 off");
}

L4JC_CHECK_CASE(gemm_bf16_matches_cpu) {
    uint64_t seed = 500;
    for (int tB : {0, 1})
        for (const Shape &s : kShapes)
            for (int64_t pad : {0, 5})
                for (bool bias : {false, true}) {
                    const int64_t lda = s.K + pad, ldb = (tB ? s.K : s.N) + pad, ldc = s.N + pad;
                    const int64_t brows = tB ? s.N : s.K;
                    const float beta = bias ? 1.0f : 0.0f;
                    std::vector<float> a = randn(s.M * lda, seed += 10), bf = randn(brows * ldb, seed + 1),
                                       c = randn(s.M * ldc, seed + 2), bs = randn(s.N, seed + 3);
                    std::vector<uint16_t> b(bf.size());
                    ok(l4j_f32_to_bf16((int64_t)bf.size(), bf.data(), b.data()), "l4j_f32_to_bf16");
                    // mode 1 multiplies A exactly: the CPU's mode 1 is the reference
                    std::vector<float> want1 = c;
                    ok(l4j_gemm_bf16(tB, s.M, s.N, s.K, 0.75f, a.data(), lda, b.data(), ldb, beta, want1.data(), ldc,
                                     bias ? bs.data() : nullptr, 1), "l4j_gemm_bf16");
                    // mode 0 rounds A to bf16 first; products of two bf16 are exact in f32, so the reference is mode 1
                    // on A rounded on the host
                    std::vector<uint16_t> a16(a.size());
                    std::vector<float> ar(a.size()), want0 = c;
                    ok(l4j_f32_to_bf16((int64_t)a.size(), a.data(), a16.data()), "round A");
                    ok(l4j_bf16_to_f32((int64_t)a.size(), a16.data(), ar.data()), "widen A");
                    ok(l4j_gemm_bf16(tB, s.M, s.N, s.K, 0.75f, ar.data(), lda, b.data(), ldb, beta, want0.data(), ldc,
                                     bias ? bs.data() : nullptr, 1), "l4j_gemm_bf16 (A rounded)");
                    Dev<float> da(a), dbias(bs);
                    Dev<uint16_t> db(b);
                    const std::string what = "gemm_bf16 tB=" + std::to_string(tB) + " M=" + std::to_string(s.M) + " N=" +
                                             std::to_string(s.N) + " K=" + std::to_string(s.K) + " pad=" + std::to_string(pad);
                    for (int mode : {0, 1}) {
                        Dev<float> dc(c);
                        ok(l4jc_gemm_bf16(tB, s.M, s.N, s.K, 0.75f, da.p, lda, db.p, ldb, beta, dc.p, ldc,
                                          bias ? dbias.p : nullptr, mode, nullptr), "l4jc_gemm_bf16");
                        const std::vector<float> got = dc.get();
                        expect_close(got, mode ? want1 : want0, 1e-5f, what + " mode " + std::to_string(mode));
                        if (mode == 0) expect_close(got, want1, 2e-2f, what + " mode 0 vs exact A");
                    }
                }
    if (timing()) {
        const int64_t M = 1024, N = 3072, K = 768;
        Dev<float> a(M * K), c(M * N);
        Dev<uint16_t> b(K * N);
        ok(l4jc_memset_async(a.p, 0, M * K * 4, nullptr), "memset");
        ok(l4jc_memset_async(b.p, 0, K * N * 2, nullptr), "memset");
        for (int mode : {0, 1}) {
            const double ms = time_ms([&] { ok(l4jc_gemm_bf16(0, M, N, K, 1.0f, a.p, K, b.p, N, 0.0f, c.p, N, nullptr, mode, nullptr), "gemm_bf16"); });
            report_time("gemm_bf16 mode " + std::to_string(mode), "mlp_in 1024x3072x768", ms, 4.0 * M * K + 2.0 * K * N + 4.0 * M * N, 2.0 * M * N * K);
        }
    }
}

L4JC_CHECK_CASE(bf16_conversions_match_cpu) {
    std::vector<float> f = randn(1001, 90, 100.0f);
    const float inf = std::numeric_limits<float>::infinity();
    uint32_t ties[] = {0x3f808000u, 0x3f818000u, 0x7f7fffffu, 0x00000001u, 0x80000000u, 0x7fc00001u, 0xff800001u};
    for (uint32_t t : ties) { float v; std::memcpy(&v, &t, 4); f.push_back(v); }
    f.push_back(inf);
    f.push_back(-inf);
    std::vector<uint16_t> want16(f.size());
    ok(l4j_f32_to_bf16((int64_t)f.size(), f.data(), want16.data()), "l4j_f32_to_bf16");
    Dev<float> df(f);
    Dev<uint16_t> d16(f.size());
    ok(l4jc_f32_to_bf16((int64_t)f.size(), df.p, d16.p, nullptr), "l4jc_f32_to_bf16");
    expect_equal(d16.get(), want16, "f32_to_bf16 bits");
    std::vector<float> want32(f.size());
    ok(l4j_bf16_to_f32((int64_t)f.size(), want16.data(), want32.data()), "l4j_bf16_to_f32");
    Dev<float> d32(f.size());
    ok(l4jc_bf16_to_f32((int64_t)f.size(), d16.p, d32.p, nullptr), "l4jc_bf16_to_f32");
    expect_equal(bits(d32.get()), bits(want32), "bf16_to_f32 bits");
    if (l4jc_f32_to_bf16(-1, df.p, d16.p, nullptr) != L4J_ERR_ARG) fail("n < 0 accepted");
    ok(l4jc_f32_to_bf16(0, nullptr, nullptr, nullptr), "n = 0 with NULL");
}
