// Checks of attention.cu and backward_attention.cu against the CPU twins: the flash path (no scores / pattern) and
// the split path, causal masks with and without a sliding window, soft-capping, grouped-query heads, KV caches
// (q_len < k_len) and key_range padding (left, right, empty), d_head 8 .. 300, seq 1 .. 130 plus one long case.
// Outputs start as NaN so an element a kernel forgets to write fails; dscores the mask hides are NaN, so a kernel
// that reads them fails.
#include "check.h"
#include <limits>
#include <memory>
using namespace l4jcheck;

namespace {
const float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kTol = 1e-5f;

struct Cfg {
    int64_t batch, q_len, k_len, heads, kv, d, window;
    float cap;
    std::vector<int64_t> key_range;  // empty: all keys valid
    std::string name() const {
        std::string s = "b" + std::to_string(batch) + " q" + std::to_string(q_len) + " k" + std::to_string(k_len) + " h" +
                        std::to_string(heads) + "/" + std::to_string(kv) + " d" + std::to_string(d) + " w" +
                        std::to_string(window) + " cap" + std::to_string((int)cap);
        if (!key_range.empty()) s += " key_range";
        return s;
    }
    // with a cap, scores of tens (|s| ~ 10) so the cap bends them (tanh far from linear)
    float scale() const { return (cap > 0 ? 10.0f : 1.0f) / std::sqrt((float)d); }
    size_t rows() const { return (size_t)(batch * q_len * heads * d); }
    size_t keys() const { return (size_t)(batch * k_len * kv * d); }
    size_t square() const { return (size_t)(batch * heads * q_len * k_len); }
};

// key j is visible to query i of batch row b: the contract of lens4j.h, written out independently of the kernels
bool sees(const Cfg &c, int64_t b, int64_t i, int64_t j) {
    const int64_t a = c.k_len - c.q_len + i;
    if (j > a || (c.window > 0 && j <= a - c.window)) return false;
    return c.key_range.empty() || (j >= c.key_range[2 * b] && j < c.key_range[2 * b + 1]);
}

std::vector<float> nans(size_t n) { return std::vector<float>(n, kNaN); }

// A device copy of key_range (or NULL), kept alive with the case.
struct Range {
    std::unique_ptr<Dev<int64_t>> dev;
    explicit Range(const Cfg &c) { if (!c.key_range.empty()) dev.reset(new Dev<int64_t>(c.key_range)); }
    const int64_t *p() const { return dev ? dev->p : nullptr; }
};

const std::vector<Cfg> &forward_cases() {
    static const std::vector<Cfg> cases = {
        {1, 1, 1, 1, 1, 8, 0, 0, {}},
        {2, 2, 2, 2, 1, 20, 0, 0, {}},
        {3, 7, 7, 4, 2, 64, 5, 0, {}},
        {1, 33, 33, 3, 3, 80, 0, 30, {}},
        {2, 130, 130, 2, 1, 64, 0, 0, {5, 130, 0, 121}},  // left padding, right padding
        {1, 130, 130, 2, 2, 128, 5, 30, {}},
        {1, 33, 33, 2, 1, 256, 0, 0, {}},
        {2, 7, 40, 4, 2, 64, 0, 0, {}},                            // KV cache
        {2, 1, 70, 2, 2, 20, 5, 0, {0, 70, 9, 70}},                // one decode step, padded
        {3, 33, 100, 2, 1, 8, 0, 30, {3, 100, 0, 60, 20, 20}},     // cache + padding, an empty range
        {1, 70, 70, 2, 1, 300, 5, 0, {}},                          // d_head > 256: two feature slices
    };
    return cases;
}

// the CPU's z, scores and pattern for c
struct Ref { std::vector<float> z, scores, pattern; };
Ref cpu_forward(const Cfg &c, const std::vector<float> &q, const std::vector<float> &k, const std::vector<float> &v) {
    Ref r{std::vector<float>(c.rows()), std::vector<float>(c.square()), std::vector<float>(c.square())};
    ok(l4j_attention_masked(c.batch, c.q_len, c.k_len, c.heads, c.kv, c.d, q.data(), k.data(), v.data(), c.scale(),
                            c.window, c.cap, c.key_range.empty() ? nullptr : c.key_range.data(), r.z.data(),
                            r.scores.data(), r.pattern.data()),
       "l4j_attention_masked");
    return r;
}

void check_forward(const Cfg &c, uint64_t seed) {
    const std::string n = c.name();
    std::vector<float> q = randn(c.rows(), seed), k = randn(c.keys(), seed + 1), v = randn(c.keys(), seed + 2);
    const Ref ref = cpu_forward(c, q, k, v);
    Dev<float> dq(q), dk(k), dv(v);
    Range kr(c);
    const int64_t *krp = kr.p();
    // flash: no scores, no pattern
    Dev<float> z(nans(c.rows()));
    ok(l4jc_attention_masked(c.batch, c.q_len, c.k_len, c.heads, c.kv, c.d, dq.p, dk.p, dv.p, c.scale(), c.window,
                             c.cap, krp, z.p, nullptr, nullptr, nullptr),
       "l4jc_attention_masked (flash)");
    expect_close(z.get(), ref.z, kTol, "flash z " + n);
    // every combination of the optional outputs
    for (int want = 1; want <= 3; want++) {
        Dev<float> z2(nans(c.rows())), sc(nans(c.square())), pat(nans(c.square()));
        ok(l4jc_attention_masked(c.batch, c.q_len, c.k_len, c.heads, c.kv, c.d, dq.p, dk.p, dv.p, c.scale(), c.window,
                                 c.cap, krp, z2.p, want & 1 ? sc.p : nullptr, want & 2 ? pat.p : nullptr, nullptr),
           "l4jc_attention_masked");
        const std::string w = " (outputs " + std::to_string(want) + ") " + n;
        expect_close(z2.get(), ref.z, kTol, "z" + w);
        if (want & 1) expect_close(sc.get(), ref.scores, kTol, "scores" + w);
        if (want & 2) expect_close(pat.get(), ref.pattern, kTol, "pattern" + w);
    }
    // the split kernels on their own
    Dev<float> sc(nans(c.square()));
    ok(l4jc_attn_scores_masked(c.batch, c.q_len, c.k_len, c.heads, c.kv, c.d, dq.p, dk.p, c.scale(), c.window, c.cap,
                               krp, sc.p, nullptr),
       "l4jc_attn_scores_masked");
    expect_close(sc.get(), ref.scores, kTol, "attn_scores_masked " + n);
    // attn_apply_kv applies any pattern over all keys (a hook may have written a non-causal one)
    std::vector<float> p = randn(c.square(), seed + 3), want(c.rows());
    ok(l4j_attn_apply_kv(c.batch, c.q_len, c.k_len, c.heads, c.kv, c.d, p.data(), v.data(), want.data()), "l4j_attn_apply_kv");
    Dev<float> dp(p), z3(nans(c.rows()));
    ok(l4jc_attn_apply_kv(c.batch, c.q_len, c.k_len, c.heads, c.kv, c.d, dp.p, dv.p, z3.p, nullptr), "l4jc_attn_apply_kv");
    expect_close(z3.get(), want, kTol, "attn_apply_kv " + n);
}
}  // namespace

