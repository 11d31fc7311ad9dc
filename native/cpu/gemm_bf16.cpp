// GEMM with bf16 weights: C[M,N] = alpha * A[M,K] (f32) @ op(B) (bf16) + beta * C + bias, float32 accumulation.
//
// Two paths (l4j_gemm_bf16's `mode`):
// - AVX512-BF16 (vdpbf16ps), where the CPU has it: A is rounded to bf16 (round-to-nearest-even) once per call and
//   packed in pairs along K; B is packed per task into 32-column panels of K-pairs; a register-blocked 8 x 32 kernel
//   accumulates in float32 over the whole K. Every C element is one accumulator lane summed over k-pairs in order,
//   whatever the task split, so results are the same for any thread count.
// - Widening fallback: 256-column panels of B are widened to f32 and multiplied by l4j_gemm (A stays f32). Memory
//   still halves; speed is that of sgemm plus the widening.
// bytedeco's OpenBLAS 0.3.31 exports no cblas_sbgemm, hence a kernel of our own. No AMX path (untested here).
#include "common.h"
#include "gemm_tile.h"
#include "scratch.h"
#include <immintrin.h>
#include <cstdlib>
#include <vector>

namespace {
constexpr int kMR = 8;                      // rows per micro-tile (16 zmm accumulators)
constexpr int kNR = 32;                     // columns per micro-tile (two zmm of 16 floats)
constexpr int64_t kWiden = 256; // columns widened at a time by the fallback
constexpr int64_t kPrefetchRows = 16; // rows of B ahead that pack_b_rows asks the cache for

using l4j::Scratch;
thread_local Scratch tl_a, tl_b;

// float -> bf16, round to nearest even; NaN stays a (quiet) NaN instead of rounding into Inf.
inline uint16_t to_bf16(float f) {
    uint32_t u;
    std::memcpy(&u, &f, 4);
    const uint32_t rounded = (u + 0x7FFFu + ((u >> 16) & 1u)) >> 16;
    const uint32_t nan = (u >> 16) | 0x40u;
    return (uint16_t)((u & 0x7FFFFFFFu) > 0x7F800000u ? nan : rounded);
}

inline float from_bf16(uint16_t h) {
    const uint32_t u = (uint32_t)h << 16;
    float f;
    std::memcpy(&f, &u, 4);
    return f;
}

bool cpu_has_avx512bf16() {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512bf16") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl");
}
const bool kHasBf16 = cpu_has_avx512bf16();

// op(B): B [K, N] or, transposed, [N, K]; untransposed columns may come in groups (heads), column n at
// B + (n / group) * groupStride + n % group (see l4j_gemm_grouped in lens4j.h). A plain matrix is one group of N.
struct BSource {
    int transB;
    const uint16_t *B;
    int64_t ldb, group, groupStride;
    const uint16_t *col(int64_t n) const { return B + (n / group) * groupStride + n % group; }
    uint16_t at(int64_t k, int64_t n) const { return transB ? B[n * ldb + k] : col(n)[k * ldb]; }
};

// Row i of A as kp K-pairs (bf16 of k even in the low half), zero past K; vcvtne2ps2bf16 rounds to nearest even.
__attribute__((target("avx512bf16,avx512f,avx512bw,avx512vl")))
void pack_a_row(const float *a, int64_t K, int64_t kp, uint32_t *dst) {
    int64_t k = 0;
    for (; k + 32 <= K; k += 32) {
        const __m512bh v = _mm512_cvtne2ps_pbh(_mm512_loadu_ps(a + k + 16), _mm512_loadu_ps(a + k));
        _mm512_storeu_si512(dst + k / 2, (__m512i)v);
    }
    for (; k < 2 * kp; k += 2) {
        const uint32_t lo = to_bf16(a[k]), hi = k + 1 < K ? to_bf16(a[k + 1]) : 0u;
        dst[k / 2] = lo | (hi << 16);
    }
}

// 32 contiguous columns starting at `base` (rows ldb apart) as [kp][32] K-pairs, rows k and k + 1 interleaved by
// vpermt2w; full panels inside one group only.
__attribute__((target("avx512bf16,avx512f,avx512bw,avx512vl")))
void pack_b_rows(const uint16_t *base, int64_t ldb, int64_t K, int64_t kp, uint32_t *dst) {
    alignas(64) uint16_t lo[32], hi[32];
    for (int i = 0; i < 32; i++) {
        lo[i] = (uint16_t)((i & 1 ? 32 : 0) + i / 2);
        hi[i] = (uint16_t)((i & 1 ? 32 : 0) + 16 + i / 2);
    }
    const __m512i ilo = _mm512_load_si512(lo), ihi = _mm512_load_si512(hi);
    for (int64_t p = 0; p < kp; p++) {
        const int64_t k = 2 * p;
        // rows lie ldb apart (a whole weight row: often a page or more), beyond what the hardware prefetchers follow;
        // asking for the rows kPrefetchRows ahead overlaps their misses
        if (k + kPrefetchRows + 1 < K) {
            _mm_prefetch((const char *)(base + (k + kPrefetchRows) * ldb), _MM_HINT_T0);
            _mm_prefetch((const char *)(base + (k + kPrefetchRows + 1) * ldb), _MM_HINT_T0);
        }
        const __m512i r0 = _mm512_loadu_si512(base + k * ldb);
        const __m512i r1 = k + 1 < K ? _mm512_loadu_si512(base + (k + 1) * ldb) : _mm512_setzero_si512();
        _mm512_storeu_si512(dst + p * kNR, _mm512_permutex2var_epi16(r0, ilo, r1));
        _mm512_storeu_si512(dst + p * kNR + 16, _mm512_permutex2var_epi16(r0, ihi, r1));
    }
}

