// Checks of scan.cu against cpu/scan.cpp: the GPU state, fed the rows in batches of any size, equals the CPU's state
// fed them at once (top-k lists exactly, same order; moments within 1e-12 relative), and merges agree too.
#include "check.h"
#include <cstring>
#include <limits>
using namespace l4jcheck;

namespace {
struct State {
    int64_t n, k;
    std::vector<double> count, mean, m2, npos;
    std::vector<float> maxv, top_val;
    std::vector<int64_t> top_doc;
    std::vector<int32_t> top_pos, filled;
    State(int64_t n_, int64_t k_)
        : n(n_), k(k_), count(n), mean(n), m2(n), npos(n), maxv(n, -1.0f), top_val(std::max<int64_t>(n * k, 1), -7.0f),
          top_doc(top_val.size(), -7), top_pos(top_val.size(), -7), filled(n) {}
};

// the same state on the device
struct DevState {
    Dev<double> count, mean, m2, npos;
    Dev<float> maxv, top_val;
    Dev<int64_t> top_doc;
    Dev<int32_t> top_pos, filled;
    explicit DevState(const State &s)
        : count(s.count), mean(s.mean), m2(s.m2), npos(s.npos), maxv(s.maxv), top_val(s.top_val), top_doc(s.top_doc),
          top_pos(s.top_pos), filled(s.filled) {}
    State get(int64_t n, int64_t k) const {
        State s(n, k);
        s.count = count.get(); s.mean = mean.get(); s.m2 = m2.get(); s.npos = npos.get(); s.maxv = maxv.get();
        s.top_val = top_val.get(); s.top_doc = top_doc.get(); s.top_pos = top_pos.get(); s.filled = filled.get();
        return s;
    }
};

std::vector<uint32_t> bits(const std::vector<float> &v) {
    std::vector<uint32_t> u(v.size());
    std::memcpy(u.data(), v.data(), v.size() * 4);
    return u;
}
void expect_near(const std::vector<double> &got, const std::vector<double> &want, const std::string &what) {
    for (size_t i = 0; i < want.size(); i++) {
        const double g = got[i], w = want[i];
        if (w != w ? g == g : !(std::fabs(g - w) <= 1e-12 * std::max(1.0, std::fabs(w))))
            fail(what + ": at " + std::to_string(i) + " got " + std::to_string(g) + ", want " + std::to_string(w));
    }
}
void expect_same(const State &got, const State &want, const std::string &what) {
    expect_near(got.count, want.count, what + " count");
    expect_near(got.mean, want.mean, what + " mean");
    expect_near(got.m2, want.m2, what + " m2");
    expect_near(got.npos, want.npos, what + " npos");
    expect_equal(bits(got.maxv), bits(want.maxv), what + " max");
    expect_equal(got.filled, want.filled, what + " filled");
    expect_equal(bits(got.top_val), bits(want.top_val), what + " top values");
    expect_equal(got.top_doc, want.top_doc, what + " top docs");
    expect_equal(got.top_pos, want.top_pos, what + " top positions");
}

// rows of `n` activations (ties: values in quarter steps; a NaN in neuron 1), documents of 9 rows with position -1
// (BOS) at each document's start
struct Rows {
    int64_t rows, n, ldx;
    std::vector<float> x;
    std::vector<int64_t> doc;
    std::vector<int32_t> pos;
    Rows(int64_t rows_, int64_t n_, uint64_t seed) : rows(rows_), n(n_), ldx(n_ + 3), x(randn(rows_ * (n_ + 3), seed)), doc(rows_), pos(rows_) {
        for (auto &v : x) v = std::round(v * 4.0f) / 4.0f;
        if (n > 1 && rows > 5) x[5 * ldx + 1] = std::numeric_limits<float>::quiet_NaN();
        for (int64_t r = 0; r < rows; r++) {
            doc[r] = 100 + r / 9;
            pos[r] = r % 9 == 0 ? -1 : (int32_t)(r % 9);
        }
    }
};

void cpu_update(const Rows &d, int64_t r0, int64_t r1, State &s) {
    ok(l4j_scan_update(r1 - r0, s.n, d.x.data() + r0 * d.ldx, d.ldx, d.doc.data() + r0, d.pos.data() + r0, s.k,
                       s.count.data(), s.mean.data(), s.m2.data(), s.maxv.data(), s.npos.data(), s.top_val.data(),
                       s.top_doc.data(), s.top_pos.data(), s.filled.data()), "l4j_scan_update");
}

// the GPU state fed rows [r0, r1) in batches of `batch`
void gpu_update(const Rows &d, int64_t r0, int64_t r1, int64_t batch, DevState &s, int64_t k, const Dev<float> &x,
                const Dev<int64_t> &doc, const Dev<int32_t> &pos) {
    for (int64_t r = r0; r < r1; r += batch) {
        const int64_t m = std::min(batch, r1 - r);
        ok(l4jc_scan_update(m, d.n, x.p + r * d.ldx, d.ldx, doc.p + r, pos.p + r, k, s.count.p, s.mean.p, s.m2.p, s.maxv.p,
                            s.npos.p, s.top_val.p, s.top_doc.p, s.top_pos.p, s.filled.p, nullptr), "l4jc_scan_update");
    }
}
}  // namespace