L4JC_CHECK_CASE(attention_forward_matches_cpu) {
    uint64_t seed = 100;
    for (const Cfg &c : forward_cases()) check_forward(c, seed += 10);
}

// the unmasked-signature wrappers (seq = q_len = k_len, key_range NULL)
L4JC_CHECK_CASE(attention_square_wrappers_match_cpu) {
    const Cfg c{2, 33, 33, 4, 2, 20, 5, 30, {}};
    std::vector<float> q = randn(c.rows(), 7), k = randn(c.keys(), 8), v = randn(c.keys(), 9);
    const Ref ref = cpu_forward(c, q, k, v);
    Dev<float> dq(q), dk(k), dv(v), z(nans(c.rows())), pat(nans(c.square())), sc(nans(c.square())), z2(nans(c.rows()));
    ok(l4jc_attention(c.batch, c.q_len, c.heads, c.kv, c.d, dq.p, dk.p, dv.p, c.scale(), c.window, c.cap, z.p,
                      nullptr, pat.p, nullptr),
       "l4jc_attention");
    expect_close(z.get(), ref.z, kTol, "attention z");
    expect_close(pat.get(), ref.pattern, kTol, "attention pattern");
    ok(l4jc_attn_scores(c.batch, c.q_len, c.heads, c.kv, c.d, dq.p, dk.p, c.scale(), c.window, c.cap, sc.p, nullptr),
       "l4jc_attn_scores");
    expect_close(sc.get(), ref.scores, kTol, "attn_scores");
    ok(l4jc_attn_apply(c.batch, c.q_len, c.heads, c.kv, c.d, pat.p, dv.p, z2.p, nullptr), "l4jc_attn_apply");
    expect_close(z2.get(), ref.z, kTol, "attn_apply");
}

