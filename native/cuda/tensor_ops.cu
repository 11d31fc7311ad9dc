// General tensor operations on the GPU (the twin of cpu/tensor_ops.cpp, contracts in lens4j_ops.h): strided gathers,
// broadcast arithmetic, reductions along a dimension, top-k, softmax along a dimension, cosine similarity.
//
// A reduction along n of x [outer, n, inner] is done by a "team" per output: a warp when inner == 1 (the reduced
// dimension is contiguous, so the warp's loads are coalesced; lanes combine by a fixed butterfly of shuffles), else
// one thread (neighbouring threads own neighbouring columns, so their loads are coalesced). A one-thread team adds in
// the CPU's order; a warp team's double sums differ from it only in the last bits of the double.
#include "l4jc.cuh"
#include "../cpu/binary_op.h"

namespace {
constexpr int kThreads = 256;

// shapes and strides travel by value as kernel parameters (the host arrays are not device memory)
struct Dims { int ndim; int64_t shape[L4J_OPS_MAX_DIMS]; };
struct Strides { int64_t s[L4J_OPS_MAX_DIMS]; };

bool dims_ok(int ndim, const int64_t *shape) {
    if (ndim < 0 || ndim > L4J_OPS_MAX_DIMS || (ndim > 0 && !shape)) return false;
    for (int d = 0; d < ndim; d++) if (shape[d] < 0) return false;
    return true;
}
Dims make_dims(int ndim, const int64_t *shape) {
    Dims d{ndim, {}};
    for (int i = 0; i < ndim; i++) d.shape[i] = shape[i];
    return d;
}
Strides make_strides(int ndim, const int64_t *s) {
    Strides t{};
    for (int i = 0; i < ndim; i++) t.s[i] = s[i];
    return t;
}
int64_t count(const Dims &d) {
    int64_t n = 1;
    for (int i = 0; i < d.ndim; i++) n *= d.shape[i];
    return n;
}

// source offset of the flat output index i
__device__ __forceinline__ int64_t offset_of(int64_t i, const Dims &d, const Strides &st) {
    int64_t off = 0;
    for (int k = d.ndim - 1; k >= 0; k--) {
        off += (i % d.shape[k]) * st.s[k];
        i /= d.shape[k];
    }
    return off;
}

__global__ void strided_copy_kernel(int64_t n, Dims d, Strides st, int64_t offset, const float *src, float *out) {
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
        out[i] = src[offset + offset_of(i, d, st)];
}

__global__ void index_select_kernel(int64_t outer, int64_t n, int64_t inner, const float *src, int64_t k,
                                    const int32_t *idx, float *out) {
    for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < outer * k * inner; e += (int64_t)gridDim.x * blockDim.x) {
        const int64_t i = e % inner, j = (e / inner) % k, o = e / (inner * k);
        const int64_t t = idx[j];
        if (t >= 0 && t < n) out[e] = src[(o * n + t) * inner + i];  // Java validated idx: never read out of bounds
    }
}

__global__ void binary_kernel(int op, int64_t n, Dims d, const float *a, Strides sa, const float *b, Strides sb, float *out) {
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
        out[i] = l4j_binary_op(op, a[offset_of(i, d, sa)], b[offset_of(i, d, sb)]);
}

__global__ void unary_kernel(int op, int64_t n, const float *x, float *out) {
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
        const float v = x[i];
        switch (op) {
            case L4J_UN_NEG: out[i] = -v; break;
            case L4J_UN_EXP: out[i] = expf(v); break;
            case L4J_UN_LOG: out[i] = logf(v); break;
            case L4J_UN_ABS: out[i] = fabsf(v); break;
            case L4J_UN_SQRT: out[i] = sqrtf(v); break;
            default: out[i] = v * v;
        }
    }
}

// The team owning output oi of a reduction: lanes 0..size-1, outputs visited in a grid-stride loop that is uniform
// across a warp team (every lane of the warp takes the same outputs, so shuffles see the whole warp).
struct Team {
    int size, lane;
    int64_t first, step;
    __device__ explicit Team(bool warp) {
        size = warp ? 32 : 1;
        lane = warp ? (int)(threadIdx.x & 31) : 0;
        const int64_t gid = blockIdx.x * (int64_t)blockDim.x + threadIdx.x;
        first = gid / size;
        step = (int64_t)gridDim.x * blockDim.x / size;
    }
};

