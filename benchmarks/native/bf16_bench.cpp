// bf16-weight GEMM microbench: l4j_gemm_bf16 (AVX512-BF16 path and widening fallback) against l4j_gemm (OpenBLAS
// sgemm split over OpenMP) on GPT-2-small shapes at batch 8 x seq 128, interleaved rep by rep; each result's max
// error relative to a double-precision product of the same (bf16-rounded where the path rounds) inputs.
//
//   g++ -O2 -std=c++17 benchmarks/native/bf16_bench.cpp -ldl -o /tmp/bf16_bench
//   LD_LIBRARY_PATH=java/target/openblas/org/bytedeco/openblas/linux-x86_64 \
//     /tmp/bf16_bench [--reps N] [--threads N] java/target/native-build/liblens4j_cpu.so
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

using Gemm = int (*)(int, int, int64_t, int64_t, int64_t, float, const float *, int64_t, const float *, int64_t, float,
                     float *, int64_t, const float *);
using GemmBf16 = int (*)(int, int64_t, int64_t, int64_t, float, const float *, int64_t, const uint16_t *, int64_t,
                         float, float *, int64_t, const float *, int);

static uint16_t bf16(float f) {  // round to nearest even (inputs here are finite)
    uint32_t u;
    std::memcpy(&u, &f, 4);
    return (uint16_t)((u + 0x7FFFu + ((u >> 16) & 1u)) >> 16);
}
static float widen(uint16_t h) {
    uint32_t u = (uint32_t)h << 16;
    float f;
    std::memcpy(&f, &u, 4);
    return f;
}

static double seconds(const std::function<void()> &f) {
    auto t0 = std::chrono::steady_clock::now();
    f();
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// max |C - ref| / max |ref| over a sample of rows, ref in double from the given A and B (B bf16, [K, N] or [N, K])
static double rel_error(const std::vector<float> &C, const std::vector<float> &A, const std::vector<uint16_t> &B,
                        int transB, int64_t M, int64_t N, int64_t K) {
    double maxErr = 0, maxRef = 0;
    for (int64_t i = 0; i < M; i += std::max<int64_t>(1, M / 16))
        for (int64_t j = 0; j < N; j++) {
            double s = 0;
            for (int64_t k = 0; k < K; k++) s += (double)A[i * K + k] * widen(transB ? B[j * K + k] : B[k * N + j]);
            maxErr = std::max(maxErr, std::fabs(C[i * N + j] - s));
            maxRef = std::max(maxRef, std::fabs(s));
        }
    return maxErr / std::max(maxRef, 1e-30);
}

int main(int argc, char **argv) {
    int reps = 10, threads = 0;
    const char *lib = nullptr;
    for (int i = 1; i < argc; i++) {
        if (!std::strcmp(argv[i], "--reps") && i + 1 < argc) reps = std::atoi(argv[++i]);
        else if (!std::strcmp(argv[i], "--threads") && i + 1 < argc) threads = std::atoi(argv[++i]);
        else lib = argv[i];
    }
    if (!lib) { std::fprintf(stderr, "usage: bf16_bench [--reps N] [--threads N] liblens4j_cpu.so\n"); return 2; }
    void *h = dlopen(lib, RTLD_NOW);
    if (!h) { std::fprintf(stderr, "%s\n", dlerror()); return 2; }
    auto gemm = (Gemm)dlsym(h, "l4j_gemm");
    auto gemm16 = (GemmBf16)dlsym(h, "l4j_gemm_bf16");
    auto native = (int (*)())dlsym(h, "l4j_bf16_native");
    auto setThreads = (int (*)(int))dlsym(h, "l4j_set_num_threads");
    if (!gemm || !gemm16 || !native || !setThreads) { std::fprintf(stderr, "missing symbols in %s\n", lib); return 2; }
    if (threads > 0) setThreads(threads);
    std::printf("AVX512-BF16 path: %s; reps %d (median)\n", native() ? "yes" : "no (mode 0 = fallback)", reps);
    std::printf("%-28s %10s %10s %10s %8s %8s %10s %10s\n", "shape M x N x K (transB)", "sgemm ms", "bf16 ms", "widen ms",
                "bf16 x", "widen x", "err bf16", "err widen");
    struct Shape { const char *name; int64_t M, N, K; int transB; };
    const Shape shapes[] = {
        {"qkv head 1024x64x768", 1024, 64, 768, 0},  {"W_O 1024x768x768", 1024, 768, 768, 0},
        {"W_in 1024x3072x768", 1024, 3072, 768, 0},  {"W_out 1024x768x3072", 1024, 768, 3072, 0},
        {"W_U 1024x50257x768", 1024, 50257, 768, 0}, {"dx W_in^T 1024x768x3072", 1024, 768, 3072, 1},
        {"one row 1x3072x768", 1, 3072, 768, 0},
    };
    std::mt19937 rng(1);
    std::normal_distribution<float> nd(0.f, 1.f);
    for (const Shape &s : shapes) {
        std::vector<float> A(s.M * s.K), Bf(s.K * s.N), C0(s.M * s.N), C1(s.M * s.N), C2(s.M * s.N);
        std::vector<uint16_t> B(s.K * s.N);
        for (float &x : A) x = nd(rng);
        for (size_t i = 0; i < B.size(); i++) { B[i] = bf16(0.05f * nd(rng)); Bf[i] = widen(B[i]); }
        std::vector<double> t0, t1, t2;
        const int64_t ldb = s.transB ? s.K : s.N;
        for (int r = 0; r < reps; r++) {
            t0.push_back(seconds([&] { gemm(0, s.transB, s.M, s.N, s.K, 1.f, A.data(), s.K, Bf.data(), ldb, 0.f, C0.data(), s.N, nullptr); }));
            t1.push_back(seconds([&] { gemm16(s.transB, s.M, s.N, s.K, 1.f, A.data(), s.K, B.data(), ldb, 0.f, C1.data(), s.N, nullptr, 0); }));
            t2.push_back(seconds([&] { gemm16(s.transB, s.M, s.N, s.K, 1.f, A.data(), s.K, B.data(), ldb, 0.f, C2.data(), s.N, nullptr, 1); }));
        }
        for (auto *t : {&t0, &t1, &t2}) std::sort(t->begin(), t->end());
        std::vector<float> Ar(A);  // the dpbf16 path multiplies A rounded to bf16
        if (native()) for (float &x : Ar) x = widen(bf16(x));
        const double e1 = rel_error(C1, Ar, B, s.transB, s.M, s.N, s.K), e2 = rel_error(C2, A, B, s.transB, s.M, s.N, s.K);
        const double m0 = 1e3 * t0[reps / 2], m1 = 1e3 * t1[reps / 2], m2 = 1e3 * t2[reps / 2];
        std::printf("%-28s %10.3f %10.3f %10.3f %7.2fx %7.2fx %10.2e %10.2e\n", s.name, m0, m1, m2, m0 / m1, m0 / m2, e1, e2);
    }
    return 0;
}
