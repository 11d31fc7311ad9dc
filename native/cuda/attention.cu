// Attention on the GPU: the CUDA twins of native/cpu/attention.cpp (contracts in lens4j.h).
//
// Fused attention without scores or pattern requested is flash-style (flash_kernel): a block owns 64 query rows of
// one (batch, head), walks the 64-key tiles its rows can see (tiles above the causal diagonal, before the sliding
// window or outside key_range are never loaded), keeps a running max and sum per row and rescales its z accumulator
// in registers, so the seq x seq matrix never exists. With scores or pattern requested the split path runs: the
// scores GEMM (qk_kernel), a row softmax, then pattern @ v (pv_kernel). Those GEMMs, and the backward's transposed
// one (ptx_kernel), are 64 x 64 output tiles of 128 threads, each thread a 4 x 8 sub-tile, the reduction dimension
// staged through shared memory in chunks of 32 with loads coalesced along the contiguous dimension.
//
// key_range lives on the device, so its values cannot be checked here without a host sync: the kernels clamp it to
// [0, k_len] (never reading or writing out of bounds); Java validates the ranges before they reach the device.
#include "attention.cuh"

// full unrolling keeps the per-thread tiles in registers (g++ ignores the CUDA pragma)
#ifdef L4J_CUDA_EMU
#define UNROLL
#else
#define UNROLL _Pragma("unroll")
#endif

