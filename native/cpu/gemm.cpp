#include "common.h"
#include <cblas.h>
#include <cstdlib>

// One thread pool: OpenBLAS runs single-threaded (see runtime.cpp) and we split each GEMM across the OpenMP
// threads ourselves. Two pools (OpenBLAS's busy-waiting pthreads and OpenMP's) fight over the cores and made
// every element-wise op after a GEMM several times slower.

namespace {
void gemm_block(int transA, int transB, int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t lda,
                const float *B, int64_t ldb, float beta, float *C, int64_t ldc) {
    cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                (blasint)M, (blasint)N, (blasint)K, alpha, A, (blasint)lda, B, (blasint)ldb, beta, C, (blasint)ldc);
}

void fill_bias(int64_t M, int64_t N, const float *bias, float beta, float *C, int64_t ldc) {
    if (beta == 0.0f) {
        for (int64_t i = 0; i < M; i++) std::memcpy(C + i * ldc, bias, sizeof(float) * N);
    } else {
        for (int64_t i = 0; i < M; i++)
            for (int64_t j = 0; j < N; j++) C[i * ldc + j] = beta * C[i * ldc + j] + bias[j];
    }
}
}  // namespace

// How the work is split never depends on the thread count: OpenBLAS's kernels round differently for different
// sub-block shapes (edge tiles, small-matrix paths, and differently again per core type: Haswell, SkylakeX, ...), so
// a split that followed OMP_NUM_THREADS gave bits that changed with it. The split follows the shape and the number
// of processors of the machine (fixed for a process); each chunk is the same OpenBLAS call whichever thread runs
// it, so on one machine every thread count gives the same bits. More chunks would scale further but each chunk
// repacks the shared operand (B for row chunks), which costs about 1/chunk_rows of the work: so one chunk per
// processor, at least 64 rows or columns each.
namespace {
constexpr int64_t kMinWork = (int64_t)1 << 18;  // M*N*K below this: one call, no split
constexpr int64_t kMinChunk = 64;
// smallest product the AVX-512F kernel takes (measured: benchmarks/native/sgemm_bench.cpp)
constexpr int64_t kAvx512MinRows = 8, kAvx512MinCols = 32, kAvx512MinDepth = 8;
const int64_t kChunks = omp_get_num_procs() > 0 ? omp_get_num_procs() : 1;
}  // namespace

extern "C" int l4j_gemm_openblas(int transA, int transB, int64_t M, int64_t N, int64_t K, float alpha,
                                 const float *A, int64_t lda, const float *B, int64_t ldb, float beta,
                                 float *C, int64_t ldc, const float *bias) {
    L4J_CHECK(M >= 0 && N >= 0 && K >= 0 && C && (K == 0 || (A && B)));
    L4J_CHECK(ldc >= N && lda >= (transA ? M : K) && ldb >= (transB ? K : N));
    if (M == 0 || N == 0) return L4J_OK;
    // split rows when there are enough of them, else columns (e.g. unembedding one position)
    // (row chunks repeat the packing of B [K, N], column chunks that of A [M, K]: repeat the smaller one)
    const bool by_rows = M >= N;
    const int64_t total = by_rows ? M : N;
    int64_t chunk = total;
    if (M * N * K >= kMinWork && kChunks > 1) {
        chunk = (total + kChunks - 1) / kChunks;
        chunk = (chunk + 15) / 16 * 16;  // multiples of 16 keep OpenBLAS's kernels on full panels
        if (chunk < kMinChunk) chunk = kMinChunk;
    }
    const int64_t chunks = (total + chunk - 1) / chunk;
#pragma omp parallel for schedule(static) if (chunks > 1)
    for (int64_t ci = 0; ci < chunks; ci++) {
        const int64_t s = ci * chunk, e = s + chunk < total ? s + chunk : total;
        const int64_t m = by_rows ? e - s : M, n = by_rows ? N : e - s;
        const float *a = by_rows ? A + (transA ? s : s * lda) : A;
        const float *b = by_rows ? B : B + (transB ? s * ldb : s);
        float *c = by_rows ? C + s * ldc : C + s;
        float bt = beta;
        if (bias) {
            fill_bias(m, n, by_rows ? bias : bias + s, beta, c, ldc);
            bt = 1.0f;
        }
        if (K == 0) {
            if (!bias && bt != 1.0f)
                for (int64_t i = 0; i < m; i++)
                    for (int64_t j = 0; j < n; j++) c[i * ldc + j] = bt == 0.0f ? 0.0f : bt * c[i * ldc + j];
        } else {
            gemm_block(transA, transB, m, n, K, alpha, a, lda, b, ldb, bt, c, ldc);
        }
    }
    return L4J_OK;
}

