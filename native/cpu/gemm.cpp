#include "common.h"
#include <cblas.h>

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

extern "C" int l4j_gemm(int transA, int transB, int64_t M, int64_t N, int64_t K, float alpha,
                        const float *A, int64_t lda, const float *B, int64_t ldb, float beta,
                        float *C, int64_t ldc, const float *bias) {
    L4J_CHECK(M >= 0 && N >= 0 && K >= 0 && C && (K == 0 || (A && B)));
    L4J_CHECK(ldc >= N && lda >= (transA ? M : K) && ldb >= (transB ? K : N));
    if (M == 0 || N == 0) return L4J_OK;
    const int threads = omp_get_max_threads();
    const bool parallel = threads > 1 && M * N * K >= (int64_t)1 << 18;
    // split rows when there are enough of them, else columns (e.g. unembedding one position)
    const bool by_rows = M >= 32 * (int64_t)threads || M >= N;
#pragma omp parallel num_threads(parallel ? threads : 1)
    {
        const int nt = omp_get_num_threads(), t = omp_get_thread_num();
        const int64_t total = by_rows ? M : N;
        // blocks of 16 rows/columns keep OpenBLAS's kernels on full panels
        const int64_t units = (total + 15) / 16;
        const int64_t u0 = units * t / nt, u1 = units * (t + 1) / nt;
        const int64_t s = u0 * 16, e = u1 * 16 < total ? u1 * 16 : total;
        if (s < e) {
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
    }
    return L4J_OK;
}
