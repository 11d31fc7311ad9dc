#include "common.h"
#include <cblas.h>

static void fill_bias(int64_t M, int64_t N, const float *bias, float *C, int64_t ldc) {
#pragma omp parallel for schedule(static) if (M * N > L4J_PAR_MIN)
    for (int64_t i = 0; i < M; i++) std::memcpy(C + i * ldc, bias, sizeof(float) * N);
}

extern "C" int l4j_gemm(int transA, int transB, int64_t M, int64_t N, int64_t K, float alpha,
                        const float *A, int64_t lda, const float *B, int64_t ldb, float beta,
                        float *C, int64_t ldc, const float *bias) {
    L4J_CHECK(M >= 0 && N >= 0 && K >= 0 && C && (K == 0 || (A && B)));
    L4J_CHECK(ldc >= N && lda >= (transA ? M : K) && ldb >= (transB ? K : N));
    if (M == 0 || N == 0) return L4J_OK;
    if (bias) {
        if (beta == 0.0f) {
            fill_bias(M, N, bias, C, ldc);
        } else {
#pragma omp parallel for schedule(static) if (M * N > L4J_PAR_MIN)
            for (int64_t i = 0; i < M; i++)
                for (int64_t j = 0; j < N; j++) C[i * ldc + j] = beta * C[i * ldc + j] + bias[j];
        }
        beta = 1.0f;
    }
    if (K == 0) {
        if (!bias && beta != 1.0f)
            for (int64_t i = 0; i < M; i++)
                for (int64_t j = 0; j < N; j++) C[i * ldc + j] = beta == 0.0f ? 0.0f : beta * C[i * ldc + j];
        return L4J_OK;
    }
    cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                (blasint)M, (blasint)N, (blasint)K, alpha, A, (blasint)lda, B, (blasint)ldb, beta, C, (blasint)ldc);
    return L4J_OK;
}

extern "C" int l4j_gemm_batched(int64_t batch, int transA, int transB, int64_t M, int64_t N, int64_t K, float alpha,
                                const float *A, int64_t lda, int64_t strideA,
                                const float *B, int64_t ldb, int64_t strideB, float beta,
                                float *C, int64_t ldc, int64_t strideC) {
    L4J_CHECK(batch >= 0);
    for (int64_t b = 0; b < batch; b++) {
        int rc = l4j_gemm(transA, transB, M, N, K, alpha, A + b * strideA, lda, B + b * strideB, ldb, beta,
                          C + b * strideC, ldc, nullptr);
        if (rc != L4J_OK) return rc;
    }
    return L4J_OK;
}