// lens4j's AVX-512F kernel (gemm_avx512.cpp) where the CPU has it and the product is big enough to fill its 12 x 32
// tiles; OpenBLAS for the rest (a KV-cached step's single row, thin per-head products). LENS4J_GEMM=openblas keeps
// every product on OpenBLAS (for comparisons).
namespace {
bool avx512_wanted() {
    const char *v = std::getenv("LENS4J_GEMM");
    return l4j_avx512f_native() && !(v && std::strcmp(v, "openblas") == 0);
}
const bool kAvx512 = avx512_wanted();
}  // namespace

bool l4j_gemm_takes_avx512(int64_t M, int64_t N, int64_t K) {
    return kAvx512 && M >= kAvx512MinRows && N >= kAvx512MinCols && K >= kAvx512MinDepth;
}

extern "C" int l4j_gemm(int transA, int transB, int64_t M, int64_t N, int64_t K, float alpha,
                        const float *A, int64_t lda, const float *B, int64_t ldb, float beta,
                        float *C, int64_t ldc, const float *bias) {
    if (l4j_gemm_takes_avx512(M, N, K))
        return l4j_gemm_avx512(transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, bias);
    return l4j_gemm_openblas(transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, bias);
}

// Columns of B in groups (see lens4j.h). OpenBLAS needs a plain matrix: few rows take one product per group (the
// weights are read once either way), more rows one product over a contiguous copy of B.
extern "C" int l4j_gemm_grouped(int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t lda,
                                const float *B, int64_t ldb, int64_t group, int64_t groupStride, float beta, float *C,
                                int64_t ldc, const float *bias, int path) {
    L4J_CHECK(M >= 0 && N >= 0 && K >= 0 && C && (K == 0 || (A && B)) && group > 0 && N % group == 0);
    L4J_CHECK(ldc >= N && lda >= K && ldb >= group && groupStride >= 0 && path >= 0 && path <= 2);
    const bool own = path == 1 || (path == 0 && l4j_gemm_takes_avx512(M, N, K));
    if (own) return l4j_gemm_avx512_grouped(M, N, K, alpha, A, lda, B, ldb, group, groupStride, beta, C, ldc, bias);
    if (M == 0 || N == 0) return L4J_OK;
    const int64_t groups = N / group;
    if (M < kMinChunk || groups == 1) {
        for (int64_t g = 0; g < groups; g++) {
            const int status = l4j_gemm_openblas(0, 0, M, group, K, alpha, A, lda, B + g * groupStride, ldb, beta,
                                                 C + g * group, ldc, bias ? bias + g * group : nullptr);
            if (status != L4J_OK) return status;
        }
        return L4J_OK;
    }
    float *packed = (float *)std::malloc(sizeof(float) * (size_t)(K > 0 ? K * N : 1));
    if (!packed) return L4J_ERR_NOMEM;
#pragma omp parallel for schedule(static) if (K * N > L4J_PAR_MIN)
    for (int64_t k = 0; k < K; k++)
        for (int64_t g = 0; g < groups; g++)
            std::memcpy(packed + k * N + g * group, B + g * groupStride + k * ldb, sizeof(float) * (size_t)group);
    const int status = l4j_gemm_openblas(0, 0, M, N, K, alpha, A, lda, packed, N, beta, C, ldc, bias);
    std::free(packed);
    return status;
}
