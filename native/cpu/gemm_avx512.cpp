// float32 GEMM on AVX-512F: C[M,N] = alpha * op(A) @ op(B) + beta * C + bias, for CPUs that have it (checked with
// cpuid at run time; the rest of the library stays x86-64-v3, so only the functions below carry the target).
//
// Why our own: OpenBLAS picks its kernels by core type, and OPENBLAS_CORETYPE=Haswell (set here and in CI so that
// results do not change between machines) keeps it on 256-bit AVX2 kernels even on Zen 4/5 or Sapphire Rapids.
//
// Layout (GotoBLAS-style, without K blocking): A is read in place (A^T is packed once per call into 12-row panels
// [K][12]); each task packs a group of 32-column panels of op(B) [K][32] that fits in L2 and runs the 12 x 32
// micro-kernel (24 zmm accumulators) over its rows. Every C element is one accumulator lane summed over k = 0..K-1 in order, then
// scaled, so how rows and columns are split between tasks and threads never changes a bit.
#include "common.h"
#include "gemm_tile.h"
#include "scratch.h"
#include <immintrin.h>
#include <cstdlib>

namespace {
constexpr int kMR = 12;                      // rows per micro-tile
constexpr int kNR = 32;                      // columns per micro-tile (two zmm of 16 floats)
constexpr int64_t kPrefetchRows = 16;        // rows of B ahead that pack_b asks the cache for

using l4j::Scratch;
thread_local Scratch tl_a, tl_b;

// a function-local static: gemm.cpp's dispatch asks during static initialisation, whose order across files is unset
bool has_avx512f() {
    static const bool has = [] {
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx512f") != 0;
    }();
    return has;
}

// Rows [m0, m0 + 12) of op(A) = A^T (A [K, M]) as [K][12], a 12-float copy per k; rows >= M are zero. A not
// transposed is read in place (see ARows): its panel would be a transpose, costing as much as the multiply when N is
// one head wide.
void pack_at(const float *A, int64_t lda, int64_t M, int64_t K, int64_t m0, float *dst) {
    const int rows = l4j::tile_extent(M, m0, kMR);
    for (int64_t k = 0; k < K; k++) {
        const float *src = A + k * lda + m0;
        int r = 0;
        for (; r < rows; r++) dst[k * kMR + r] = src[r];
        for (; r < kMR; r++) dst[k * kMR + r] = 0.0f;
    }
}

// Element (r, k) of a 12-row panel of op(A): packed [K][12], or rows of A in place. Rows past M repeat the last row
// (in bounds; their results are never stored).
struct APacked {
    const float *a;
    float at(int r, int64_t k) const { return a[k * kMR + r]; }
};
struct ARows {
    const float *row[kMR];
    ARows(const float *A, int64_t lda, int rows) {
        for (int r = 0; r < kMR; r++) row[r] = A + (r < rows ? r : rows - 1) * lda;
    }
    float at(int r, int64_t k) const { return row[r][k]; }
};

// op(B): B [K, N] or, transposed, [N, K]; untransposed columns may come in groups (heads): column n lies at
// B + (n / group) * groupStride + n % group, rows ldb apart (TL's W_Q [heads, d_model, d_head]: group d_head,
// groupStride d_model * d_head, ldb d_head). A plain matrix is one group of N columns.
struct BSource {
    int transB;
    const float *B;
    int64_t ldb, group, groupStride;
    const float *col(int64_t n) const { return B + (n / group) * groupStride + n % group; }
};

// Columns [n0, n0 + 32) of op(B) as [K][32]; columns >= N are zero.
__attribute__((target("avx512f")))
void pack_b(const BSource &b, int64_t N, int64_t K, int64_t n0, float *dst) {
    const int cols = l4j::tile_extent(N, n0, kNR);
    const int64_t ldb = b.ldb;
    if (!b.transB && n0 / b.group == (n0 + cols - 1) / b.group) {  // one group: a panel row is a contiguous (masked) copy
        const float *base = b.col(n0);
        const __mmask16 m0 = cols >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << cols) - 1u);
        const __mmask16 m1 = cols >= 32 ? (__mmask16)0xFFFF : cols <= 16 ? (__mmask16)0 : (__mmask16)((1u << (cols - 16)) - 1u);
        for (int64_t k = 0; k < K; k++) {
            const float *src = base + k * ldb;
            // rows lie ldb apart, often a page or more, beyond what the hardware prefetchers follow: asking for the
            // row kPrefetchRows ahead overlaps the misses (a short-prompt forward is bound by reading the weights)
            if (k + kPrefetchRows < K) {
                _mm_prefetch((const char *)(src + kPrefetchRows * ldb), _MM_HINT_T0);
                _mm_prefetch((const char *)(src + kPrefetchRows * ldb + 16), _MM_HINT_T0);
            }
            _mm512_store_ps(dst + k * kNR, _mm512_maskz_loadu_ps(m0, src));
            _mm512_store_ps(dst + k * kNR + 16, _mm512_maskz_loadu_ps(m1, src + 16));
        }
        return;
    }
    if (!b.transB) {  // the panel spans groups: gather each column from its group
        const float *src[kNR];
        for (int c = 0; c < kNR; c++) src[c] = c < cols ? b.col(n0 + c) : nullptr;
        for (int64_t k = 0; k < K; k++)
            for (int c = 0; c < kNR; c++) dst[k * kNR + c] = c < cols ? src[c][k * ldb] : 0.0f;
        return;
    }
    // B is [N, K]: column c of the panel is row n0 + c of B
    for (int c = 0; c < kNR; c++) {
        if (c < cols) {
            const float *src = b.B + (n0 + c) * ldb;
            for (int64_t k = 0; k < K; k++) dst[k * kNR + c] = src[k];
        } else {
            for (int64_t k = 0; k < K; k++) dst[k * kNR + c] = 0.0f;
        }
    }
}