namespace {
constexpr int T = 64;    // tile rows and columns
constexpr int KC = 32;   // reduction chunk staged in shared memory
constexpr int NT = 128;  // threads per block: tx = t % 8, ty = t / 8; a thread owns rows ty + 16 r, columns tx + 8 c

__device__ __forceinline__ int64_t imin(int64_t a, int64_t b) { return a < b ? a : b; }
__device__ __forceinline__ int64_t imax(int64_t a, int64_t b) { return a > b ? a : b; }

// valid keys [ks, ke) of batch row b, clamped to [0, k_len]
__device__ __forceinline__ void key_bounds(const AttnShape &s, const AttnMask &m, int64_t b, int64_t &ks, int64_t &ke) {
    ks = 0;
    ke = s.k_len;
    if (m.on && m.key_range) {
        ks = imin(imax(m.key_range[2 * b], 0), s.k_len);
        ke = imin(imax(m.key_range[2 * b + 1], 0), s.k_len);
    }
}

// keys [lo, hi) query i sees (hi <= lo: none), as the CPU's visible(): causal at position k_len - q_len + i, the
// window, the row's valid keys. lo and hi never decrease with i, so a tile's first and last rows bound it.
__device__ __forceinline__ void visible(const AttnShape &s, const AttnMask &m, int64_t ks, int64_t ke, int64_t i,
                                        int64_t &lo, int64_t &hi) {
    if (!m.on) {
        lo = 0;
        hi = s.k_len;
        return;
    }
    const int64_t a = s.k_len - s.q_len + i;
    lo = imax(m.window > 0 ? a - m.window + 1 : 0, ks);
    hi = imin(a + 1, ke);
}

// acc[r][j] += sum over c < KC of A(ty + 16 r, c) B(c, tx + 8 j), from shared memory: A(x, c) = a[x AX + c AC],
// B(c, y) = b[c BC + y BY] (the strides say which way each staged tile lies)
template <int AX, int AC, int BC, int BY>
__device__ __forceinline__ void fma_tile(const float *a, const float *b, float acc[4][8]) {
    const int tx = threadIdx.x & 7, ty = threadIdx.x >> 3;
    for (int c = 0; c < KC; c++) {
        float av[4], bv[8];
        UNROLL
        for (int r = 0; r < 4; r++) av[r] = a[(ty + 16 * r) * AX + c * AC];
        UNROLL
        for (int j = 0; j < 8; j++) bv[j] = b[c * BC + (tx + 8 * j) * BY];
        UNROLL
        for (int r = 0; r < 4; r++)
            UNROLL
            for (int j = 0; j < 8; j++) acc[r][j] = fmaf(av[r], bv[j], acc[r][j]);
    }
}

// out[x ld + y] = scale * acc for the thread's rows x = x0 + ty + 16 r < x1 and columns y = y0 + tx + 8 j < y1
__device__ __forceinline__ void store_tile(float *out, int64_t ld, int64_t x0, int64_t x1, int64_t y0, int64_t y1,
                                           float scale, const float acc[4][8]) {
    const int tx = threadIdx.x & 7, ty = threadIdx.x >> 3;
    UNROLL
    for (int r = 0; r < 4; r++) {
        const int64_t x = x0 + ty + 16 * r;
        if (x >= x1) continue;
        UNROLL
        for (int j = 0; j < 8; j++) {
            const int64_t y = y0 + tx + 8 * j;
            if (y < y1) out[x * ld + y] = scale * acc[r][j];
        }
    }
}

// acc[r][c] += A[ty + 16 r] . B[tx + 8 c] over d features, A and B row-major tiles of up to 64 rows (a_rows, b_rows
// valid; the rest read as 0). Called by the whole block; ends with a barrier, so as / bs may be refilled at once.
__device__ __forceinline__ void tile_dot(const float *A, int64_t lda, int64_t a_rows, const float *B, int64_t ldb,
                                         int64_t b_rows, int64_t d, float (*as)[KC + 1], float (*bs)[KC + 1],
                                         float acc[4][8]) {
    const int t = threadIdx.x;
    for (int64_t d0 = 0; d0 < d; d0 += KC) {
        for (int e = t; e < T * KC; e += NT) {
            const int r = e / KC, c = e % KC;
            const bool in = d0 + c < d;
            as[r][c] = in && r < a_rows ? A[r * lda + d0 + c] : 0.0f;
            bs[r][c] = in && r < b_rows ? B[r * ldb + d0 + c] : 0.0f;
        }
        __syncthreads();
        fma_tile<KC + 1, 1, 1, KC + 1>(&as[0][0], &bs[0][0], acc);
        __syncthreads();
    }
}

__device__ __forceinline__ float cap_score(float x, float softcap) {
    return softcap > 0.0f ? softcap * tanhf(x * (1.0f / softcap)) : x;
}

// one block per (b, h, 64-query tile, 64-key tile); tiles the mask hides entirely skip the GEMM
__global__ void __launch_bounds__(NT) qk_kernel(AttnShape s, AttnMask m, const float *rows, const float *keys,
                                                float scale, float softcap, float *out) {
    __shared__ float as[T][KC + 1], bs[T][KC + 1];
    const int t = threadIdx.x, tx = t & 7, ty = t >> 3;
    const int64_t ntk = (s.k_len + T - 1) / T, ntq = (s.q_len + T - 1) / T, x = blockIdx.x;
    const int64_t tk = x % ntk, tq = x / ntk % ntq, bh = x / (ntk * ntq);
    const int64_t b = bh / s.n_heads, h = bh % s.n_heads, kh = h / (s.n_heads / s.n_kv_heads), D = s.d_head;
    const int64_t i0 = tq * T, i1 = imin(i0 + T, s.q_len), j0 = tk * T, j1 = imin(j0 + T, s.k_len);
    int64_t ks, ke, lo, hi, lo_last, hi_last;
    key_bounds(s, m, b, ks, ke);
    visible(s, m, ks, ke, i0, lo, hi);
    visible(s, m, ks, ke, i1 - 1, lo_last, hi_last);
    float acc[4][8] = {};
    if (lo < j1 && hi_last > j0 && lo < hi_last)  // the same for the whole block
        tile_dot(rows + ((b * s.q_len + i0) * s.n_heads + h) * D, s.n_heads * D, i1 - i0,
                 keys + ((b * s.k_len + j0) * s.n_kv_heads + kh) * D, s.n_kv_heads * D, j1 - j0, D, as, bs, acc);
    UNROLL
    for (int r = 0; r < 4; r++) {
        const int64_t i = i0 + ty + 16 * r;
        if (i >= i1) continue;
        visible(s, m, ks, ke, i, lo, hi);
        float *o = out + (bh * s.q_len + i) * s.k_len;
        UNROLL
        for (int c = 0; c < 8; c++) {
            const int64_t j = j0 + tx + 8 * c;
            if (j < j1) o[j] = j >= lo && j < hi ? cap_score(scale * acc[r][c], softcap) : -INFINITY;
        }
    }
}

// one block per (b, h, 64-query tile, 64-feature tile): out = scale * sq @ keys over the keys the tile can see
__global__ void __launch_bounds__(NT) pv_kernel(AttnShape s, AttnMask m, const float *sq, const float *keys,
                                                float scale, float *out) {
    __shared__ float ps[T][KC + 1];  // sq: query rows x a chunk of keys
    __shared__ float vs[KC][T];      // keys: a chunk of keys x features
    const int t = threadIdx.x;
    const int64_t D = s.d_head, ntd = (D + T - 1) / T, ntq = (s.q_len + T - 1) / T, x = blockIdx.x;
    const int64_t td = x % ntd, tq = x / ntd % ntq, bh = x / (ntd * ntq);
    const int64_t b = bh / s.n_heads, h = bh % s.n_heads, kh = h / (s.n_heads / s.n_kv_heads);
    const int64_t i0 = tq * T, i1 = imin(i0 + T, s.q_len), d0 = td * T, ldk = s.n_kv_heads * D;
    const float *kb = keys + (b * s.k_len * s.n_kv_heads + kh) * D;
    int64_t ks, ke, lo, hi, lo_last, hi_last;
    key_bounds(s, m, b, ks, ke);
    visible(s, m, ks, ke, i0, lo, hi);
    visible(s, m, ks, ke, i1 - 1, lo_last, hi_last);
    float acc[4][8] = {};
    for (int64_t j0 = lo / KC * KC; j0 < hi_last; j0 += KC) {
        for (int e = t; e < T * KC; e += NT) {
            const int r = e / KC, c = e % KC;
            const int64_t i = i0 + r, j = j0 + c;
            float val = 0.0f;
            if (i < i1 && j < s.k_len) {
                int64_t lo_i, hi_i;
                visible(s, m, ks, ke, i, lo_i, hi_i);
                if (j >= lo_i && j < hi_i) val = sq[(bh * s.q_len + i) * s.k_len + j];
            }
            ps[r][c] = val;
        }
        for (int e = t; e < KC * T; e += NT) {
            const int r = e / T, c = e % T;
            const int64_t j = j0 + r, d = d0 + c;
            vs[r][c] = j < s.k_len && d < D ? kb[j * ldk + d] : 0.0f;
        }
        __syncthreads();
        fma_tile<KC + 1, 1, T, 1>(&ps[0][0], &vs[0][0], acc);
        __syncthreads();
    }
    store_tile(out + (b * s.q_len * s.n_heads + h) * D, s.n_heads * D, i0, i1, d0, D, scale, acc);
}

// one block per (b, kv head, 64-key tile, 64-feature tile): out = scale * sum over the group's heads (in order) of
// sq^T @ rows over the queries that can see the tile's keys. One thread per output: deterministic.
__global__ void __launch_bounds__(NT) ptx_kernel(AttnShape s, AttnMask m, const float *sq, const float *rows,
                                                 float scale, float *out) {
    __shared__ float ps[KC][T + 1];  // sq: a chunk of queries x keys
    __shared__ float xs[KC][T];      // rows: a chunk of queries x features
    const int t = threadIdx.x;
    const int64_t D = s.d_head, ntd = (D + T - 1) / T, ntk = (s.k_len + T - 1) / T, x = blockIdx.x;
    const int64_t td = x % ntd, tk = x / ntd % ntk, bk = x / (ntd * ntk);
    const int64_t b = bk / s.n_kv_heads, kh = bk % s.n_kv_heads, group = s.n_heads / s.n_kv_heads;
    const int64_t j0 = tk * T, j1 = imin(j0 + T, s.k_len), d0 = td * T, ldq = s.n_heads * D, off = s.k_len - s.q_len;
    int64_t ks, ke, lo, hi, i_begin = 0, i_end = s.q_len;
    key_bounds(s, m, b, ks, ke);
    if (m.on) {  // queries at positions >= j0 and, with a window, before j1 + window - 1; none if no key is valid
        i_begin = imax(j0 - off, 0);
        if (m.window > 0) i_end = imin(i_end, j1 + m.window - 1 - off);
        if (ke <= j0 || ks >= j1) i_end = i_begin;
    }
    float acc[4][8] = {};
    for (int64_t hh = 0; hh < group; hh++) {
        const int64_t h = kh * group + hh;
        const float *sqh = sq + (b * s.n_heads + h) * s.q_len * s.k_len;
        const float *xh = rows + (b * s.q_len * s.n_heads + h) * D;
        for (int64_t i0 = i_begin; i0 < i_end; i0 += KC) {
            for (int e = t; e < KC * T; e += NT) {
                const int r = e / T, c = e % T;
                const int64_t i = i0 + r, j = j0 + c;
                float val = 0.0f;
                if (i < i_end && j < j1) {
                    visible(s, m, ks, ke, i, lo, hi);
                    if (j >= lo && j < hi) val = sqh[i * s.k_len + j];
                }
                ps[r][c] = val;
                const int64_t d = d0 + c;
                xs[r][c] = i < i_end && d < D ? xh[i * ldq + d] : 0.0f;
            }
            __syncthreads();
            fma_tile<1, T + 1, T, 1>(&ps[0][0], &xs[0][0], acc);
            __syncthreads();
        }
    }
    store_tile(out + (b * s.k_len * s.n_kv_heads + kh) * D, s.n_kv_heads * D, j0, j1, d0, D, scale, acc);
}

// Flash attention: one block per (b, h, 64-query tile) and slice of MAXD features of z (d_head > 256 takes several
// slices, each recomputing the scores). Per visible 64-key tile: scores in registers, the online softmax (running
// max m and sum l per row, the accumulator rescaled by exp(m_old - m_new)), p staged in shared memory, z += p v.
template <int MAXD>
__global__ void __launch_bounds__(NT) flash_kernel(AttnShape s, AttnMask m, const float *q, const float *k,
                                                   const float *v, float scale, float softcap, float *z) {
    constexpr int NJ = MAXD / 8, VK = MAXD <= 128 ? 16 : 8;  // shared memory stays under the 48 KiB static limit
    __shared__ float as[T][KC + 1], bs[T][KC + 1], ps[T][T + 1], vs[VK][MAXD];
    const int t = threadIdx.x, tx = t & 7, ty = t >> 3;
    // the last query tiles (most keys) first, so the long blocks do not trail at the end of the grid
    const int64_t D = s.d_head, ntq = (s.q_len + T - 1) / T, tq = ntq - 1 - blockIdx.x % ntq, bh = blockIdx.x / ntq;
    const int64_t b = bh / s.n_heads, h = bh % s.n_heads, kh = h / (s.n_heads / s.n_kv_heads);
    const int64_t i0 = tq * T, i1 = imin(i0 + T, s.q_len), dz0 = (int64_t)blockIdx.y * MAXD;
    const int64_t ldq = s.n_heads * D, ldk = s.n_kv_heads * D;
    const float *kb = k + (b * s.k_len * s.n_kv_heads + kh) * D, *vb = v + (b * s.k_len * s.n_kv_heads + kh) * D;
    int64_t ks, ke, lo_first, hi_first, lo_last, hi_last, lo[4], hi[4];
    key_bounds(s, m, b, ks, ke);
    visible(s, m, ks, ke, i0, lo_first, hi_first);
    visible(s, m, ks, ke, i1 - 1, lo_last, hi_last);
    UNROLL
    for (int r = 0; r < 4; r++) {
        lo[r] = hi[r] = 0;
        if (i0 + ty + 16 * r < i1) visible(s, m, ks, ke, i0 + ty + 16 * r, lo[r], hi[r]);
    }
    float acc[4][NJ] = {}, mrow[4], lrow[4];
    UNROLL
    for (int r = 0; r < 4; r++) mrow[r] = -INFINITY, lrow[r] = 0.0f;
    for (int64_t j0 = lo_first / T * T; j0 < hi_last; j0 += T) {
        float sc[4][8] = {};
        tile_dot(q + ((b * s.q_len + i0) * s.n_heads + h) * D, ldq, i1 - i0, kb + j0 * ldk, ldk,
                 imin(T, s.k_len - j0), D, as, bs, sc);
        UNROLL
        for (int r = 0; r < 4; r++) {
            float mx = -INFINITY;
            UNROLL
            for (int c = 0; c < 8; c++) {
                const int64_t j = j0 + tx + 8 * c;
                sc[r][c] = j >= lo[r] && j < hi[r] ? cap_score(scale * sc[r][c], softcap) : -INFINITY;
                mx = fmaxf(mx, sc[r][c]);
            }
            // a row's 64 keys sit in the 8 consecutive lanes sharing ty
            UNROLL
            for (int o = 1; o < 8; o <<= 1) mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, o));
            const float mnew = fmaxf(mrow[r], mx);
            float alpha = 1.0f, sum = 0.0f;
            UNROLL
            for (int c = 0; c < 8; c++) {  // nothing visible yet (mnew = -inf): p = 0, no NaN from -inf - -inf
                sc[r][c] = mnew == -INFINITY ? 0.0f : expf(sc[r][c] - mnew);
                sum += sc[r][c];
            }
            if (mnew != -INFINITY) alpha = expf(mrow[r] - mnew);
            UNROLL
            for (int o = 1; o < 8; o <<= 1) sum += __shfl_xor_sync(0xffffffffu, sum, o);
            lrow[r] = lrow[r] * alpha + sum;
            mrow[r] = mnew;
            UNROLL
            for (int c = 0; c < NJ; c++) acc[r][c] *= alpha;
            UNROLL
            for (int c = 0; c < 8; c++) ps[ty + 16 * r][tx + 8 * c] = sc[r][c];
        }
        for (int kc = 0; kc < T; kc += VK) {
            for (int e = t; e < VK * MAXD; e += NT) {
                const int r = e / MAXD, c = e % MAXD;
                const int64_t j = j0 + kc + r, d = dz0 + c;
                vs[r][c] = j < s.k_len && d < D ? vb[j * ldk + d] : 0.0f;
            }
            __syncthreads();  // also publishes ps
            for (int rr = 0; rr < VK; rr++) {
                float p[4];
                UNROLL
                for (int r = 0; r < 4; r++) p[r] = ps[ty + 16 * r][kc + rr];
                UNROLL
                for (int c = 0; c < NJ; c++) {
                    const float vv = vs[rr][tx + 8 * c];
                    UNROLL
                    for (int r = 0; r < 4; r++) acc[r][c] = fmaf(p[r], vv, acc[r][c]);
                }
            }
            __syncthreads();
        }
    }
    UNROLL
    for (int r = 0; r < 4; r++) {
        const int64_t i = i0 + ty + 16 * r;
        if (i >= i1) continue;
        const float inv = lrow[r] > 0.0f ? 1.0f / lrow[r] : 0.0f;  // a query that sees no key: z = 0
        float *o = z + ((b * s.q_len + i) * s.n_heads + h) * D;
        UNROLL
        for (int c = 0; c < NJ; c++) {
            const int64_t d = dz0 + tx + 8 * c;
            if (d < D) o[d] = acc[r][c] * inv;
        }
    }
}

