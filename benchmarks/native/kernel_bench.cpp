// Native kernel microbench: times the CPU kernels of one or more builds of liblens4j_cpu.so on GPT-2-small
// shapes (batch 8 x seq 128, d_model 768, 12 heads of 64, d_mlp 3072, vocab 50257), interleaving the libraries
// rep by rep so that a noisy machine affects them alike, and reports each library's outputs' max relative
// difference from the first library's. See benchmarks/README.md.
//
//   g++ -O2 -std=c++17 benchmarks/native/kernel_bench.cpp -ldl -o /tmp/kernel_bench
//   LD_LIBRARY_PATH=java/target/openblas/org/bytedeco/openblas/linux-x86_64 \
//     /tmp/kernel_bench [--reps N] [--threads N] [--only NAME] base.so [new.so ...]
#include <dlfcn.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

struct Lib {
    std::string path;
    void *h = nullptr;
    int (*set_threads)(int);
    int (*get_threads)();
    int (*gemm)(int, int, int64_t, int64_t, int64_t, float, const float *, int64_t, const float *, int64_t, float,
                float *, int64_t, const float *);
    int (*attn_scores)(int64_t, int64_t, int64_t, int64_t, int64_t, const float *, const float *, float, float *);
    int (*attn_apply)(int64_t, int64_t, int64_t, int64_t, int64_t, const float *, const float *, float *);
    int (*attention)(int64_t, int64_t, int64_t, int64_t, int64_t, const float *, const float *, const float *, float,
                     float *, float *, float *);
    int (*layernorm)(int64_t, int64_t, const float *, const float *, const float *, float, float *, float *);
    int (*rmsnorm)(int64_t, int64_t, const float *, const float *, float, float *, float *, float *);
    int (*activation)(int, int64_t, const float *, float *);
    int (*add)(int64_t, const float *, const float *, float *);
    int (*scale_cols)(int64_t, int64_t, const float *, const float *, float *);
    int (*add_bias)(int64_t, int64_t, const float *, const float *, float *);
    int (*softmax)(int64_t, int64_t, const float *, float *);
    int (*log_softmax)(int64_t, int64_t, const float *, float *);
    int (*cross_entropy)(int64_t, int64_t, const float *, const int32_t *, float *);
};

template <class F>
static void sym(Lib &l, F &f, const char *name) {
    f = reinterpret_cast<F>(dlsym(l.h, name));
    if (!f) { std::fprintf(stderr, "%s: no %s\n", l.path.c_str(), name); std::exit(1); }
}

static Lib load(const std::string &path) {
    Lib l;
    l.path = path;
    l.h = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!l.h) { std::fprintf(stderr, "%s\n", dlerror()); std::exit(1); }
    sym(l, l.set_threads, "l4j_set_num_threads");
    sym(l, l.get_threads, "l4j_get_num_threads");
    sym(l, l.gemm, "l4j_gemm");
    sym(l, l.attn_scores, "l4j_attn_scores");
    sym(l, l.attn_apply, "l4j_attn_apply");
    sym(l, l.attention, "l4j_attention");
    sym(l, l.layernorm, "l4j_layernorm");
    sym(l, l.rmsnorm, "l4j_rmsnorm");
    sym(l, l.activation, "l4j_activation");
    sym(l, l.add, "l4j_add");
    sym(l, l.scale_cols, "l4j_scale_cols");
    sym(l, l.add_bias, "l4j_add_bias");
    sym(l, l.softmax, "l4j_softmax");
    sym(l, l.log_softmax, "l4j_log_softmax");
    sym(l, l.cross_entropy, "l4j_cross_entropy");
    return l;
}

static std::vector<float> randn(size_t n, float sd, uint32_t seed) {
    std::mt19937 g(seed);
    std::normal_distribution<float> d(0.0f, sd);
    std::vector<float> v(n);
    for (auto &x : v) x = d(g);
    return v;
}