// C[rows, cols] = alpha * (a @ b) + beta * C + bias over one 12 x 32 tile; beta == 0 never reads C.
template <class APanel>
__attribute__((target("avx512f")))
void kernel_12x32(int64_t K, const APanel a, const float *b, float *C, int64_t ldc, int rows, int cols, float alpha,
                  float beta, const float *bias) {
    __m512 acc[kMR][2];
#pragma GCC unroll 12
    for (int r = 0; r < kMR; r++) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
#pragma GCC unroll 2
    for (int64_t k = 0; k < K; k++) {
        const __m512 b0 = _mm512_load_ps(b + k * kNR), b1 = _mm512_load_ps(b + k * kNR + 16);
#pragma GCC unroll 12
        for (int r = 0; r < kMR; r++) {
            const __m512 ar = _mm512_set1_ps(a.at(r, k));
            acc[r][0] = _mm512_fmadd_ps(ar, b0, acc[r][0]);
            acc[r][1] = _mm512_fmadd_ps(ar, b1, acc[r][1]);
        }
    }
    l4j::store_tile_x32<kMR>(acc, C, ldc, rows, cols, alpha, beta, bias);
}

int gemm_avx512(int transA, const BSource &bs, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                int64_t lda, float beta, float *C, int64_t ldc, const float *bias) {
    const int64_t mPanels = (M + kMR - 1) / kMR, nPanels = (N + kNR - 1) / kNR;
    const bool parallel = M * N * K > (1 << 18);
    float *ap = nullptr;
    if (transA) {
        ap = (float *)tl_a.get(sizeof(float) * (size_t)(mPanels * kMR * (K > 0 ? K : 1)));
        if (!ap) return L4J_ERR_NOMEM;
#pragma omp parallel for schedule(static) if (parallel && mPanels > 1)
        for (int64_t i = 0; i < mPanels; i++) pack_at(A, lda, M, K, i * kMR, ap + i * kMR * K);
    }
    // the split changes no bits (see the top)
    const l4j::TileSplit split(nPanels, mPanels, (int64_t)sizeof(float) * kNR * K, l4j::kGroupBytes,
                               parallel ? omp_get_max_threads() : 1);
    const int64_t group = split.group;
    int failed = 0;
#pragma omp parallel for schedule(dynamic) if (parallel && split.tasks() > 1) reduction(| : failed)
    for (int64_t t = 0; t < split.tasks(); t++) {
        const l4j::TileTask task(t, split.parts, group, nPanels, split.panelsPerPart, mPanels);
        float *bp = (float *)tl_b.get(sizeof(float) * (size_t)(group * kNR * (K > 0 ? K : 1)));
        if (!bp) { failed = 1; continue; }
        for (int64_t j = task.p0; j < task.p1; j++) pack_b(bs, N, K, j * kNR, bp + (j - task.p0) * kNR * K);
        for (int64_t i = task.i0; i < task.i1; i++) {
            const int64_t m0 = i * kMR;
            const int rows = l4j::tile_extent(M, m0, kMR);
            for (int64_t j = task.p0; j < task.p1; j++) {
                const int64_t n0 = j * kNR;
                const int cols = l4j::tile_extent(N, n0, kNR);
                float *c = C + m0 * ldc + n0;
                const float *bj = bp + (j - task.p0) * kNR * K, *biasj = bias ? bias + n0 : nullptr;
                if (transA) kernel_12x32(K, APacked{ap + i * kMR * K}, bj, c, ldc, rows, cols, alpha, beta, biasj);
                else kernel_12x32(K, ARows(A + m0 * lda, lda, rows), bj, c, ldc, rows, cols, alpha, beta, biasj);
            }
        }
        tl_b.trim();
    }
    tl_a.trim();
    return failed ? L4J_ERR_NOMEM : L4J_OK;
}
}  // namespace

extern "C" int l4j_avx512f_native(void) { return has_avx512f() ? 1 : 0; }

// Same contract as l4j_gemm; L4J_ERR_UNSUPPORTED where the CPU lacks AVX-512F.
extern "C" int l4j_gemm_avx512(int transA, int transB, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                               int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc,
                               const float *bias) {
    L4J_CHECK(M >= 0 && N >= 0 && K >= 0 && C && (K == 0 || (A && B)));
    L4J_CHECK(ldc >= N && lda >= (transA ? M : K) && ldb >= (transB ? K : N));
    if (!has_avx512f()) return L4J_ERR_UNSUPPORTED;
    if (M == 0 || N == 0) return L4J_OK;
    return gemm_avx512(transA, BSource{transB, B, ldb, N, 0}, M, N, K, alpha, A, lda, beta, C, ldc, bias);
}

// Same contract as l4j_gemm_grouped (B's columns in groups, read in place); L4J_ERR_UNSUPPORTED without AVX-512F.
extern "C" int l4j_gemm_avx512_grouped(int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t lda,
                                       const float *B, int64_t ldb, int64_t group, int64_t groupStride, float beta,
                                       float *C, int64_t ldc, const float *bias) {
    L4J_CHECK(M >= 0 && N >= 0 && K >= 0 && C && (K == 0 || (A && B)) && group > 0 && N % group == 0);
    L4J_CHECK(ldc >= N && lda >= K && ldb >= group && groupStride >= 0);
    if (!has_avx512f()) return L4J_ERR_UNSUPPORTED;
    if (M == 0 || N == 0) return L4J_OK;
    return gemm_avx512(0, BSource{0, B, ldb, group, groupStride}, M, N, K, alpha, A, lda, beta, C, ldc, bias);
}