// A constructed case whose answer is known by hand: one head, d_head 1, q = k = 0 (all scores equal), so query i
// averages v over the keys it sees; v_j = j gives z_i = mean of its visible positions.
L4JC_CHECK_CASE(attention_flash_hand_computed) {
    const int64_t seq = 100, window = 7;
    std::vector<float> zero(seq, 0.0f), v(seq);
    for (int64_t j = 0; j < seq; j++) v[j] = (float)j;
    Dev<float> dq(zero), dk(zero), dv(v), z(nans(seq));
    ok(l4jc_attention(1, seq, 1, 1, 1, dq.p, dk.p, dv.p, 1.0f, window, 0.0f, z.p, nullptr, nullptr, nullptr), "attention");
    std::vector<float> want(seq);
    for (int64_t i = 0; i < seq; i++) {
        const int64_t lo = i - window + 1 > 0 ? i - window + 1 : 0;
        want[i] = 0.5f * (float)(lo + i);
    }
    expect_close(z.get(), want, 1e-6f, "mean of the window");
}

// By hand: seq 2, d_head 1, q = (1, 2), k = (3, 4), dscores 1 where causal (NaN above the diagonal), scale 1:
// dq_0 = k_0 = 3, dq_1 = k_0 + k_1 = 7, dk_0 = q_0 + q_1 = 3, dk_1 = q_1 = 2. Two query heads share the kv head
// (its q and dscores both doubled, so its dq doubles and its dk quadruples): dk sums the group, 3 + 12 and 2 + 8.
L4JC_CHECK_CASE(attention_backward_hand_computed) {
    const std::vector<float> q{1, 2, 2, 4}, k{3, 4}, ds{1, kNaN, 1, 1, 2, kNaN, 2, 2};  // q [seq, heads]
    Dev<float> dq_in(q), dk_in(k), dds(ds), gq(nans(4)), gk(nans(2));
    ok(l4jc_attn_scores_backward(1, 2, 2, 1, 1, dq_in.p, dk_in.p, dds.p, 1.0f, 0, gq.p, gk.p, nullptr), "backward");
    expect_close(gq.get(), {3, 6, 7, 14}, 0.0f, "dq by hand");
    expect_close(gk.get(), {15, 10}, 0.0f, "dk by hand");
}

// one long sequence through the flash path (tiles above the diagonal skipped): still a few seconds emulated
L4JC_CHECK_CASE(attention_flash_long_sequence) {
    const Cfg c{1, 2048, 2048, 1, 1, 64, 0, 0, {}};
    std::vector<float> q = randn(c.rows(), 31), k = randn(c.keys(), 32), v = randn(c.keys(), 33), want(c.rows());
    ok(l4j_attention(1, c.q_len, 1, 1, c.d, q.data(), k.data(), v.data(), c.scale(), 0, 0.0f, want.data(), nullptr,
                     nullptr),
       "l4j_attention");
    Dev<float> dq(q), dk(k), dv(v), z(nans(c.rows()));
    ok(l4jc_attention(1, c.q_len, 1, 1, c.d, dq.p, dk.p, dv.p, c.scale(), 0, 0.0f, z.p, nullptr, nullptr, nullptr),
       "l4jc_attention");
    expect_close(z.get(), want, kTol, "flash z seq 2048");
}