// softmax of each n-wide row (one block per row); a row of -inf (a query that sees no key) gives 0; out may alias x
__global__ void __launch_bounds__(NT) softmax_rows_kernel(int64_t n, const float *x, float *out) {
    __shared__ float red[33];
    const float *row = x + (int64_t)blockIdx.x * n;
    float *o = out + (int64_t)blockIdx.x * n;
    float mx = -INFINITY;
    for (int64_t j = threadIdx.x; j < n; j += NT) mx = fmaxf(mx, row[j]);
    mx = l4jc_block_max(mx, red);
    if (mx == -INFINITY) {
        for (int64_t j = threadIdx.x; j < n; j += NT) o[j] = 0.0f;
        return;
    }
    float sum = 0.0f;
    for (int64_t j = threadIdx.x; j < n; j += NT) sum += expf(row[j] - mx);
    const float inv = 1.0f / l4jc_block_sum(sum, red);
    for (int64_t j = threadIdx.x; j < n; j += NT) o[j] = expf(row[j] - mx) * inv;
}

__global__ void softcap_kernel(int64_t n, const float *x, float cap, float *out) {
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
        out[i] = cap_score(x[i], cap);
}

__global__ void softcap_backward_kernel(int64_t n, const float *y, const float *dy, float cap, float *dx) {
    const float inv = 1.0f / cap;
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
        const float t = y[i] * inv;  // masked (-inf) scores pass no gradient
        dx[i] = isfinite(y[i]) ? dy[i] * (1.0f - t * t) : 0.0f;
    }
}

