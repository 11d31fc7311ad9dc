// Checks of embed.cu and backward_embed.cu against the CPU kernels: lookups (f32, bf16, positions), their
// accumulating backwards (deterministic: same bits as the CPU), and bad token ids (never read out of bounds).
#include "check.h"
using namespace l4jcheck;

namespace {
std::vector<uint16_t> bf16_bits(size_t n, uint64_t seed) {
    std::vector<float> f = randn(n, seed);
    std::vector<uint16_t> b(n);
    l4j_f32_to_bf16((int64_t)n, f.data(), b.data());
    return b;
}
std::string shape(int64_t a, int64_t b) { return std::to_string(a) + "x" + std::to_string(b); }
}  // namespace

L4JC_CHECK_CASE(embed_matches_cpu) {
    for (auto [n_tokens, d_vocab, d_model] : {std::tuple<int64_t, int64_t, int64_t>{1, 1, 1}, {7, 5, 33}, {300, 41, 257}}) {
        std::vector<float> W = randn(d_vocab * d_model, 1 + n_tokens), want(n_tokens * d_model);
        std::vector<int32_t> tok = randint(n_tokens, (int32_t)d_vocab, 2 + n_tokens);
        ok(l4j_embed(n_tokens, tok.data(), W.data(), d_vocab, d_model, want.data()), "l4j_embed");
        Dev<float> dW(W), out(n_tokens * d_model);
        Dev<int32_t> dt(tok);
        ok(l4jc_embed(n_tokens, dt.p, dW.p, d_vocab, d_model, out.p, nullptr), "l4jc_embed");
        expect_equal(out.get(), want, "embed " + shape(n_tokens, d_model));

        std::vector<uint16_t> Wb = bf16_bits(d_vocab * d_model, 3 + n_tokens);
        ok(l4j_embed_bf16(n_tokens, tok.data(), Wb.data(), d_vocab, d_model, want.data()), "l4j_embed_bf16");
        Dev<uint16_t> dWb(Wb);
        ok(l4jc_embed_bf16(n_tokens, dt.p, dWb.p, d_vocab, d_model, out.p, nullptr), "l4jc_embed_bf16");
        expect_equal(out.get(), want, "embed_bf16 " + shape(n_tokens, d_model));
    }
    Dev<float> W(4), out(4);
    Dev<int32_t> t(std::vector<int32_t>{0});
    if (l4jc_embed(1, t.p, W.p, 0, 4, out.p, nullptr) != L4J_ERR_ARG) fail("embed: d_vocab 0 accepted");
    if (l4jc_embed(1, nullptr, W.p, 1, 4, out.p, nullptr) != L4J_ERR_ARG) fail("embed: NULL tokens accepted");
    ok(l4jc_embed(0, t.p, W.p, 1, 4, out.p, nullptr), "embed of no tokens");
    if (timing()) {
        const int64_t n = 8 * 128, V = 50257, d = 768;
        Dev<float> WE(V * d), o(n * d);
        Dev<int32_t> tk(randint(n, (int32_t)V, 9));
        double ms = time_ms([&] { ok(l4jc_embed(n, tk.p, WE.p, V, d, o.p, nullptr), "embed"); });
        report_time("embed", "1024 tokens x 768", ms, 8.0 * n * d, 0);
    }
}

// Java validates token ids; a bad one reaching the device must not read outside W_E: its row comes out NaN.
L4JC_CHECK_CASE(embed_bad_token_reads_nothing_outside) {
    const int64_t V = 6, d = 37;
    std::vector<float> W = randn(V * d, 5), o;
    std::vector<int32_t> tok = {2, -1, 5, 6, 1 << 30};
    Dev<float> dW(W), out(tok.size() * d);
    Dev<int32_t> dt(tok);
    ok(l4jc_embed((int64_t)tok.size(), dt.p, dW.p, V, d, out.p, nullptr), "l4jc_embed");
    o = out.get();
    for (size_t i = 0; i < tok.size(); i++)
        for (int64_t c = 0; c < d; c++) {
            const float g = o[i * d + c];
            const bool valid = tok[i] >= 0 && tok[i] < V;
            if (valid ? g != W[tok[i] * d + c] : !std::isnan(g)) fail("embed row " + std::to_string(i) + " col " + std::to_string(c));
        }
}

L4JC_CHECK_CASE(pos_embed_matches_cpu) {
    for (auto [batch, seq, offset, d] : {std::tuple<int64_t, int64_t, int64_t, int64_t>{1, 1, 0, 1}, {3, 5, 2, 33}, {2, 70, 9, 130}}) {
        const int64_t n_ctx = seq + offset + 1;
        std::vector<float> W = randn(n_ctx * d, 7 + seq), want(batch * seq * d);
        ok(l4j_pos_embed(batch, seq, offset, W.data(), n_ctx, d, want.data()), "l4j_pos_embed");
        Dev<float> dW(W), out(batch * seq * d);
        ok(l4jc_pos_embed(batch, seq, offset, dW.p, n_ctx, d, out.p, nullptr), "l4jc_pos_embed");
        expect_equal(out.get(), want, "pos_embed " + shape(batch * seq, d));
        if (l4jc_pos_embed(batch, seq, offset + 2, dW.p, n_ctx, d, out.p, nullptr) != L4J_ERR_RANGE)
            fail("pos_embed past n_ctx accepted");
    }
}

