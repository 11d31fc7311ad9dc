// GEMM on the GPU (the twin of cpu/gemm.cpp): cuBLAS, loaded at run time with dlopen, so lens4j_cuda builds with a
// toolkit that has no cuBLAS and loads on machines without one (l4jc_gemm then fails with L4J_ERR_DEVICE and says
// why). cuBLAS is column-major: a row-major C[M,N] is the column-major C^T[N,M] = op(B)^T op(A)^T, so every call
// swaps A and B and M and N. Under the emulation (lens4j_cuda_emu) the same function table is bound to a column-major
// cuBLAS written over OpenBLAS, so that mapping is exercised by the emulated checks too.
#include "gemm.cuh"
#include <atomic>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <string>
#ifdef L4J_CUDA_EMU
#include <cblas.h>
#include <vector>
#else
#include <dlfcn.h>
#endif

namespace {
// The few cuBLAS declarations used, with their documented values (no cuBLAS headers here; enums travel as int).
typedef struct cublasContext *cublasHandle_t;
typedef int cublasStatus_t;
constexpr cublasStatus_t kCublasOk = 0;
constexpr int kOpN = 0, kOpT = 1;                         // cublasOperation_t
constexpr int kDefaultMath = 0, kTf32TensorOpMath = 3;    // cublasMath_t
constexpr int kR32F = 0, kR16BF = 14;                     // cudaDataType_t
constexpr int kCompute32F = 68;                           // cublasComputeType_t CUBLAS_COMPUTE_32F
constexpr int kGemmDefault = -1;                          // cublasGemmAlgo_t

struct Cublas {
    cublasStatus_t (*create)(cublasHandle_t *);
    cublasStatus_t (*destroy)(cublasHandle_t);
    cublasStatus_t (*set_stream)(cublasHandle_t, cudaStream_t);
    cublasStatus_t (*set_math_mode)(cublasHandle_t, int);
    cublasStatus_t (*sgemm)(cublasHandle_t, int, int, int, int, int, const float *, const float *, int, const float *,
                            int, const float *, float *, int);
    cublasStatus_t (*gemm_ex)(cublasHandle_t, int, int, int, int, int, const void *, const void *, int, int,
                              const void *, int, int, const void *, void *, int, int, int, int);
};

#ifdef L4J_CUDA_EMU
// The emulated cuBLAS: column-major, argument checks as cuBLAS documents them, TF32 math rounding the inputs to
// TF32's 10-bit mantissa, GemmEx on bf16 inputs by widening them. Streams run in order here, so it runs at once.
struct cublasContext { int math = kDefaultMath; };
constexpr cublasStatus_t kCublasInvalidValue = 7;
cublasStatus_t emu_create(cublasHandle_t *h) { *h = new cublasContext(); return kCublasOk; }
cublasStatus_t emu_destroy(cublasHandle_t h) { delete h; return kCublasOk; }
cublasStatus_t emu_set_stream(cublasHandle_t, cudaStream_t) { return kCublasOk; }
cublasStatus_t emu_set_math_mode(cublasHandle_t h, int m) { h->math = m; return kCublasOk; }

float to_tf32(float f) {
    uint32_t u;
    std::memcpy(&u, &f, 4);
    if ((u & 0x7f800000u) != 0x7f800000u) u = (u + 0xfffu + ((u >> 13) & 1u)) & ~0x1fffu;  // nearest even
    std::memcpy(&f, &u, 4);
    return f;
}

// the elements a column-major rows x cols matrix with leading dimension ld spans
size_t extent(int rows, int cols, int ld) { return (size_t)ld * (size_t)(cols - 1) + (size_t)rows; }

std::vector<float> widen(const void *p, int type, size_t n, bool tf32) {
    std::vector<float> v(n);
    for (size_t i = 0; i < n; i++) {
        if (type == kR16BF) {
            const uint32_t u = (uint32_t)((const uint16_t *)p)[i] << 16;
            std::memcpy(&v[i], &u, 4);
        } else {
            v[i] = ((const float *)p)[i];
        }
        if (tf32) v[i] = to_tf32(v[i]);
    }
    return v;
}

cublasStatus_t emu_gemm_ex(cublasHandle_t h, int ta, int tb, int m, int n, int k, const void *alpha, const void *A,
                           int atype, int lda, const void *B, int btype, int ldb, const void *beta, void *C, int ctype,
                           int ldc, int compute, int algo) {
    const int arows = ta == kOpN ? m : k, brows = tb == kOpN ? k : n;
    if (m < 0 || n < 0 || k < 0 || lda < std::max(1, arows) || ldb < std::max(1, brows) || ldc < std::max(1, m) ||
        (ta != kOpN && ta != kOpT) || (tb != kOpN && tb != kOpT) || ctype != kR32F || compute != kCompute32F ||
        (atype != kR32F && atype != kR16BF) || (btype != kR32F && btype != kR16BF))
        return kCublasInvalidValue;
    if (m == 0 || n == 0) return kCublasOk;
    const float a = *(const float *)alpha, b = *(const float *)beta;
    float *c = (float *)C;
    if (k == 0) {  // C = beta C (beta 0 overwrites)
        for (int j = 0; j < n; j++)
            for (int i = 0; i < m; i++) c[(size_t)j * ldc + i] = b == 0.0f ? 0.0f : b * c[(size_t)j * ldc + i];
        return kCublasOk;
    }
    const bool tf32 = h->math == kTf32TensorOpMath && atype == kR32F && btype == kR32F;
    const bool copy_a = tf32 || atype != kR32F, copy_b = tf32 || btype != kR32F;
    std::vector<float> wa, wb;
    if (copy_a) wa = widen(A, atype, extent(arows, ta == kOpN ? k : m, lda), tf32);
    if (copy_b) wb = widen(B, btype, extent(brows, tb == kOpN ? n : k, ldb), tf32);
    cblas_sgemm(CblasColMajor, ta == kOpT ? CblasTrans : CblasNoTrans, tb == kOpT ? CblasTrans : CblasNoTrans, m, n, k,
                a, copy_a ? wa.data() : (const float *)A, lda, copy_b ? wb.data() : (const float *)B, ldb, b, c, ldc);
    return kCublasOk;
}

cublasStatus_t emu_sgemm(cublasHandle_t h, int ta, int tb, int m, int n, int k, const float *alpha, const float *A,
                         int lda, const float *B, int ldb, const float *beta, float *C, int ldc) {
    return emu_gemm_ex(h, ta, tb, m, n, k, alpha, A, kR32F, lda, B, kR32F, ldb, beta, C, kR32F, ldc, kCompute32F,
                       kGemmDefault);
}

bool load(Cublas &t, char *why, size_t len) {
    t = Cublas{emu_create, emu_destroy, emu_set_stream, emu_set_math_mode, emu_sgemm, emu_gemm_ex};
    return true;
}
#else
template <class F> bool bind(void *lib, const char *name, F &f) {
    f = (F)dlsym(lib, name);
    return f != nullptr;
}

bool load(Cublas &t, char *why, size_t len) {
    void *lib = nullptr;
    std::string tried;
    for (const char *name : {"libcublas.so.13", "libcublas.so.12", "libcublas.so"}) {
        if ((lib = dlopen(name, RTLD_NOW | RTLD_LOCAL))) break;
        const char *e = dlerror();
        tried += std::string(tried.empty() ? "" : "; ") + (e ? e : name);
    }
    if (!lib) {
        std::snprintf(why, len, "cuBLAS could not be loaded (libcublas.so.13, .12 or libcublas.so on the library path): %s", tried.c_str());
        return false;
    }
    const bool all = bind(lib, "cublasCreate_v2", t.create) && bind(lib, "cublasDestroy_v2", t.destroy) &&
                     bind(lib, "cublasSetStream_v2", t.set_stream) && bind(lib, "cublasSetMathMode", t.set_math_mode) &&
                     bind(lib, "cublasSgemm_v2", t.sgemm) && bind(lib, "cublasGemmEx", t.gemm_ex);
    if (!all) {
        std::snprintf(why, len, "the cuBLAS library found lacks a function lens4j needs: %s", dlerror());
        dlclose(lib);
        return false;
    }
    return true;
}
#endif

// One handle per device, created on first use and kept for the process; calls are serialised because a handle's
// stream and math mode are set per call (the products themselves stay asynchronous on their streams).
constexpr int kMaxDevices = 64;
std::mutex g_mutex;
Cublas g_cublas;
int g_loaded = 0;  // 0 not tried, 1 loaded, -1 failed (g_why says why)
char g_why[400];
cublasHandle_t g_handles[kMaxDevices];
int g_math[kMaxDevices];
std::atomic<int> g_tf32{0};

int cublas_failed(cublasStatus_t s, const char *what) {
    char buf[160];
    std::snprintf(buf, sizeof buf, "%s failed: cuBLAS status %d", what, s);
    return l4jc_record_text(L4J_ERR_DEVICE, buf);
}

// Under the lock: the current device's handle, set to `stream` and the wanted math mode.
int handle_for(void *stream, cublasHandle_t *out) {
    if (g_loaded == 0) g_loaded = load(g_cublas, g_why, sizeof g_why) ? 1 : -1;
    if (g_loaded < 0) return l4jc_record_text(L4J_ERR_DEVICE, g_why);
    int dev = 0;
    if (int s = l4jc_record(cudaGetDevice(&dev), "cudaGetDevice")) return s;
    if (dev < 0 || dev >= kMaxDevices) return l4jc_record_text(L4J_ERR_DEVICE, "cuBLAS: device index out of range");
    if (!g_handles[dev]) {
        if (cublasStatus_t s = g_cublas.create(&g_handles[dev])) { g_handles[dev] = nullptr; return cublas_failed(s, "cublasCreate"); }
        g_math[dev] = kDefaultMath;
    }
    cublasHandle_t h = g_handles[dev];
    if (cublasStatus_t s = g_cublas.set_stream(h, L4JC_STREAM(stream))) return cublas_failed(s, "cublasSetStream");
    const int math = g_tf32.load() ? kTf32TensorOpMath : kDefaultMath;
    if (g_math[dev] != math) {
        if (cublasStatus_t s = g_cublas.set_math_mode(h, math)) return cublas_failed(s, "cublasSetMathMode");
        g_math[dev] = math;
    }
    *out = h;
    return L4J_OK;
}

__global__ void scale_bias_kernel(int64_t M, int64_t N, float beta, const float *bias, float *C, int64_t ldc) {
    for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < M * N; e += (int64_t)gridDim.x * blockDim.x) {
        const int64_t i = e / N, j = e % N;
        float *c = C + i * ldc + j;
        if (bias) *c = beta == 0.0f ? bias[j] : beta * *c + bias[j];
        else *c = beta == 0.0f ? 0.0f : beta * *c;
    }
}
}  // namespace