bool shape_ok(const AttnShape &s) {
    return s.batch >= 0 && s.q_len >= 0 && s.k_len >= s.q_len && s.n_heads > 0 && s.n_kv_heads > 0 &&
           s.n_heads % s.n_kv_heads == 0 && s.d_head > 0;
}
int64_t tiles(int64_t n) { return (n + T - 1) / T; }
constexpr int64_t kMaxGrid = 2147483647;

template <int MAXD>
int launch_flash(const AttnShape &s, const AttnMask &m, const float *q, const float *k, const float *v, float scale,
                 float softcap, float *z, void *stream) {
    const int64_t blocks = tiles(s.q_len) * s.batch * s.n_heads, slices = (s.d_head + MAXD - 1) / MAXD;
    L4JC_CHECK(blocks <= kMaxGrid && slices <= 65535);
    auto kernel = &flash_kernel<MAXD>;
    L4J_LAUNCH(kernel, dim3((unsigned)blocks, (unsigned)slices), NT, 0, stream, s, m, q, k, v, scale, softcap, z);
    return L4JC_LAUNCHED("attention (flash)");
}

int flash(const AttnShape &s, const AttnMask &m, const float *q, const float *k, const float *v, float scale,
          float softcap, float *z, void *stream) {
    // the smallest register tile holding d_head (or 256-wide slices of it)
    if (s.d_head <= 32) return launch_flash<32>(s, m, q, k, v, scale, softcap, z, stream);
    if (s.d_head <= 64) return launch_flash<64>(s, m, q, k, v, scale, softcap, z, stream);
    if (s.d_head <= 96) return launch_flash<96>(s, m, q, k, v, scale, softcap, z, stream);
    if (s.d_head <= 128) return launch_flash<128>(s, m, q, k, v, scale, softcap, z, stream);
    return launch_flash<256>(s, m, q, k, v, scale, softcap, z, stream);
}
}  // namespace

