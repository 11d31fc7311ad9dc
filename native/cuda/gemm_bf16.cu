// GEMM with bf16 weights on the GPU (the twin of cpu/gemm_bf16.cpp): C[M,N] = alpha A[M,K] (f32) op(B) (bf16) + beta C
// (+ bias), float32 accumulation. mode 0: A rounded to bf16 into a scratch and multiplied by cublasGemmEx on bf16
// inputs (tensor cores); mode 1: B widened to f32 into a scratch and multiplied by sgemm (A exact). Scratches come
// from l4jc_scratch_alloc (stream-ordered where the device has memory pools), so concurrent streams never share one.
#include "gemm.cuh"

namespace {
// float -> bf16 bits, round to nearest even; NaN stays a (quiet) NaN (as cpu/gemm_bf16.cpp's to_bf16)
__device__ __forceinline__ uint16_t to_bf16(float f) {
    const uint32_t u = __float_as_uint(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40u);
    return (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}
__device__ __forceinline__ float from_bf16(uint16_t h) { return __uint_as_float((uint32_t)h << 16); }

__global__ void f32_to_bf16_kernel(int64_t n, const float *src, uint16_t *dst) {
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
        dst[i] = to_bf16(src[i]);
}
__global__ void bf16_to_f32_kernel(int64_t n, const uint16_t *src, float *dst) {
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
        dst[i] = from_bf16(src[i]);
}
// dst [rows, cols] contiguous = src [rows, cols] with row stride ld, rounded to bf16 / widened to f32
__global__ void rows_to_bf16_kernel(int64_t rows, int64_t cols, const float *src, int64_t ld, uint16_t *dst) {
    for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < rows * cols; e += (int64_t)gridDim.x * blockDim.x)
        dst[e] = to_bf16(src[(e / cols) * ld + e % cols]);
}
__global__ void rows_to_f32_kernel(int64_t rows, int64_t cols, const uint16_t *src, int64_t ld, float *dst) {
    for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < rows * cols; e += (int64_t)gridDim.x * blockDim.x)
        dst[e] = from_bf16(src[(e / cols) * ld + e % cols]);
}

}  // namespace

extern "C" int l4jc_gemm_bf16(int transB, int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t lda,
                              const uint16_t *B, int64_t ldb, float beta, float *C, int64_t ldc, const float *bias,
                              int mode, void *stream) {
    L4JC_CHECK(M >= 0 && N >= 0 && K >= 0 && C && (K == 0 || (A && B)) && (mode == 0 || mode == 1));
    L4JC_CHECK(ldc >= N && lda >= K && ldb >= (transB ? K : N));
    L4JC_CHECK(l4jc_fits_int(M, N, K, lda, ldb, ldc));
    if (M == 0 || N == 0) return L4J_OK;
    bool done;
    if (int s = l4jc_gemm_prologue(M, N, K, &beta, bias, C, ldc, stream, &done)) return s;
    if (done) return L4J_OK;
    void *tmp = nullptr;
    int status;
    if (mode == 0) {
        if (int s = l4jc_scratch_alloc(&tmp, M * K * 2, stream, "gemm_bf16 scratch")) return s;
        L4J_LAUNCH(rows_to_bf16_kernel, l4jc_blocks(M * K, 256), 256, 0, stream, M, K, A, lda, (uint16_t *)tmp);
        status = L4JC_LAUNCHED("gemm_bf16 (A to bf16)");
        if (status == L4J_OK)
            status = l4jc_cublas_gemm(0, transB, M, N, K, alpha, tmp, 1, K, B, 1, ldb, beta, C, ldc, stream);
    } else {
        const int64_t rows = transB ? N : K, cols = transB ? K : N;  // B as stored
        if (int s = l4jc_scratch_alloc(&tmp, rows * cols * 4, stream, "gemm_bf16 scratch")) return s;
        L4J_LAUNCH(rows_to_f32_kernel, l4jc_blocks(rows * cols, 256), 256, 0, stream, rows, cols, B, ldb, (float *)tmp);
        status = L4JC_LAUNCHED("gemm_bf16 (B to f32)");
        if (status == L4J_OK)
            status = l4jc_cublas_gemm(0, transB, M, N, K, alpha, A, 0, lda, tmp, 0, cols, beta, C, ldc, stream);
    }
    const int freed = l4jc_scratch_free(tmp, stream, "gemm_bf16 scratch free");
    return status != L4J_OK ? status : freed;
}