static double now_ms() {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// max |a - b| / max(1, max |a|) over finite entries; infinities must match exactly
static double rel_diff(const std::vector<float> &a, const std::vector<float> &b) {
    double mx = 1, worst = 0;
    for (float x : a) if (std::isfinite(x)) mx = std::max(mx, (double)std::fabs(x));
    for (size_t i = 0; i < a.size(); i++) {
        if (std::isinf(a[i]) || std::isinf(b[i])) { if (a[i] != b[i]) return INFINITY; continue; }
        if (std::isnan(a[i]) != std::isnan(b[i])) return INFINITY;
        if (std::isnan(a[i])) continue;
        worst = std::max(worst, (double)std::fabs(a[i] - b[i]));
    }
    return worst / mx;
}

struct Op {
    std::string name;
    std::function<void(Lib &)> run;
    std::vector<float> *out;  // compared across libraries after the runs
};

int main(int argc, char **argv) {
    int reps = 20, threads = 0;
    std::string only;
    std::vector<Lib> libs;
    for (int i = 1; i < argc; i++) {
        if (!std::strcmp(argv[i], "--reps") && i + 1 < argc) reps = std::atoi(argv[++i]);
        else if (!std::strcmp(argv[i], "--only") && i + 1 < argc) only = argv[++i];
        else if (!std::strcmp(argv[i], "--threads") && i + 1 < argc) threads = std::atoi(argv[++i]);
        else libs.push_back(load(argv[i]));
    }
    if (libs.empty()) { std::fprintf(stderr, "usage: kernel_bench [--reps N] [--threads N] [--only NAME] lib.so...\n"); return 2; }
    if (threads > 0)
        for (auto &l : libs) l.set_threads(threads);

    const int64_t B = 8, S = 128, H = 12, DH = 64, D = H * DH, DM = 4 * D, V = 50257, R = B * S;
    const float scale = 1.0f / std::sqrt((float)DH);
    auto q = randn(R * D, 1.5f, 1), k = randn(R * D, 1.5f, 2), v = randn(R * D, 1.0f, 3);
    auto x = randn(R * D, 2.0f, 4), y = randn(R * D, 1.0f, 5), w = randn(D, 0.3f, 6), bias = randn(D, 1.0f, 7);
    for (auto &t : x) t += 0.5f;
    for (auto &t : w) t += 1.0f;
    auto hid = randn(R * DM, 1.5f, 8);
    auto wfc = randn(D * DM, 0.02f, 9);
    // softmax inputs: attention-like rows (scores) and unembedding logits
    auto logits = randn(R * V, 3.0f, 10);
    std::vector<int32_t> targets(R);
    for (int64_t r = 0; r < R; r++) targets[r] = (int32_t)((r * 7919) % V);
    std::vector<float> patt_in(B * H * S * S);
    {
        std::mt19937 g(11);
        std::uniform_real_distribution<float> u(0, 1);
        for (auto &t : patt_in) t = u(g);
    }
    std::vector<float> causal_scores(B * H * S * S);  // softmax input shaped like attention scores
    for (int64_t r = 0; r < B * H * S; r++)
        for (int64_t j = 0; j < S; j++)
            causal_scores[r * S + j] = j <= r % S ? 8.0f * patt_in[r * S + j] : -INFINITY;

    std::vector<float> z_f, z_fsp, sc_fsp, pa_fsp, sc, z_ap, ln, rms, rms_n, act, add, scl, bia, sm, lsm, ce, gm;
    std::vector<Op> ops = {
        {"gemm 1024x768x3072", [&](Lib &l) { gm.resize(R * DM); l.gemm(0, 0, R, DM, D, 1.0f, x.data(), D, wfc.data(), DM, 0.0f, gm.data(), DM, bias.data()); }, &gm},
        {"attention z", [&](Lib &l) { z_f.resize(R * D); l.attention(B, S, H, H, DH, q.data(), k.data(), v.data(), scale, z_f.data(), nullptr, nullptr); }, &z_f},
        {"attention z+scores+pattern", [&](Lib &l) {
             z_fsp.resize(R * D); sc_fsp.resize(B * H * S * S); pa_fsp.resize(B * H * S * S);
             l.attention(B, S, H, H, DH, q.data(), k.data(), v.data(), scale, z_fsp.data(), sc_fsp.data(), pa_fsp.data()); }, &pa_fsp},
        {"attention GQA 12/4 z", [&](Lib &l) { z_f.resize(R * D); l.attention(B, S, H, 4, DH, q.data(), k.data(), v.data(), scale, z_f.data(), nullptr, nullptr); }, &z_f},
        {"attn_scores", [&](Lib &l) { sc.resize(B * H * S * S); l.attn_scores(B, S, H, H, DH, q.data(), k.data(), scale, sc.data()); }, &sc},
        {"attn_apply", [&](Lib &l) { z_ap.resize(R * D); l.attn_apply(B, S, H, H, DH, patt_in.data(), v.data(), z_ap.data()); }, &z_ap},
        {"layernorm 1024x768 w,b,scale", [&](Lib &l) { ln.resize(R * D + R); l.layernorm(R, D, x.data(), w.data(), bias.data(), 1e-5f, ln.data(), ln.data() + R * D); }, &ln},
        {"rmsnorm 1024x768 w,scale,normalized", [&](Lib &l) { rms.resize(R * D + R); rms_n.resize(R * D); l.rmsnorm(R, D, x.data(), w.data(), 1e-6f, rms.data(), rms.data() + R * D, rms_n.data()); }, &rms},
        {"gelu_new 3.1M", [&](Lib &l) { act.resize(R * DM); l.activation(2, R * DM, hid.data(), act.data()); }, &act},
        {"gelu(erf) 3.1M", [&](Lib &l) { act.resize(R * DM); l.activation(1, R * DM, hid.data(), act.data()); }, &act},
        {"add 786K", [&](Lib &l) { add.resize(R * D); l.add(R * D, x.data(), y.data(), add.data()); }, &add},
        {"scale_cols 1024x768", [&](Lib &l) { scl.resize(R * D); l.scale_cols(R, D, x.data(), w.data(), scl.data()); }, &scl},
        {"add_bias 1024x768", [&](Lib &l) { bia.resize(R * D); l.add_bias(R, D, x.data(), bias.data(), bia.data()); }, &bia},
        {"softmax 98304x128", [&](Lib &l) { sm.resize(B * H * S * S); l.softmax(B * H * S, S, causal_scores.data(), sm.data()); }, &sm},
        {"log_softmax 1024x50257", [&](Lib &l) { lsm.resize(R * V); l.log_softmax(R, V, logits.data(), lsm.data()); }, &lsm},
        {"cross_entropy 1024x50257", [&](Lib &l) { ce.resize(R); l.cross_entropy(R, V, logits.data(), targets.data(), ce.data()); }, &ce},
    };

    std::printf("threads: %d, reps: %d (median ms; min ms)\n", libs[0].get_threads(), reps);
    std::printf("%-38s", "op");
    for (size_t i = 0; i < libs.size(); i++) std::printf(" | lib%zu median   min", i);
    std::printf(" | max rel diff vs lib0\n");
    for (auto &op : ops) {
        if (!only.empty() && op.name.find(only) == std::string::npos) continue;
        std::vector<std::vector<double>> t(libs.size());
        std::vector<std::vector<float>> outs(libs.size());
        for (size_t i = 0; i < libs.size(); i++) {  // warm-up, and keep each library's output
            op.run(libs[i]);
            op.run(libs[i]);
            outs[i] = *op.out;
        }
        for (int r = 0; r < reps; r++)
            for (size_t i = 0; i < libs.size(); i++) {
                double t0 = now_ms();
                op.run(libs[i]);
                t[i].push_back(now_ms() - t0);
            }
        std::printf("%-38s", op.name.c_str());
        for (auto &ti : t) {
            std::sort(ti.begin(), ti.end());
            std::printf(" | %9.3f %7.3f", ti[ti.size() / 2], ti[0]);
        }
        std::printf(" |");
        for (size_t i = 1; i < libs.size(); i++) std::printf(" %.2e", rel_diff(outs[0], outs[i]));
        std::printf("\n");
        std::fflush(stdout);
    }
    return 0;
}