// Columns [n0, n0 + 32) of op(B) as [kp][32] K-pairs; columns >= N and k >= K are zero.
void pack_b(const BSource &b, int64_t N, int64_t K, int64_t n0, int64_t kp, uint32_t *dst) {
    for (int64_t p = 0; p < kp; p++) {
        const int64_t k = 2 * p;
        for (int c = 0; c < kNR; c++) {
            const int64_t n = n0 + c;
            uint32_t v = 0;
            if (n < N) {
                const uint32_t lo = b.at(k, n);
                const uint32_t hi = k + 1 < K ? b.at(k + 1, n) : 0u;
                v = lo | (hi << 16);
            }
            dst[p * kNR + c] = v;
        }
    }
}

__attribute__((target("avx512bf16,avx512f,avx512bw,avx512vl")))
void kernel_8x32(int64_t kp, const uint32_t *a, const uint32_t *b, float *C, int64_t ldc, int rows, int cols,
                 float alpha, float beta, const float *bias) {
    __m512 acc[kMR][2];
#pragma GCC unroll 12
    for (int r = 0; r < kMR; r++) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
    for (int64_t p = 0; p < kp; p++) {
        const __m512bh b0 = (__m512bh)_mm512_loadu_si512(b + p * kNR);
        const __m512bh b1 = (__m512bh)_mm512_loadu_si512(b + p * kNR + 16);
#pragma GCC unroll 12
        for (int r = 0; r < kMR; r++) {
            const __m512bh ar = (__m512bh)_mm512_set1_epi32((int)a[r * kp + p]);
            acc[r][0] = _mm512_dpbf16_ps(acc[r][0], ar, b0);
            acc[r][1] = _mm512_dpbf16_ps(acc[r][1], ar, b1);
        }
    }
    l4j::store_tile_x32<kMR>(acc, C, ldc, rows, cols, alpha, beta, bias);
}

int gemm_dpbf16(const BSource &bs, int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t lda,
                float beta, float *C, int64_t ldc, const float *bias) {
    const int64_t kp = (K + 1) / 2;
    const int64_t mPanels = (M + kMR - 1) / kMR, nPanels = (N + kNR - 1) / kNR;
    // A as bf16 K-pairs, row-major [mPanels * 8][kp]; the rows past M are zero
    uint32_t *ap = (uint32_t *)tl_a.get(sizeof(uint32_t) * (size_t)(mPanels * kp * kMR));
    if (!ap) return L4J_ERR_NOMEM;
    std::memset(ap + M * kp, 0, sizeof(uint32_t) * (size_t)((mPanels * kMR - M) * kp));
#pragma omp parallel for schedule(static) if (M * K > L4J_PAR_MIN)
    for (int64_t i = 0; i < M; i++) pack_a_row(A + i * lda, K, kp, ap + i * kp);
    // The split changes no bits (see the top). Each task packs its B group once (it stays in L2) and runs its rows
    // over it, an 8-row panel of A (in L1) against every column panel of the group.
    const l4j::TileSplit split(nPanels, mPanels, (int64_t)sizeof(uint32_t) * kNR * kp, l4j::kGroupBytes, omp_get_max_threads());
    const int64_t group = split.group;
    int failed = 0;
#pragma omp parallel for schedule(dynamic) if (split.tasks() > 1 && M * N * K > (1 << 18)) reduction(| : failed)
    for (int64_t t = 0; t < split.tasks(); t++) {
        const l4j::TileTask task(t, split.parts, group, nPanels, split.panelsPerPart, mPanels);
        const int64_t p0 = task.p0;
        uint32_t *bp = (uint32_t *)tl_b.get(sizeof(uint32_t) * (size_t)(group * kp * kNR));
        if (!bp) { failed = 1; continue; }
        for (int64_t j = p0; j < task.p1; j++) {
            const int64_t n0 = j * kNR;
            if (!bs.transB && n0 + kNR <= N && n0 / bs.group == (n0 + kNR - 1) / bs.group)
                pack_b_rows(bs.col(n0), bs.ldb, K, kp, bp + (j - p0) * kp * kNR);
            else pack_b(bs, N, K, n0, kp, bp + (j - p0) * kp * kNR);
        }
        for (int64_t i = task.i0; i < task.i1; i++) {
            const int64_t m0 = i * kMR;
            const int rows = l4j::tile_extent(M, m0, kMR);
            for (int64_t j = p0; j < task.p1; j++) {
                const int64_t n0 = j * kNR;
                const int cols = l4j::tile_extent(N, n0, kNR);
                kernel_8x32(kp, ap + i * kp * kMR, bp + (j - p0) * kp * kNR, C + m0 * ldc + n0, ldc, rows, cols,
                            alpha, beta, bias ? bias + n0 : nullptr);
            }
        }
        tl_b.trim();
    }
    tl_a.trim();
    return failed ? L4J_ERR_NOMEM : L4J_OK;
}