L4JC_CHECK_CASE(scan_update_matches_cpu) {
    for (int64_t n : {1, 37, 300})
        for (int64_t k : {0, 1, 5, 20}) {
            const Rows d(75, n, 10 + n + k);
            State want(n, k);
            cpu_update(d, 0, d.rows, want);
            Dev<float> x(d.x);
            Dev<int64_t> doc(d.doc);
            Dev<int32_t> pos(d.pos);
            for (int64_t batch : {int64_t(1), int64_t(7), d.rows}) {
                DevState s(State(n, k));
                gpu_update(d, 0, d.rows, batch, s, k, x, doc, pos);
                expect_same(s.get(n, k), want, "scan_update n=" + std::to_string(n) + " k=" + std::to_string(k) +
                            " batch=" + std::to_string(batch));
            }
        }
    State s(4, 2);
    DevState ds(s);
    Dev<float> x(16);
    Dev<int64_t> doc(4);
    Dev<int32_t> pos(4);
    if (l4jc_scan_update(4, 4, x.p, 3, doc.p, pos.p, 2, ds.count.p, ds.mean.p, ds.m2.p, ds.maxv.p, ds.npos.p, ds.top_val.p,
                         ds.top_doc.p, ds.top_pos.p, ds.filled.p, nullptr) != L4J_ERR_ARG) fail("ldx < n accepted");
    if (l4jc_scan_update(4, 4, x.p, 4, doc.p, pos.p, 2, ds.count.p, ds.mean.p, ds.m2.p, ds.maxv.p, ds.npos.p, nullptr,
                         ds.top_doc.p, ds.top_pos.p, ds.filled.p, nullptr) != L4J_ERR_ARG) fail("k > 0 without top lists accepted");
    if (timing()) {  // a GPT-2-small MLP layer's neurons over a batch of 8 x 128
        const int64_t rows = 1024, n = 3072, k = 20;
        Rows big(rows, n, 3);
        Dev<float> bx(big.x);
        Dev<int64_t> bdoc(big.doc);
        Dev<int32_t> bpos(big.pos);
        DevState bs(State(n, k));
        const double ms = time_ms([&] {
            ok(l4jc_scan_update(rows, n, bx.p, big.ldx, bdoc.p, bpos.p, k, bs.count.p, bs.mean.p, bs.m2.p, bs.maxv.p, bs.npos.p,
                                bs.top_val.p, bs.top_doc.p, bs.top_pos.p, bs.filled.p, nullptr), "scan_update");
        }, 5);
        report_time("scan_update k=20", "1024 rows x 3072 neurons", ms, 4.0 * rows * n, 10.0 * rows * n);
    }
}

L4JC_CHECK_CASE(scan_merge_matches_cpu) {
    for (int64_t n : {1, 37, 300})
        for (int64_t k : {0, 3, 20}) {
            const Rows d(80, n, 50 + n + k);
            // two partial states over rows [0, 30) and [30, 80)
            State a(n, k), b(n, k), whole(n, k);
            cpu_update(d, 0, 30, a);
            cpu_update(d, 30, d.rows, b);
            cpu_update(d, 0, d.rows, whole);
            DevState da(a), db(b);
            State want = a;
            ok(l4j_scan_merge(n, k, want.count.data(), want.mean.data(), want.m2.data(), want.maxv.data(), want.npos.data(),
                              want.top_val.data(), want.top_doc.data(), want.top_pos.data(), want.filled.data(),
                              b.count.data(), b.mean.data(), b.m2.data(), b.maxv.data(), b.npos.data(), b.top_val.data(),
                              b.top_doc.data(), b.top_pos.data(), b.filled.data()), "l4j_scan_merge");
            ok(l4jc_scan_merge(n, k, da.count.p, da.mean.p, da.m2.p, da.maxv.p, da.npos.p, da.top_val.p, da.top_doc.p,
                               da.top_pos.p, da.filled.p, db.count.p, db.mean.p, db.m2.p, db.maxv.p, db.npos.p, db.top_val.p,
                               db.top_doc.p, db.top_pos.p, db.filled.p, nullptr), "l4jc_scan_merge");
            const std::string what = "scan_merge n=" + std::to_string(n) + " k=" + std::to_string(k);
            const State got = da.get(n, k);
            expect_same(got, want, what);
            // and the merged top-k is the one-pass top-k (batching does not matter; neuron 1 holds a NaN, which
            // ranks neither before nor after anything, so its list may depend on the order rows arrive)
            expect_equal(got.filled, whole.filled, what + " filled vs one pass");
            for (int64_t j = 0; j < n; j++) {
                if (j == 1) continue;
                for (int64_t i = 0; i < whole.filled[j]; i++)
                    if (got.top_doc[j * k + i] != whole.top_doc[j * k + i] || got.top_pos[j * k + i] != whole.top_pos[j * k + i])
                        fail(what + ": merged top-k differs from one pass at neuron " + std::to_string(j));
            }
            // merging into an empty state copies b
            DevState de(State(n, k)), db2(b);
            ok(l4jc_scan_merge(n, k, de.count.p, de.mean.p, de.m2.p, de.maxv.p, de.npos.p, de.top_val.p, de.top_doc.p,
                               de.top_pos.p, de.filled.p, db2.count.p, db2.mean.p, db2.m2.p, db2.maxv.p, db2.npos.p,
                               db2.top_val.p, db2.top_doc.p, db2.top_pos.p, db2.filled.p, nullptr), "l4jc_scan_merge into empty");
            State e(n, k);
            ok(l4j_scan_merge(n, k, e.count.data(), e.mean.data(), e.m2.data(), e.maxv.data(), e.npos.data(), e.top_val.data(),
                              e.top_doc.data(), e.top_pos.data(), e.filled.data(), b.count.data(), b.mean.data(), b.m2.data(),
                              b.maxv.data(), b.npos.data(), b.top_val.data(), b.top_doc.data(), b.top_pos.data(),
                              b.filled.data()), "l4j_scan_merge into empty");
            expect_same(de.get(n, k), e, what + " into empty");
        }
}
