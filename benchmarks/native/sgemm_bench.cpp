// float32 GEMM microbench: lens4j's AVX-512F kernel (l4j_gemm_avx512) against OpenBLAS sgemm split over OpenMP
// (l4j_gemm_openblas) at the GEMM shapes of a GPT-2-small forward and backward at batch 8 x seq 128, interleaved rep
// by rep (best of --reps); each result's max error on 256 sampled elements relative to a double-precision product
// (scaled by sum |a*b|). Run it under each OPENBLAS_CORETYPE to compare with OpenBLAS's own kernels:
//
//   g++ -O2 -std=c++17 benchmarks/native/sgemm_bench.cpp -ldl -o /tmp/sgemm_bench
//   OPENBLAS_CORETYPE=Haswell LD_LIBRARY_PATH=java/target/openblas/org/bytedeco/openblas/linux-x86_64 \
//     /tmp/sgemm_bench [--reps N] [--threads N] [--small] [--no-unembed] java/target/native-build/liblens4j_cpu.so
#include <dlfcn.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

using Gemm = int (*)(int, int, int64_t, int64_t, int64_t, float, const float *, int64_t, const float *, int64_t, float,
                     float *, int64_t, const float *);

struct Shape { const char *what; int tA, tB; int64_t M, N, K; };

static double seconds(Gemm g, const Shape &s, const std::vector<float> &A, const std::vector<float> &B,
                      std::vector<float> &C) {
    const int64_t lda = s.tA ? s.M : s.K, ldb = s.tB ? s.K : s.N;
    const auto t0 = std::chrono::steady_clock::now();
    const int rc = g(s.tA, s.tB, s.M, s.N, s.K, 1.0f, A.data(), lda, B.data(), ldb, 0.0f, C.data(), s.N, nullptr);
    const auto t1 = std::chrono::steady_clock::now();
    if (rc != 0) { std::fprintf(stderr, "gemm failed: %d\n", rc); std::exit(1); }
    return std::chrono::duration<double>(t1 - t0).count();
}

static double max_error(const Shape &s, const std::vector<float> &A, const std::vector<float> &B,
                        const std::vector<float> &C) {
    std::mt19937_64 rng(7);
    double worst = 0;
    for (int t = 0; t < 256; t++) {
        const int64_t i = (int64_t)(rng() % (uint64_t)s.M), j = (int64_t)(rng() % (uint64_t)s.N);
        double sum = 0, mag = 0;
        for (int64_t k = 0; k < s.K; k++) {
            const double a = s.tA ? A[k * s.M + i] : A[i * s.K + k], b = s.tB ? B[j * s.K + k] : B[k * s.N + j];
            sum += a * b;
            mag += std::fabs(a * b);
        }
        worst = std::max(worst, std::fabs(C[i * s.N + j] - sum) / (mag > 0 ? mag : 1));
    }
    return worst;
}

int main(int argc, char **argv) {
    int reps = 5, threads = 0;
    bool small = false, unembed = true;
    const char *lib = "java/target/native-build/liblens4j_cpu.so";
    for (int i = 1; i < argc; i++) {
        const std::string a = argv[i];
        if (a == "--reps" && i + 1 < argc) reps = std::atoi(argv[++i]);
        else if (a == "--threads" && i + 1 < argc) threads = std::atoi(argv[++i]);
        else if (a == "--small") small = true;
        else if (a == "--no-unembed") unembed = false;  // the 1024 x 50257 x 768 product takes seconds per rep
        else lib = argv[i];
    }
    void *h = dlopen(lib, RTLD_NOW);
    if (!h) { std::fprintf(stderr, "%s\n", dlerror()); return 1; }
    auto avx = (Gemm)dlsym(h, "l4j_gemm_avx512"), blas = (Gemm)dlsym(h, "l4j_gemm_openblas");
    auto native = (int (*)())dlsym(h, "l4j_avx512f_native");
    auto set_threads = (int (*)(int))dlsym(h, "l4j_set_num_threads");
    auto corename = (const char *(*)())dlsym(h, "l4j_blas_corename");
    if (!avx || !blas || !native || !set_threads || !corename) { std::fprintf(stderr, "symbols missing\n"); return 1; }
    if (!native()) { std::fprintf(stderr, "this CPU has no AVX-512F\n"); return 1; }
    if (threads > 0) set_threads(threads);
    std::printf("OpenBLAS core: %s; OPENBLAS_CORETYPE=%s; best of %d\n", corename(),
                std::getenv("OPENBLAS_CORETYPE") ? std::getenv("OPENBLAS_CORETYPE") : "unset", reps);
    std::vector<Shape> shapes = {
        {"fused QKV", 0, 0, 1024, 2304, 768}, {"W_O", 0, 0, 1024, 768, 768}, {"W_in", 0, 0, 1024, 3072, 768},
        {"W_out", 0, 0, 1024, 768, 3072}, {"W_U", 0, 0, 1024, 50257, 768},
        {"dX of W_in (NT)", 0, 1, 1024, 768, 3072}, {"dW_in (TN)", 1, 0, 768, 3072, 1024},
        {"per-head Q (N 64)", 0, 0, 1024, 64, 768}, {"per-head dX (NT, K 64)", 0, 1, 1024, 768, 64}};
    if (!unembed) shapes.erase(shapes.begin() + 4);
    if (small)
        shapes = {{"24x32x16", 0, 0, 24, 32, 16}, {"48x64x64", 0, 0, 48, 64, 64}, {"128x64x64", 0, 0, 128, 64, 64},
                  {"12x768x768", 0, 0, 12, 768, 768}, {"24x768x768", 0, 0, 24, 768, 768},
                  {"64x768x768", 0, 0, 64, 768, 768}, {"1x768x768", 0, 0, 1, 768, 768},
                  {"1024x16x768", 0, 0, 1024, 16, 768}, {"1024x32x768", 0, 0, 1024, 32, 768},
                  {"1024x768x16", 0, 0, 1024, 768, 16}, {"1024x768x8", 0, 0, 1024, 768, 8},
                  {"128x128x128", 0, 0, 128, 128, 128}, {"14x50257x768", 0, 0, 14, 50257, 768}};
    std::printf("%-24s %20s %10s %10s %8s %10s %10s\n", "shape", "M x N x K", "avx512 ms", "blas ms", "ratio",
                "GF/s avx", "GF/s blas");
    std::mt19937 rng(1);
    std::normal_distribution<float> nd(0.0f, 1.0f);
    for (const Shape &s : shapes) {
        std::vector<float> A((size_t)(s.M * s.K)), B((size_t)(s.K * s.N)), C1((size_t)(s.M * s.N)), C2(C1.size());
        for (float &x : A) x = nd(rng);
        for (float &x : B) x = nd(rng);
        double ta = 1e30, tb = 1e30;
        for (int r = 0; r < reps; r++) {
            ta = std::min(ta, seconds(avx, s, A, B, C1));
            tb = std::min(tb, seconds(blas, s, A, B, C2));
        }
        const double gf = 2.0 * s.M * s.N * s.K * 1e-9;
        char dims[64];
        std::snprintf(dims, sizeof dims, "%ldx%ldx%ld%s", (long)s.M, (long)s.N, (long)s.K,
                      s.tA ? " TN" : s.tB ? " NT" : "");
        std::printf("%-24s %20s %10.3f %10.3f %7.2fx %10.1f %10.1f   err %.1e / %.1e\n", s.what, dims, ta * 1e3,
                    tb * 1e3, tb / ta, gf / ta, gf / tb, max_error(s, A, B, C1), max_error(s, A, B, C2));
    }
    return 0;
}