int l4jc_gemm_prologue(int64_t M, int64_t N, int64_t K, float *beta, const float *bias, float *C, int64_t ldc,
                       void *stream, bool *done) {
    *done = K == 0;
    if (!bias && K > 0) return L4J_OK;  // cuBLAS applies beta itself
    if (!bias && *beta == 1.0f) return L4J_OK;
    L4J_LAUNCH(scale_bias_kernel, l4jc_blocks(M * N, 256), 256, 0, stream, M, N, *beta, bias, C, ldc);
    *beta = 1.0f;
    return L4JC_LAUNCHED("gemm bias");
}

int l4jc_cublas_gemm(int transA, int transB, int64_t M, int64_t N, int64_t K, float alpha, const void *A, int a_bf16,
                     int64_t lda, const void *B, int b_bf16, int64_t ldb, float beta, float *C, int64_t ldc, void *stream) {
    std::lock_guard<std::mutex> g(g_mutex);
    cublasHandle_t h = nullptr;
    if (int s = handle_for(stream, &h)) return s;
    // column-major C^T[N,M] = op(B)^T [N,K] op(A)^T [K,M]: B's row-major storage is op(B)^T's column-major one
    const int opB = transB ? kOpT : kOpN, opA = transA ? kOpT : kOpN;
    cublasStatus_t s;
    if (!a_bf16 && !b_bf16)
        s = g_cublas.sgemm(h, opB, opA, (int)N, (int)M, (int)K, &alpha, (const float *)B, (int)ldb, (const float *)A,
                           (int)lda, &beta, C, (int)ldc);
    else
        s = g_cublas.gemm_ex(h, opB, opA, (int)N, (int)M, (int)K, &alpha, B, b_bf16 ? kR16BF : kR32F, (int)ldb, A,
                             a_bf16 ? kR16BF : kR32F, (int)lda, &beta, C, kR32F, (int)ldc, kCompute32F, kGemmDefault);
    if (s != kCublasOk) return cublas_failed(s, a_bf16 || b_bf16 ? "cublasGemmEx" : "cublasSgemm");
    return L4JC_LAUNCHED("cuBLAS gemm");
}