namespace {
// one 128-thread block per output tile
template <class Kernel, class... Args>
int launch_tiles(Kernel kernel, int64_t blocks, const char *what, void *stream, Args... args) {
    if (blocks == 0) return L4J_OK;
    L4JC_CHECK(blocks <= kMaxGrid);
    L4J_LAUNCH(kernel, (unsigned)blocks, NT, 0, stream, args...);
    return L4JC_LAUNCHED(what);
}
}  // namespace

int l4jc_attn_qk(const AttnShape &s, const AttnMask &m, const float *rows, const float *keys, float scale,
                 float softcap, float *out, void *stream) {
    return launch_tiles(&qk_kernel, tiles(s.q_len) * tiles(s.k_len) * s.batch * s.n_heads, "attention scores", stream,
                        s, m, rows, keys, scale, softcap, out);
}

int l4jc_attn_pv(const AttnShape &s, const AttnMask &m, const float *sq, const float *keys, float scale, float *out,
                 void *stream) {
    return launch_tiles(&pv_kernel, tiles(s.q_len) * tiles(s.d_head) * s.batch * s.n_heads, "attention pattern @ v",
                        stream, s, m, sq, keys, scale, out);
}

int l4jc_attn_ptx(const AttnShape &s, const AttnMask &m, const float *sq, const float *rows, float scale, float *out,
                  void *stream) {
    return launch_tiles(&ptx_kernel, tiles(s.k_len) * tiles(s.d_head) * s.batch * s.n_kv_heads,
                        "attention transposed product", stream, s, m, sq, rows, scale, out);
}

