// What gemm.cu shares with gemm_bf16.cu: the cuBLAS calls (row-major, through the column-major transpose identity)
// and the kernel that applies beta and the bias before a product accumulates into C.
#pragma once
#include "l4jc.cuh"

// Row-major C[M,N] = alpha op(A) op(B) + beta C on `stream`. A and B are float32 (a_bf16 / b_bf16: bf16 bits,
// multiplied by cublasGemmEx with float32 accumulation). Arguments already checked; dimensions fit in int.
int l4jc_cublas_gemm(int transA, int transB, int64_t M, int64_t N, int64_t K, float alpha, const void *A, int a_bf16,
                     int64_t lda, const void *B, int b_bf16, int64_t ldb, float beta, float *C, int64_t ldc, void *stream);

// As l4j_gemm, beta and the bias go into C first: C = beta C + bias (beta 0 overwrites C, garbage and NaN included),
// after which *beta is 1 for the product to accumulate. Sets *done when nothing is left to multiply (K == 0).
int l4jc_gemm_prologue(int64_t M, int64_t N, int64_t K, float *beta, const float *bias, float *C, int64_t ldc,
                       void *stream, bool *done);

// cuBLAS takes int dimensions and leading dimensions
static inline bool l4jc_fits_int(int64_t a, int64_t b, int64_t c, int64_t d, int64_t e, int64_t f) {
    const int64_t m = 2147483647;
    return a <= m && b <= m && c <= m && d <= m && e <= m && f <= m;
}