L4JC_CHECK_CASE(attention_backward_matches_cpu) {
    const std::vector<Cfg> cases = {
        {1, 1, 1, 1, 1, 8, 0, 0, {}},
        {2, 2, 2, 2, 1, 20, 0, 0, {}},
        {3, 7, 7, 4, 2, 64, 5, 0, {}},
        {1, 33, 33, 3, 3, 80, 0, 0, {}},
        {2, 130, 130, 4, 2, 64, 0, 0, {5, 130, 0, 121}},
        {1, 130, 130, 2, 1, 128, 5, 0, {}},
        {2, 33, 33, 2, 2, 256, 0, 0, {0, 33, 12, 12}},
    };
    uint64_t seed = 500;
    for (const Cfg &c : cases) {
        const std::string n = c.name();
        seed += 10;
        std::vector<float> q = randn(c.rows(), seed), k = randn(c.keys(), seed + 1), v = randn(c.keys(), seed + 2);
        std::vector<float> ds = randn(c.square(), seed + 3), p = randn(c.square(), seed + 4), dz = randn(c.rows(), seed + 5);
        for (int64_t b = 0; b < c.batch; b++)  // the hidden dscores belong to -inf constants: never read
            for (int64_t h = 0; h < c.heads; h++)
                for (int64_t i = 0; i < c.q_len; i++)
                    for (int64_t j = 0; j < c.k_len; j++)
                        if (!sees(c, b, i, j)) ds[((b * c.heads + h) * c.q_len + i) * c.k_len + j] = kNaN;
        const int64_t *krh = c.key_range.empty() ? nullptr : c.key_range.data();
        std::vector<float> want_dq(c.rows()), want_dk(c.keys()), want_dp(c.square()), want_dv(c.keys());
        ok(l4j_attn_scores_backward_masked(c.batch, c.q_len, c.heads, c.kv, c.d, q.data(), k.data(), ds.data(),
                                           c.scale(), c.window, krh, want_dq.data(), want_dk.data()),
           "l4j_attn_scores_backward_masked");
        ok(l4j_attn_apply_backward(c.batch, c.q_len, c.heads, c.kv, c.d, p.data(), v.data(), dz.data(),
                                   want_dp.data(), want_dv.data()),
           "l4j_attn_apply_backward");
        Dev<float> dq(q), dk(k), dv(v), dds(ds), dp(p), ddz(dz);
        Range kr(c);
        Dev<float> gq(nans(c.rows())), gk(nans(c.keys())), gp(nans(c.square())), gv(nans(c.keys()));
        ok(l4jc_attn_scores_backward_masked(c.batch, c.q_len, c.heads, c.kv, c.d, dq.p, dk.p, dds.p, c.scale(),
                                            c.window, kr.p(), gq.p, gk.p, nullptr),
           "l4jc_attn_scores_backward_masked");
        expect_close(gq.get(), want_dq, kTol, "dq " + n);
        const std::vector<float> dk1 = gk.get();
        expect_close(dk1, want_dk, kTol, "dk " + n);
        // dk alone (dq NULL), again: the same bits (a fixed summation order)
        Dev<float> gk2(nans(c.keys()));
        ok(l4jc_attn_scores_backward_masked(c.batch, c.q_len, c.heads, c.kv, c.d, dq.p, dk.p, dds.p, c.scale(),
                                            c.window, kr.p(), nullptr, gk2.p, nullptr),
           "l4jc_attn_scores_backward_masked (dk only)");
        expect_equal(gk2.get(), dk1, "dk deterministic " + n);
        ok(l4jc_attn_apply_backward(c.batch, c.q_len, c.heads, c.kv, c.d, dp.p, dv.p, ddz.p, gp.p, gv.p, nullptr),
           "l4jc_attn_apply_backward");
        expect_close(gp.get(), want_dp, kTol, "dpattern " + n);
        expect_close(gv.get(), want_dv, kTol, "dv " + n);
        if (c.key_range.empty()) {  // the unmasked signature, dq only
            Dev<float> gq2(nans(c.rows()));
            ok(l4jc_attn_scores_backward(c.batch, c.q_len, c.heads, c.kv, c.d, dq.p, dk.p, dds.p, c.scale(), c.window,
                                         gq2.p, nullptr, nullptr),
               "l4jc_attn_scores_backward");
            expect_close(gq2.get(), want_dq, kTol, "dq (unmasked signature) " + n);
        }
    }
}

L4JC_CHECK_CASE(softcap_matches_cpu) {
    for (int64_t n : {1, 257, 10007}) {
        std::vector<float> x = randn(n, 40 + n, 50.0f), dy = randn(n, 50 + n), y(n), dx(n);
        x[0] = -std::numeric_limits<float>::infinity();  // a masked score
        ok(l4j_softcap(n, x.data(), 30.0f, y.data()), "l4j_softcap");
        ok(l4j_softcap_backward(n, y.data(), dy.data(), 30.0f, dx.data()), "l4j_softcap_backward");
        Dev<float> dxv(x), ddy(dy), gy(nans(n));
        ok(l4jc_softcap(n, dxv.p, 30.0f, gy.p, nullptr), "l4jc_softcap");
        expect_close(gy.get(), y, kTol, "softcap n=" + std::to_string(n));
        ok(l4jc_softcap(n, dxv.p, 30.0f, dxv.p, nullptr), "l4jc_softcap in place");
        expect_close(dxv.get(), y, kTol, "softcap in place n=" + std::to_string(n));
        Dev<float> dyv(y);
        ok(l4jc_softcap_backward(n, dyv.p, ddy.p, 30.0f, ddy.p, nullptr), "l4jc_softcap_backward in place");
        expect_close(ddy.get(), dx, kTol, "softcap_backward n=" + std::to_string(n));
    }
}