// Repeated tokens sum in token order into rows that already hold a gradient (+=): the CPU's exact bits.
L4JC_CHECK_CASE(embed_backward_matches_cpu_bitwise) {
    for (auto [n_tokens, d_vocab, d_model] : {std::tuple<int64_t, int64_t, int64_t>{1, 1, 1}, {9, 3, 5}, {600, 7, 257}, {70, 1000, 33}}) {
        std::vector<int32_t> tok = randint(n_tokens, (int32_t)d_vocab, 11 + n_tokens);
        std::vector<float> dout = randn(n_tokens * d_model, 12 + n_tokens), want = randn(d_vocab * d_model, 13);
        Dev<float> dd(dout), dW(want);
        Dev<int32_t> dt(tok);
        ok(l4j_embed_backward(n_tokens, tok.data(), dout.data(), d_vocab, d_model, want.data()), "l4j_embed_backward");
        ok(l4jc_embed_backward(n_tokens, dt.p, dd.p, d_vocab, d_model, dW.p, nullptr), "l4jc_embed_backward");
        expect_equal(dW.get(), want, "embed_backward " + shape(n_tokens, d_model));
    }
    // bad ids are skipped: the same as the CPU over the good tokens only
    const int64_t V = 4, d = 35;
    std::vector<int32_t> tok = {1, -3, 1, 4, 0, 1}, good = {1, 1, 0, 1};
    std::vector<float> dout = randn(tok.size() * d, 14), good_dout, want(V * d, 0.5f);
    for (size_t i = 0; i < tok.size(); i++)
        if (tok[i] >= 0 && tok[i] < V) good_dout.insert(good_dout.end(), dout.begin() + i * d, dout.begin() + (i + 1) * d);
    ok(l4j_embed_backward((int64_t)good.size(), good.data(), good_dout.data(), V, d, want.data()), "l4j_embed_backward");
    Dev<float> dd(dout), dW(std::vector<float>(V * d, 0.5f));
    Dev<int32_t> dt(tok);
    ok(l4jc_embed_backward((int64_t)tok.size(), dt.p, dd.p, V, d, dW.p, nullptr), "l4jc_embed_backward");
    expect_equal(dW.get(), want, "embed_backward with bad ids");
    if (timing()) {
        const int64_t n = 8 * 128, Vt = 50257, dm = 768;
        Dev<float> g(n * dm), W(Vt * dm);
        Dev<int32_t> tk(randint(n, 2000, 15));
        double ms = time_ms([&] { ok(l4jc_embed_backward(n, tk.p, g.p, Vt, dm, W.p, nullptr), "embed_backward"); });
        report_time("embed_backward", "1024 tokens x 768", ms, 12.0 * n * dm, (double)n * dm);
    }
}

L4JC_CHECK_CASE(pos_embed_backward_matches_cpu_bitwise) {
    for (auto [batch, seq, offset, d] : {std::tuple<int64_t, int64_t, int64_t, int64_t>{1, 1, 0, 1}, {3, 5, 2, 33}, {5, 70, 9, 130}}) {
        const int64_t n_ctx = seq + offset + 3;
        std::vector<float> dout = randn(batch * seq * d, 16 + seq), want = randn(n_ctx * d, 17);
        Dev<float> dd(dout), dW(want);
        ok(l4j_pos_embed_backward(batch, seq, offset, dout.data(), n_ctx, d, want.data()), "l4j_pos_embed_backward");
        ok(l4jc_pos_embed_backward(batch, seq, offset, dd.p, n_ctx, d, dW.p, nullptr), "l4jc_pos_embed_backward");
        expect_equal(dW.get(), want, "pos_embed_backward " + shape(batch * seq, d));
        if (l4jc_pos_embed_backward(batch, seq, n_ctx, dd.p, n_ctx, d, dW.p, nullptr) != L4J_ERR_RANGE)
            fail("pos_embed_backward past n_ctx accepted");
    }
    if (timing()) {
        const int64_t b = 8, s = 128, d = 768;
        Dev<float> g(b * s * d), W(1024 * d);
        double ms = time_ms([&] { ok(l4jc_pos_embed_backward(b, s, 0, g.p, 1024, d, W.p, nullptr), "pos_embed_backward"); });
        report_time("pos_embed_backward", "8x128 x 768", ms, 4.0 * (b * s * d + 2 * s * d), (double)b * s * d);
    }
}
