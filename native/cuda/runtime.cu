// CUDA device memory and a first element-wise kernel; the model kernels follow in the CUDA backend work.
#include "lens4j_cuda.h"
#include <cuda_runtime.h>

extern "C" int l4jc_device_count(void) {
    int n = 0;
    // without a driver this returns an error and leaves n unwritten: report 0 devices
    if (cudaGetDeviceCount(&n) != cudaSuccess) { cudaGetLastError(); return 0; }
    return n;
}

extern "C" int l4jc_malloc(void **ptr, int64_t bytes) {
    if (!ptr || bytes <= 0) return L4J_ERR_ARG;
    if (cudaMalloc(ptr, (size_t)bytes) != cudaSuccess) { cudaGetLastError(); return L4J_ERR_NOMEM; }
    if (cudaMemset(*ptr, 0, (size_t)bytes) != cudaSuccess) return L4J_ERR_DEVICE;
    return L4J_OK;
}

extern "C" int l4jc_free(void *ptr) { return cudaFree(ptr) == cudaSuccess ? L4J_OK : L4J_ERR_DEVICE; }

extern "C" int l4jc_memcpy(void *dst, const void *src, int64_t bytes, int kind) {
    if (!dst || !src || bytes < 0 || kind < 0 || kind > 2) return L4J_ERR_ARG;
    const cudaMemcpyKind k = kind == 0 ? cudaMemcpyHostToDevice : kind == 1 ? cudaMemcpyDeviceToHost : cudaMemcpyDeviceToDevice;
    return cudaMemcpy(dst, src, (size_t)bytes, k) == cudaSuccess ? L4J_OK : L4J_ERR_DEVICE;
}

extern "C" int l4jc_synchronize(void) { return cudaDeviceSynchronize() == cudaSuccess ? L4J_OK : L4J_ERR_DEVICE; }

__global__ void add_kernel(int64_t n, const float *a, const float *b, float *out) {
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
        out[i] = a[i] + b[i];
}

extern "C" int l4jc_add(int64_t n, const float *a, const float *b, float *out) {
    if (n < 0 || !a || !b || !out) return L4J_ERR_ARG;
    if (n == 0) return L4J_OK;
    const int threads = 256;
    const int blocks = (int)((n + threads - 1) / threads < 65535 ? (n + threads - 1) / threads : 65535);
    add_kernel<<<blocks, threads>>>(n, a, b, out);
    return cudaGetLastError() == cudaSuccess ? L4J_OK : L4J_ERR_DEVICE;
}