L4JC_CHECK_CASE(attention_rejects_bad_arguments) {
    Dev<float> a(64), b(64), c(64), z(64);
    auto expect_arg = [](int st, const char *what) {
        if (st != L4J_ERR_ARG) fail(std::string(what) + ": status " + std::to_string(st) + ", want L4J_ERR_ARG");
    };
    expect_arg(l4jc_attention(1, 2, 3, 2, 4, a.p, b.p, c.p, 1.0f, 0, 0.0f, z.p, nullptr, nullptr, nullptr), "3 heads, 2 kv heads");
    expect_arg(l4jc_attention_masked(1, 3, 2, 1, 1, 4, a.p, b.p, c.p, 1.0f, 0, 0.0f, nullptr, z.p, nullptr, nullptr, nullptr), "k_len < q_len");
    expect_arg(l4jc_attention(1, 2, 1, 1, 4, a.p, b.p, c.p, 1.0f, -1, 0.0f, z.p, nullptr, nullptr, nullptr), "window -1");
    expect_arg(l4jc_attention(1, 2, 1, 1, 4, a.p, b.p, c.p, 1.0f, 0, -1.0f, z.p, nullptr, nullptr, nullptr), "softcap -1");
    expect_arg(l4jc_attention(1, 2, 1, 1, 4, a.p, b.p, c.p, 1.0f, 0, 0.0f, nullptr, nullptr, nullptr, nullptr), "z NULL");
    expect_arg(l4jc_attn_scores(1, 2, 1, 1, 0, a.p, b.p, 1.0f, 0, 0.0f, z.p, nullptr), "d_head 0");
    expect_arg(l4jc_attn_apply_backward(1, 2, 2, 1, 4, nullptr, b.p, c.p, z.p, nullptr, nullptr), "pattern NULL");
    expect_arg(l4jc_attn_scores_backward(1, 2, 1, 1, 4, a.p, b.p, c.p, 1.0f, -2, z.p, nullptr, nullptr), "window -2");
    expect_arg(l4jc_softcap(4, a.p, 0.0f, z.p, nullptr), "cap 0");
    ok(l4jc_attention(0, 5, 1, 1, 4, a.p, b.p, c.p, 1.0f, 0, 0.0f, z.p, nullptr, nullptr, nullptr), "batch 0");
}

// GPU only: GPT-2 small (batch 8 x 128, 12 heads, d_head 64) and one long sequence (2048), flash vs pattern path;
// FLOPs count the causal half (q k^T and p v: 4 d_head per visible pair)
L4JC_CHECK_CASE(attention_timing) {
    if (!timing()) return;
    for (int64_t seq : {128, 2048}) {
        const int64_t batch = seq == 128 ? 8 : 1, H = 12, D = 64;
        const int64_t n = batch * seq * H * D, sq = batch * H * seq * seq;
        const double flops = 4.0 * D * batch * H * (double)seq * (seq + 1) / 2;
        const std::string shape = std::to_string(batch) + "x" + std::to_string(seq) + " h12 d64";
        Dev<float> q(randn(n, 1)), k(randn(n, 2)), v(randn(n, 3)), z(n), pat(sq), dz(randn(n, 4)), g1(n), g2(n), gp(sq);
        const float scale = 0.125f;
        double ms = time_ms([&] {
            ok(l4jc_attention(batch, seq, H, H, D, q.p, k.p, v.p, scale, 0, 0.0f, z.p, nullptr, nullptr, nullptr), "flash");
        });
        report_time("attention (flash)", shape, ms, 16.0 * n, flops);
        ms = time_ms([&] {
            ok(l4jc_attention(batch, seq, H, H, D, q.p, k.p, v.p, scale, 0, 0.0f, z.p, nullptr, pat.p, nullptr), "pattern");
        });
        report_time("attention (writes pattern)", shape, ms, 16.0 * n + 16.0 * sq, flops);
        ms = time_ms([&] {
            ok(l4jc_attn_scores_backward(batch, seq, H, H, D, q.p, k.p, pat.p, scale, 0, g1.p, g2.p, nullptr), "dq dk");
        });
        report_time("attn_scores_backward", shape, ms, 16.0 * n + 8.0 * sq, flops);
        ms = time_ms([&] {
            ok(l4jc_attn_apply_backward(batch, seq, H, H, D, pat.p, v.p, dz.p, gp.p, g1.p, nullptr), "dpattern dv");
        });
        report_time("attn_apply_backward", shape, ms, 12.0 * n + 8.0 * sq, 4.0 * D * sq);
    }
}