// l4j_gemm_bf16_grouped's twin: one product per group of B's columns (see l4jc_gemm_grouped).
extern "C" int l4jc_gemm_bf16_grouped(int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t lda,
                                      const uint16_t *B, int64_t ldb, int64_t group, int64_t groupStride, float beta,
                                      float *C, int64_t ldc, const float *bias, int mode, void *stream) {
    L4JC_CHECK(M >= 0 && N >= 0 && K >= 0 && C && (K == 0 || (A && B)) && (mode == 0 || mode == 1));
    L4JC_CHECK(group > 0 && N % group == 0 && ldc >= N && lda >= K && ldb >= group && groupStride >= 0);
    L4JC_CHECK(l4jc_fits_int(M, N, K, lda, ldb, ldc));
    if (M == 0 || N == 0) return L4J_OK;
    if (mode == 1 || K == 0) {  // each group's B widened on its own (mode 1), or C = beta C + bias (K = 0)
        for (int64_t g = 0; g < N / group; g++)
            if (int s = l4jc_gemm_bf16(0, M, group, K, alpha, A, lda, K == 0 ? B : B + g * groupStride, ldb, beta,
                                       C + g * group, ldc, bias ? bias + g * group : nullptr, mode, stream))
                return s;
        return L4J_OK;
    }
    // mode 0: A rounded to bf16 once for every group, then one cuBLAS product per group
    void *tmp = nullptr;
    if (int s = l4jc_scratch_alloc(&tmp, M * K * 2, stream, "gemm_bf16_grouped scratch")) return s;
    L4J_LAUNCH(rows_to_bf16_kernel, l4jc_blocks(M * K, 256), 256, 0, stream, M, K, A, lda, (uint16_t *)tmp);
    int status = L4JC_LAUNCHED("gemm_bf16_grouped (A to bf16)");
    for (int64_t g = 0; g < N / group && status == L4J_OK; g++) {
        float b = beta, *c = C + g * group;
        bool done;
        status = l4jc_gemm_prologue(M, group, K, &b, bias ? bias + g * group : nullptr, c, ldc, stream, &done);
        if (status == L4J_OK)
            status = l4jc_cublas_gemm(0, 0, M, group, K, alpha, tmp, 1, K, B + g * groupStride, 1, ldb, b, c, ldc, stream);
    }
    const int freed = l4jc_scratch_free(tmp, stream, "gemm_bf16_grouped scratch free");
    return status != L4J_OK ? status : freed;
}

extern "C" int l4jc_f32_to_bf16(int64_t n, const float *src, uint16_t *dst, void *stream) {
    L4JC_CHECK(n >= 0 && (n == 0 || (src && dst)));
    if (n == 0) return L4J_OK;
    L4J_LAUNCH(f32_to_bf16_kernel, l4jc_blocks(n, 256), 256, 0, stream, n, src, dst);
    return L4JC_LAUNCHED("f32_to_bf16");
}

extern "C" int l4jc_bf16_to_f32(int64_t n, const uint16_t *src, float *dst, void *stream) {
    L4JC_CHECK(n >= 0 && (n == 0 || (src && dst)));
    if (n == 0) return L4J_OK;
    L4J_LAUNCH(bf16_to_f32_kernel, l4jc_blocks(n, 256), 256, 0, stream, n, src, dst);
    return L4JC_LAUNCHED("bf16_to_f32");
}