int gemm_widen(const BSource &bs, int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t lda,
               float beta, float *C, int64_t ldc, const float *bias) {
    const int64_t width = N < kWiden ? N : kWiden;
    float *w = (float *)std::malloc(sizeof(float) * (size_t)(K * width));
    if (!w) return L4J_ERR_NOMEM;
    int status = L4J_OK;
    for (int64_t n0 = 0; n0 < N && status == L4J_OK; n0 += width) {
        const int64_t nb = N - n0 < width ? N - n0 : width;
#pragma omp parallel for schedule(static) if (K * nb > L4J_PAR_MIN)
        for (int64_t k = 0; k < K; k++)
            for (int64_t c = 0; c < nb; c++) w[k * nb + c] = from_bf16(bs.at(k, n0 + c));
        status = l4j_gemm(0, 0, M, nb, K, alpha, A, lda, w, nb, beta, C + n0, ldc, bias ? bias + n0 : nullptr);
    }
    std::free(w);
    return status;
}
}  // namespace

extern "C" int l4j_bf16_native(void) { return kHasBf16 ? 1 : 0; }

extern "C" int l4j_gemm_bf16(int transB, int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t lda,
                             const uint16_t *B, int64_t ldb, float beta, float *C, int64_t ldc, const float *bias,
                             int mode) {
    L4J_CHECK(M >= 0 && N >= 0 && K >= 0 && C && (K == 0 || (A && B)) && (mode == 0 || mode == 1));
    L4J_CHECK(ldc >= N && lda >= K && ldb >= (transB ? K : N));
    if (M == 0 || N == 0) return L4J_OK;
    if (K == 0) return l4j_gemm(0, 0, M, N, 0, alpha, A, lda, nullptr, N, beta, C, ldc, bias);
    const BSource bs{transB, B, ldb, N, 0};
    if (mode == 0 && kHasBf16) return gemm_dpbf16(bs, M, N, K, alpha, A, lda, beta, C, ldc, bias);
    return gemm_widen(bs, M, N, K, alpha, A, lda, beta, C, ldc, bias);
}

extern "C" int l4j_gemm_bf16_grouped(int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t lda,
                                     const uint16_t *B, int64_t ldb, int64_t group, int64_t groupStride, float beta,
                                     float *C, int64_t ldc, const float *bias, int mode) {
    L4J_CHECK(M >= 0 && N >= 0 && K >= 0 && C && (K == 0 || (A && B)) && (mode == 0 || mode == 1));
    L4J_CHECK(group > 0 && N % group == 0 && ldc >= N && lda >= K && ldb >= group && groupStride >= 0);
    if (M == 0 || N == 0) return L4J_OK;
    if (K == 0) return l4j_gemm(0, 0, M, N, 0, alpha, A, lda, nullptr, N, beta, C, ldc, bias);
    const BSource bs{0, B, ldb, group, groupStride};
    if (mode == 0 && kHasBf16) return gemm_dpbf16(bs, M, N, K, alpha, A, lda, beta, C, ldc, bias);
    return gemm_widen(bs, M, N, K, alpha, A, lda, beta, C, ldc, bias);
}

extern "C" int l4j_f32_to_bf16(int64_t n, const float *src, uint16_t *dst) {
    L4J_CHECK(n >= 0 && (n == 0 || (src && dst)));
#pragma omp parallel for schedule(static) if (n > L4J_PAR_MIN)
    for (int64_t i = 0; i < n; i++) dst[i] = to_bf16(src[i]);
    return L4J_OK;
}

extern "C" int l4j_bf16_to_f32(int64_t n, const uint16_t *src, float *dst) {
    L4J_CHECK(n >= 0 && (n == 0 || (src && dst)));
#pragma omp parallel for schedule(static) if (n > L4J_PAR_MIN)
    for (int64_t i = 0; i < n; i++) dst[i] = from_bf16(src[i]);
    return L4J_OK;
}

extern "C" int l4j_embed_bf16(int64_t n_tokens, const int32_t *tokens, const uint16_t *W_E, int64_t d_vocab,
                              int64_t d_model, float *out) {
    L4J_CHECK(n_tokens >= 0 && tokens && W_E && out && d_vocab > 0 && d_model > 0);
    if (!l4j_tokens_in_range(n_tokens, tokens, d_vocab)) return L4J_ERR_RANGE;
#pragma omp parallel for schedule(static) if (n_tokens * d_model > L4J_PAR_MIN)
    for (int64_t i = 0; i < n_tokens; i++) {
        const uint16_t *row = W_E + (int64_t)tokens[i] * d_model;
        for (int64_t j = 0; j < d_model; j++) out[i * d_model + j] = from_bf16(row[j]);
    }
    return L4J_OK;
}
