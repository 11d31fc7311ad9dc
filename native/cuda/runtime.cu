// Devices, memory, streams and error reporting of the CUDA half of the C ABI (lens4j_cuda.h).
#include "l4jc.cuh"
#include <cstdio>
#include <cstring>
#include <mutex>

namespace {
std::mutex g_error_mutex;
char g_error[512] = "no error";
}

int l4jc_record(cudaError_t e, const char *what) {
    if (e == cudaSuccess) return L4J_OK;
    std::lock_guard<std::mutex> g(g_error_mutex);
    std::snprintf(g_error, sizeof g_error, "%s: %s (CUDA error %d)", what, cudaGetErrorString(e), (int)e);
    return L4J_ERR_DEVICE;
}

int l4jc_record_text(int status, const char *text) {
    std::lock_guard<std::mutex> g(g_error_mutex);
    std::snprintf(g_error, sizeof g_error, "%s", text);
    return status;
}

extern "C" int l4jc_last_error(char *buf, int len) {
    if (!buf || len <= 0) return L4J_ERR_ARG;
    std::lock_guard<std::mutex> g(g_error_mutex);
    std::snprintf(buf, (size_t)len, "%s", g_error);
    return L4J_OK;
}

extern "C" int l4jc_is_emulated(void) {
#ifdef L4J_CUDA_EMU
    return 1;
#else
    return 0;
#endif
}

extern "C" int l4jc_device_count(void) {
    int n = 0;
    // without a driver this returns an error and leaves n unwritten: report 0 devices
    if (cudaGetDeviceCount(&n) != cudaSuccess) { cudaGetLastError(); return 0; }
    return n;
}

extern "C" int l4jc_device_name(int device, char *buf, int len) {
    L4JC_CHECK(buf && len > 0 && device >= 0);
    cudaDeviceProp p;
    if (int s = l4jc_record(cudaGetDeviceProperties(&p, device), "cudaGetDeviceProperties")) return s;
    std::snprintf(buf, (size_t)len, "%s", p.name);
    return L4J_OK;
}

extern "C" int l4jc_set_device(int device) {
    L4JC_CHECK(device >= 0);
    return l4jc_record(cudaSetDevice(device), "cudaSetDevice");
}

extern "C" int l4jc_mem_info(int64_t *free_bytes, int64_t *total_bytes) {
    L4JC_CHECK(free_bytes && total_bytes);
    size_t f = 0, t = 0;
    if (int s = l4jc_record(cudaMemGetInfo(&f, &t), "cudaMemGetInfo")) return s;
    *free_bytes = (int64_t)f;
    *total_bytes = (int64_t)t;
    return L4J_OK;
}

extern "C" int l4jc_malloc_uninit(void **ptr, int64_t bytes) {
    L4JC_CHECK(ptr && bytes > 0);
    cudaError_t e = cudaMalloc(ptr, (size_t)bytes);
    if (e == cudaErrorMemoryAllocation) {
        l4jc_record(e, "cudaMalloc");
        cudaGetLastError();
        return L4J_ERR_NOMEM;
    }
    return l4jc_record(e, "cudaMalloc");
}

// cudaMemset runs on the legacy default stream; lens4j's streams are blocking (l4jc_stream_create), so every
// kernel queued on them afterwards waits for it
extern "C" int l4jc_malloc(void **ptr, int64_t bytes) {
    if (int s = l4jc_malloc_uninit(ptr, bytes)) return s;
    int s = l4jc_record(cudaMemset(*ptr, 0, (size_t)bytes), "cudaMemset");
    if (s != L4J_OK) { cudaFree(*ptr); *ptr = nullptr; }
    return s;
}

static bool memory_pools() {
    int dev = 0, pools = 0;
    return cudaGetDevice(&dev) == cudaSuccess &&
           cudaDeviceGetAttribute(&pools, cudaDevAttrMemoryPoolsSupported, dev) == cudaSuccess && pools != 0;
}

int l4jc_scratch_alloc(void **p, int64_t bytes, void *stream, const char *what) {
    const cudaError_t e = memory_pools() ? cudaMallocAsync(p, (size_t)bytes, L4JC_STREAM(stream))
                                         : cudaMalloc(p, (size_t)bytes);
    if (e == cudaSuccess) return L4J_OK;
    *p = nullptr;
    l4jc_record(e, what);
    cudaGetLastError();  // an allocation failure is not sticky: the next launch must not report it
    return e == cudaErrorMemoryAllocation ? L4J_ERR_NOMEM : L4J_ERR_DEVICE;
}