extern "C" int l4jc_set_tf32(int on) {
    g_tf32.store(on ? 1 : 0);
    return L4J_OK;
}

extern "C" int l4jc_gemm(int transA, int transB, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                         int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc, const float *bias,
                         void *stream) {
    L4JC_CHECK(M >= 0 && N >= 0 && K >= 0 && C && (K == 0 || (A && B)));
    L4JC_CHECK(ldc >= N && lda >= (transA ? M : K) && ldb >= (transB ? K : N));
    L4JC_CHECK(l4jc_fits_int(M, N, K, lda, ldb, ldc));
    if (M == 0 || N == 0) return L4J_OK;
    bool done;
    if (int s = l4jc_gemm_prologue(M, N, K, &beta, bias, C, ldc, stream, &done)) return s;
    if (done) return L4J_OK;
    return l4jc_cublas_gemm(transA, transB, M, N, K, alpha, A, 0, lda, B, 0, ldb, beta, C, ldc, stream);
}

// l4j_gemm_grouped's twin: one cuBLAS product per group of B's columns (a model's heads: few), each writing its
// columns of C. `path` chooses between CPU kernels; here it is checked and otherwise ignored.
extern "C" int l4jc_gemm_grouped(int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t lda,
                                 const float *B, int64_t ldb, int64_t group, int64_t groupStride, float beta, float *C,
                                 int64_t ldc, const float *bias, int path, void *stream) {
    L4JC_CHECK(M >= 0 && N >= 0 && K >= 0 && C && (K == 0 || (A && B)) && group > 0 && N % group == 0);
    L4JC_CHECK(ldc >= N && lda >= K && ldb >= group && groupStride >= 0 && path >= 0 && path <= 2);
    for (int64_t g = 0; g < N / group; g++)
        if (int s = l4jc_gemm(0, 0, M, group, K, alpha, A, lda, K == 0 ? B : B + g * groupStride, ldb, beta, C + g * group,
                              ldc, bias ? bias + g * group : nullptr, stream))
            return s;
    return L4J_OK;
}