extern "C" int l4jc_attn_scores_masked(int64_t batch, int64_t q_len, int64_t k_len, int64_t n_heads,
                                       int64_t n_kv_heads, int64_t d_head, const float *q, const float *k, float scale,
                                       int64_t window, float softcap, const int64_t *key_range, float *scores,
                                       void *stream) {
    const AttnShape s{batch, q_len, k_len, n_heads, n_kv_heads, d_head};
    L4JC_CHECK(shape_ok(s) && window >= 0 && softcap >= 0.0f && q && k && scores);
    return l4jc_attn_qk(s, AttnMask{1, window, key_range}, q, k, scale, softcap, scores, stream);
}

extern "C" int l4jc_attn_scores(int64_t batch, int64_t seq, int64_t n_heads, int64_t n_kv_heads, int64_t d_head,
                                const float *q, const float *k, float scale, int64_t window, float softcap,
                                float *scores, void *stream) {
    L4JC_CHECK(seq >= 0);
    return l4jc_attn_scores_masked(batch, seq, seq, n_heads, n_kv_heads, d_head, q, k, scale, window, softcap, nullptr,
                                   scores, stream);
}

extern "C" int l4jc_attn_apply_kv(int64_t batch, int64_t q_len, int64_t k_len, int64_t n_heads, int64_t n_kv_heads,
                                  int64_t d_head, const float *pattern, const float *v, float *z, void *stream) {
    const AttnShape s{batch, q_len, k_len, n_heads, n_kv_heads, d_head};
    L4JC_CHECK(shape_ok(s) && pattern && v && z);
    // all keys, as the CPU: a hook may have written a non-causal pattern
    return l4jc_attn_pv(s, AttnMask{0, 0, nullptr}, pattern, v, 1.0f, z, stream);
}