int l4jc_scratch_free(void *p, void *stream, const char *what) {
    if (!p) return L4J_OK;
    return l4jc_record(memory_pools() ? cudaFreeAsync(p, L4JC_STREAM(stream)) : cudaFree(p), what);
}

extern "C" int l4jc_free(void *ptr) { return l4jc_record(cudaFree(ptr), "cudaFree"); }

extern "C" int l4jc_host_alloc(void **ptr, int64_t bytes) {
    L4JC_CHECK(ptr && bytes > 0);
    return l4jc_record(cudaMallocHost(ptr, (size_t)bytes), "cudaMallocHost");
}

extern "C" int l4jc_host_free(void *ptr) { return l4jc_record(cudaFreeHost(ptr), "cudaFreeHost"); }

static bool copy_kind(int kind, cudaMemcpyKind *k) {
    if (kind < 0 || kind > 2) return false;
    *k = kind == 0 ? cudaMemcpyHostToDevice : kind == 1 ? cudaMemcpyDeviceToHost : cudaMemcpyDeviceToDevice;
    return true;
}

extern "C" int l4jc_memcpy(void *dst, const void *src, int64_t bytes, int kind) {
    cudaMemcpyKind k;
    L4JC_CHECK(dst && src && bytes >= 0 && copy_kind(kind, &k));
    if (bytes == 0) return L4J_OK;
    // on the legacy default stream, which lens4j's blocking streams are ordered with: the copy waits for their
    // earlier kernels, and their later kernels wait for the copy's DMA (no device-wide synchronisation needed)
    return l4jc_record(cudaMemcpy(dst, src, (size_t)bytes, k), "cudaMemcpy");
}

extern "C" int l4jc_memcpy_async(void *dst, const void *src, int64_t bytes, int kind, void *stream) {
    cudaMemcpyKind k;
    L4JC_CHECK(dst && src && bytes >= 0 && copy_kind(kind, &k));
    if (bytes == 0) return L4J_OK;
    return l4jc_record(cudaMemcpyAsync(dst, src, (size_t)bytes, k, L4JC_STREAM(stream)), "cudaMemcpyAsync");
}

extern "C" int l4jc_memset_async(void *ptr, int value, int64_t bytes, void *stream) {
    L4JC_CHECK(ptr && bytes >= 0);
    if (bytes == 0) return L4J_OK;
    return l4jc_record(cudaMemsetAsync(ptr, value, (size_t)bytes, L4JC_STREAM(stream)), "cudaMemsetAsync");
}

extern "C" int l4jc_stream_create(void **stream) {
    L4JC_CHECK(stream);
    cudaStream_t s = nullptr;
    // a blocking stream: ordered with the legacy default stream, so a synchronous l4jc_memcpy / memset sees every
    // kernel queued before it on any lens4j stream, and kernels queued after it see its data (streams still overlap
    // each other, e.g. CudaCapture's copy stream with the compute stream)
    if (int st = l4jc_record(cudaStreamCreate(&s), "cudaStreamCreate")) return st;
    *stream = (void *)s;
    return L4J_OK;
}

extern "C" int l4jc_stream_destroy(void *stream) {
    L4JC_CHECK(stream);
    return l4jc_record(cudaStreamDestroy(L4JC_STREAM(stream)), "cudaStreamDestroy");
}

extern "C" int l4jc_stream_synchronize(void *stream) {
    return l4jc_record(cudaStreamSynchronize(L4JC_STREAM(stream)), "cudaStreamSynchronize (a kernel failed)");
}

extern "C" int l4jc_synchronize(void) {
    return l4jc_record(cudaDeviceSynchronize(), "cudaDeviceSynchronize (a kernel failed)");
}

__global__ void add_kernel(int64_t n, const float *a, const float *b, float *out) {
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
        out[i] = a[i] + b[i];
}

extern "C" int l4jc_add(int64_t n, const float *a, const float *b, float *out, void *stream) {
    L4JC_CHECK(n >= 0 && a && b && out);
    if (n == 0) return L4J_OK;
    L4J_LAUNCH(add_kernel, l4jc_blocks(n, 256), 256, 0, stream, n, a, b, out);
    return L4JC_LAUNCHED("add");
}
