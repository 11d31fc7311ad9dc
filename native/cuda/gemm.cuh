// What gemm.cu shares with gemm_bf16.cu: the cuBLAS calls (row-major, through the column-major transpose identity)
// and the kernel that applies beta and the bias before a product accumulates into C.
#pragma once
#include "l4jc.cuh"

// Row-major C[M,N] = alpha op(A) op(B) + beta C on `stream`. A and B are float32 (a_bf16 / b_bf16: bf16 bits,
// multiplied by cublasGemmEx with float32 accumulation). Arguments already checked; dimensions fit in int.
int l4jc_cublas_gemm(int transA, int transB, int64_t M, int64_t N, int64_t K, float alpha, const void *A, int a_bf16,
                     int64_t lda, const void *B, int b_bf16, int64_t ldb, float beta, float *C, int64_t ldc, void *stream);

// C[M,N] = beta C + bias (bias NULL: beta C), where beta 0 overwrites C (garbage and NaN included), as l4j_gemm's
// bias fill; the product is then added with beta 1.
int l4jc_scale_bias(int64_t M, int64_t N, float beta, const float *bias, float *C, int64_t ldc, void *stream);

// cuBLAS takes int dimensions and leading dimensions
static inline bool l4jc_fits_int(int64_t a, int64_t b, int64_t c, int64_t d, int64_t e, int64_t f) {
    const int64_t m = 2147483647;
    return a <= m && b <= m && c <= m && d <= m && e <= m && f <= m;
}