extern "C" int l4jc_attn_apply(int64_t batch, int64_t seq, int64_t n_heads, int64_t n_kv_heads, int64_t d_head,
                               const float *pattern, const float *v, float *z, void *stream) {
    L4JC_CHECK(seq >= 0);
    return l4jc_attn_apply_kv(batch, seq, seq, n_heads, n_kv_heads, d_head, pattern, v, z, stream);
}

extern "C" int l4jc_attention_masked(int64_t batch, int64_t q_len, int64_t k_len, int64_t n_heads, int64_t n_kv_heads,
                                     int64_t d_head, const float *q, const float *k, const float *v, float scale,
                                     int64_t window, float softcap, const int64_t *key_range, float *z, float *scores,
                                     float *pattern, void *stream) {
    const AttnShape s{batch, q_len, k_len, n_heads, n_kv_heads, d_head};
    L4JC_CHECK(shape_ok(s) && window >= 0 && softcap >= 0.0f && q && k && v && z);
    if (batch == 0 || q_len == 0) return L4J_OK;
    const AttnMask m{1, window, key_range};
    if (!pattern) {
        if (scores)
            if (int st = l4jc_attn_qk(s, m, q, k, scale, softcap, scores, stream)) return st;
        return flash(s, m, q, k, v, scale, softcap, z, stream);
    }
    // the split path: scores (into the pattern when they are not kept), softmax, z = pattern @ v over the visible
    // keys (the pattern is 0 elsewhere)
    const int64_t rows = batch * n_heads * q_len;
    L4JC_CHECK(rows <= kMaxGrid);
    float *sc = scores ? scores : pattern;
    if (int st = l4jc_attn_qk(s, m, q, k, scale, softcap, sc, stream)) return st;
    L4J_LAUNCH(softmax_rows_kernel, (unsigned)rows, NT, 0, stream, k_len, sc, pattern);
    if (int st = L4JC_LAUNCHED("attention softmax")) return st;
    return l4jc_attn_pv(s, m, pattern, v, 1.0f, z, stream);
}

extern "C" int l4jc_attention(int64_t batch, int64_t seq, int64_t n_heads, int64_t n_kv_heads, int64_t d_head,
                              const float *q, const float *k, const float *v, float scale, int64_t window,
                              float softcap, float *z, float *scores, float *pattern, void *stream) {
    L4JC_CHECK(seq >= 0);
    return l4jc_attention_masked(batch, seq, seq, n_heads, n_kv_heads, d_head, q, k, v, scale, window, softcap, nullptr,
                                 z, scores, pattern, stream);
}

extern "C" int l4jc_softcap(int64_t n, const float *x, float cap, float *out, void *stream) {
    L4JC_CHECK(n >= 0 && cap > 0.0f && x && out);
    if (n == 0) return L4J_OK;
    L4J_LAUNCH(softcap_kernel, l4jc_blocks(n, 256), 256, 0, stream, n, x, cap, out);
    return L4JC_LAUNCHED("softcap");
}

extern "C" int l4jc_softcap_backward(int64_t n, const float *y, const float *dy, float cap, float *dx, void *stream) {
    L4JC_CHECK(n >= 0 && cap > 0.0f && y && dy && dx);
    if (n == 0) return L4J_OK;
    L4J_LAUNCH(softcap_backward_kernel, l4jc_blocks(n, 256), 256, 0, stream, n, y, dy, cap, dx);
    return L4JC_LAUNCHED("softcap_backward");
}