// combines the lanes' values by a butterfly (every lane gets the same result); a one-thread team has nothing to do
template <class T, class F> __device__ __forceinline__ T team_reduce(const Team &t, T v, F combine) {
    if (t.size == 1) return v;
    for (int o = 16; o > 0; o >>= 1) v = combine(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

__global__ void reduce_kernel(int op, int64_t outer, int64_t n, int64_t inner, const float *x, float *out, bool warp) {
    const Team t(warp);
    for (int64_t oi = t.first; oi < outer * inner; oi += t.step) {
        const float *p = x + (oi / inner) * n * inner + oi % inner;
        double r;
        if (op == L4J_RED_MAX || op == L4J_RED_MIN) {  // n >= 1 here
            const int bop = op == L4J_RED_MAX ? L4J_BIN_MAX : L4J_BIN_MIN;
            r = p[0];  // a lane with no element of its own keeps p[0]: max / min do not mind a repeat
            for (int64_t j = t.lane; j < n; j += t.size) r = l4j_binary_op(bop, r, (double)p[j * inner]);
            r = team_reduce(t, r, [bop](double a, double b) { return l4j_binary_op(bop, a, b); });
        } else {
            r = 0;
            for (int64_t j = t.lane; j < n; j += t.size) {
                const double v = p[j * inner];
                r += op == L4J_RED_NORM2 ? v * v : v;
            }
            r = team_reduce(t, r, [](double a, double b) { return a + b; });
            if (op == L4J_RED_MEAN) r /= (double)n;
            if (op == L4J_RED_NORM2) r = sqrt(r);
        }
        if (t.lane == 0) out[oi] = (float)r;
    }
}

// A candidate of arg_reduce / topk: value and index (-1: none yet).
struct Pick { float v; int32_t i; };
__device__ __forceinline__ Pick shfl_xor(Pick p, int o) {
    return Pick{__shfl_xor_sync(0xffffffffu, p.v, o), __shfl_xor_sync(0xffffffffu, p.i, o)};
}
// a ranks before b: NaN first (as the largest), then the larger (want_max) or smaller value, then the lower index;
// a total order, so the butterfly's lanes all agree
__device__ __forceinline__ bool ranks_before(Pick a, Pick b, bool want_max) {
    if (a.i < 0 || b.i < 0) return b.i < 0 && a.i >= 0;
    const bool na = a.v != a.v, nb = b.v != b.v;
    if (na != nb) return na;
    if (!na && a.v != b.v) return want_max ? a.v > b.v : a.v < b.v;
    return a.i < b.i;
}
__device__ __forceinline__ Pick team_best(const Team &t, Pick p, bool want_max) {
    if (t.size == 1) return p;
    for (int o = 16; o > 0; o >>= 1) {
        const Pick q = shfl_xor(p, o);
        if (ranks_before(q, p, want_max)) p = q;
    }
    return p;
}

__global__ void arg_reduce_kernel(bool want_max, int64_t outer, int64_t n, int64_t inner, const float *x, int32_t *out, bool warp) {
    const Team t(warp);
    for (int64_t oi = t.first; oi < outer * inner; oi += t.step) {
        const float *p = x + (oi / inner) * n * inner + oi % inner;
        Pick best{0.0f, -1};
        for (int64_t j = t.lane; j < n; j += t.size) {
            const Pick c{p[j * inner], (int32_t)j};
            if (ranks_before(c, best, want_max)) best = c;
        }
        best = team_best(t, best, want_max);
        if (t.lane == 0) out[oi] = best.i;
    }
}

// k rounds per output: round r picks the best element ranking after round r-1's pick (a total order, so no element
// is picked twice and none is skipped). No scratch memory; O(k n / 32) per output, meant for k much smaller than n.
__global__ void topk_kernel(int64_t outer, int64_t n, int64_t inner, int64_t k, const float *x, float *values,
                            int32_t *indices) {
    const Team t(true);
    for (int64_t oi = t.first; oi < outer * inner; oi += t.step) {
        const int64_t o = oi / inner, i = oi % inner;
        const float *p = x + o * n * inner + i;
        Pick prev{0.0f, -1};
        for (int64_t r = 0; r < k; r++) {
            Pick best{0.0f, -1};
            for (int64_t j = t.lane; j < n; j += t.size) {
                const Pick c{p[j * inner], (int32_t)j};
                if ((prev.i < 0 || ranks_before(prev, c, true)) && ranks_before(c, best, true)) best = c;
            }
            best = team_best(t, best, true);
            if (t.lane == 0) {
                values[(o * k + r) * inner + i] = best.v;
                indices[(o * k + r) * inner + i] = best.i;
            }
            prev = best;
        }
    }
}

__global__ void softmax_dim_kernel(bool log, int64_t outer, int64_t n, int64_t inner, const float *x, float *out, bool warp) {
    const Team t(warp);
    for (int64_t oi = t.first; oi < outer * inner; oi += t.step) {
        const int64_t base = (oi / inner) * n * inner + oi % inner;
        // std::max's semantics, as the CPU: a NaN never becomes the maximum
        float m = -INFINITY;
        for (int64_t j = t.lane; j < n; j += t.size) { const float v = x[base + j * inner]; m = m < v ? v : m; }
        m = team_reduce(t, m, [](float a, float b) { return a < b ? b : a; });
        double z = 0;
        for (int64_t j = t.lane; j < n; j += t.size) z += exp((double)x[base + j * inner] - m);
        z = team_reduce(t, z, [](double a, double b) { return a + b; });
        const double lz = ::log(z);
        for (int64_t j = t.lane; j < n; j += t.size) {
            const double v = (double)x[base + j * inner] - m;
            out[base + j * inner] = (float)(log ? v - lz : exp(v - lz));
        }
    }
}

__global__ void cosine_dim_kernel(int64_t outer, int64_t n, int64_t inner, const float *a, const float *b, float eps,
                                  float *out, bool warp) {
    const Team t(warp);
    const auto add = [](double u, double v) { return u + v; };
    for (int64_t oi = t.first; oi < outer * inner; oi += t.step) {
        const int64_t base = (oi / inner) * n * inner + oi % inner;
        double ab = 0, aa = 0, bb = 0;
        for (int64_t j = t.lane; j < n; j += t.size) {
            const double u = a[base + j * inner], v = b[base + j * inner];
            ab += u * v; aa += u * u; bb += v * v;
        }
        ab = team_reduce(t, ab, add);
        aa = team_reduce(t, aa, add);
        bb = team_reduce(t, bb, add);
        const double na = sqrt(aa), nb = sqrt(bb), e = eps;
        if (t.lane == 0) out[oi] = (float)(ab / ((na < e ? e : na) * (nb < e ? e : nb)));  // std::max, as the CPU
    }
}

// threads for a reduction over `outputs` outputs: a warp each when inner == 1, else one each
unsigned team_blocks(int64_t outputs, bool warp) { return l4jc_blocks(outputs * (warp ? 32 : 1), kThreads); }
}  // namespace

extern "C" int l4jc_strided_copy(int ndim, const int64_t *shape, const int64_t *strides, int64_t offset,
                                 const float *src, float *out, void *stream) {
    L4JC_CHECK(dims_ok(ndim, shape) && (ndim == 0 || strides) && offset >= 0);
    const Dims d = make_dims(ndim, shape);
    const int64_t n = count(d);
    if (n == 0) return L4J_OK;
    L4JC_CHECK(src && out);
    for (int i = 0; i < ndim; i++) L4JC_CHECK(strides[i] >= 0);
    L4J_LAUNCH(strided_copy_kernel, l4jc_blocks(n, kThreads), kThreads, 0, stream, n, d, make_strides(ndim, strides), offset, src, out);
    return L4JC_LAUNCHED("strided_copy");
}

// The CPU returns L4J_ERR_RANGE for an index outside [0, n); the device cannot see idx without a sync, so Java
// validates it first and the kernel skips (leaves unwritten) any bad index rather than read out of bounds.
extern "C" int l4jc_index_select(int64_t outer, int64_t n, int64_t inner, const float *src, int64_t k,
                                 const int32_t *idx, float *out, void *stream) {
    L4JC_CHECK(outer >= 0 && n >= 0 && inner >= 0 && k >= 0);
    if (outer == 0 || inner == 0 || k == 0) return L4J_OK;
    L4JC_CHECK(src && idx && out);
    L4J_LAUNCH(index_select_kernel, l4jc_blocks(outer * k * inner, kThreads), kThreads, 0, stream, outer, n, inner, src, k, idx, out);
    return L4JC_LAUNCHED("index_select");
}

extern "C" int l4jc_binary(int op, int ndim, const int64_t *shape, const float *a, const int64_t *a_strides,
                           const float *b, const int64_t *b_strides, float *out, void *stream) {
    L4JC_CHECK(op >= L4J_BIN_ADD && op <= L4J_BIN_MIN && dims_ok(ndim, shape) && (ndim == 0 || (a_strides && b_strides)));
    const Dims d = make_dims(ndim, shape);
    const int64_t n = count(d);
    if (n == 0) return L4J_OK;
    L4JC_CHECK(a && b && out);
    L4J_LAUNCH(binary_kernel, l4jc_blocks(n, kThreads), kThreads, 0, stream, op, n, d, a, make_strides(ndim, a_strides), b,
               make_strides(ndim, b_strides), out);
    return L4JC_LAUNCHED("binary");
}

extern "C" int l4jc_unary(int op, int64_t n, const float *x, float *out, void *stream) {
    L4JC_CHECK(op >= L4J_UN_NEG && op <= L4J_UN_SQUARE && n >= 0);
    if (n == 0) return L4J_OK;
    L4JC_CHECK(x && out);
    L4J_LAUNCH(unary_kernel, l4jc_blocks(n, kThreads), kThreads, 0, stream, op, n, x, out);
    return L4JC_LAUNCHED("unary");
}

extern "C" int l4jc_reduce(int op, int64_t outer, int64_t n, int64_t inner, const float *x, float *out, void *stream) {
    L4JC_CHECK(op >= L4J_RED_SUM && op <= L4J_RED_NORM2 && outer >= 0 && n >= 0 && inner >= 0);
    if ((op == L4J_RED_MAX || op == L4J_RED_MIN) && n == 0 && outer * inner > 0) return L4J_ERR_ARG;  // no identity
    if (outer * inner == 0) return L4J_OK;
    L4JC_CHECK(out && (n == 0 || x));
    const bool warp = inner == 1;
    L4J_LAUNCH(reduce_kernel, team_blocks(outer * inner, warp), kThreads, 0, stream, op, outer, n, inner, x, out, warp);
    return L4JC_LAUNCHED("reduce");
}

extern "C" int l4jc_arg_reduce(int want_max, int64_t outer, int64_t n, int64_t inner, const float *x, int32_t *out, void *stream) {
    L4JC_CHECK(outer >= 0 && n > 0 && n <= INT32_MAX && inner >= 0);
    if (outer * inner == 0) return L4J_OK;
    L4JC_CHECK(x && out);
    const bool warp = inner == 1;
    L4J_LAUNCH(arg_reduce_kernel, team_blocks(outer * inner, warp), kThreads, 0, stream, want_max != 0, outer, n, inner, x, out, warp);
    return L4JC_LAUNCHED("arg_reduce");
}

extern "C" int l4jc_topk(int64_t outer, int64_t n, int64_t inner, int64_t k, const float *x, float *values,
                         int32_t *indices, void *stream) {
    L4JC_CHECK(outer >= 0 && n >= 0 && n <= INT32_MAX && inner >= 0 && k >= 0 && k <= n);
    if (outer * inner == 0 || k == 0) return L4J_OK;
    L4JC_CHECK(x && values && indices);
    L4J_LAUNCH(topk_kernel, team_blocks(outer * inner, true), kThreads, 0, stream, outer, n, inner, k, x, values, indices);
    return L4JC_LAUNCHED("topk");
}

extern "C" int l4jc_softmax_dim(int log, int64_t outer, int64_t n, int64_t inner, const float *x, float *out, void *stream) {
    L4JC_CHECK(outer >= 0 && n >= 0 && inner >= 0);
    if (outer * n * inner == 0) return L4J_OK;
    L4JC_CHECK(x && out);
    const bool warp = inner == 1;
    L4J_LAUNCH(softmax_dim_kernel, team_blocks(outer * inner, warp), kThreads, 0, stream, log != 0, outer, n, inner, x, out, warp);
    return L4JC_LAUNCHED("softmax_dim");
}

extern "C" int l4jc_cosine_dim(int64_t outer, int64_t n, int64_t inner, const float *a, const float *b, float eps,
                               float *out, void *stream) {
    L4JC_CHECK(outer >= 0 && n >= 0 && inner >= 0 && eps >= 0);
    if (outer * inner == 0) return L4J_OK;
    L4JC_CHECK(out && (n == 0 || (a && b)));
    const bool warp = inner == 1;
    L4J_LAUNCH(cosine_dim_kernel, team_blocks(outer * inner, warp), kThreads, 0, stream, outer, n, inner, a, b, eps, out, warp);
    return L4JC_LAUNCHED("cosine_dim");
}
