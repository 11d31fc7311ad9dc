#include "common.h"
#include <cblas.h>
#ifdef __AVX2__
#include <immintrin.h>
#endif
#include <cmath>
#include <limits>
#include <new>
#include <vector>

// Attention works on one (batch, head, block of QB query rows) at a time: the block's scores against the keys it
// can see are one small GEMM (Q_blk K^T), the causal softmax runs over contiguous rows, and z is a second GEMM
// (P V) written straight into z's strided rows. K is first transposed per (batch, kv head) into a scratch K^T
// [d_head, seq]: OpenBLAS runs these small no-transpose GEMMs about twice as fast as A @ B^T. Both GEMMs are
// single-threaded calls (lens4j's AVX-512F kernel where l4j_gemm would take it, else OpenBLAS) inside our OpenMP
// loop. Blocks never depend on the thread count, so results are bit-identical for any number of threads.

namespace {
constexpr int64_t QB = 32;  // query rows per block: 32 x seq floats of scores stay in L1/L2
const float kNegInf = -std::numeric_limits<float>::infinity();

// C[m,n] = alpha * A[m,k] @ B[k,n], on the AVX-512F kernel where l4j_gemm would take it (single-threaded here:
// called inside the parallel loop over blocks), else OpenBLAS
inline void gemm_nn(int64_t m, int64_t n, int64_t k, float alpha, const float *A, int64_t lda, const float *B,
                    int64_t ldb, float *C, int64_t ldc) {
    if (l4j_gemm_takes_avx512(m, n, k) &&
        l4j_gemm_avx512(0, 0, m, n, k, alpha, A, lda, B, ldb, 0.0f, C, ldc, nullptr) == L4J_OK)
        return;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (blasint)m, (blasint)n, (blasint)k, alpha, A, (blasint)lda,
                B, (blasint)ldb, 0.0f, C, (blasint)ldc);
}

#ifdef __AVX2__
// dst[c * ldd + r] = src[r * lds + c] for an 8 x 8 tile
inline void transpose8x8(const float *src, int64_t lds, float *dst, int64_t ldd) {
    __m256 r0 = _mm256_loadu_ps(src + 0 * lds), r1 = _mm256_loadu_ps(src + 1 * lds);
    __m256 r2 = _mm256_loadu_ps(src + 2 * lds), r3 = _mm256_loadu_ps(src + 3 * lds);
    __m256 r4 = _mm256_loadu_ps(src + 4 * lds), r5 = _mm256_loadu_ps(src + 5 * lds);
    __m256 r6 = _mm256_loadu_ps(src + 6 * lds), r7 = _mm256_loadu_ps(src + 7 * lds);
    __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1);
    __m256 t2 = _mm256_unpacklo_ps(r2, r3), t3 = _mm256_unpackhi_ps(r2, r3);
    __m256 t4 = _mm256_unpacklo_ps(r4, r5), t5 = _mm256_unpackhi_ps(r4, r5);
    __m256 t6 = _mm256_unpacklo_ps(r6, r7), t7 = _mm256_unpackhi_ps(r6, r7);
    r0 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(1, 0, 1, 0));
    r1 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(3, 2, 3, 2));
    r2 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(1, 0, 1, 0));
    r3 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(3, 2, 3, 2));
    r4 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(1, 0, 1, 0));
    r5 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(3, 2, 3, 2));
    r6 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(1, 0, 1, 0));
    r7 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(3, 2, 3, 2));
    _mm256_storeu_ps(dst + 0 * ldd, _mm256_permute2f128_ps(r0, r4, 0x20));
    _mm256_storeu_ps(dst + 1 * ldd, _mm256_permute2f128_ps(r1, r5, 0x20));
    _mm256_storeu_ps(dst + 2 * ldd, _mm256_permute2f128_ps(r2, r6, 0x20));
    _mm256_storeu_ps(dst + 3 * ldd, _mm256_permute2f128_ps(r3, r7, 0x20));
    _mm256_storeu_ps(dst + 4 * ldd, _mm256_permute2f128_ps(r0, r4, 0x31));
    _mm256_storeu_ps(dst + 5 * ldd, _mm256_permute2f128_ps(r1, r5, 0x31));
    _mm256_storeu_ps(dst + 6 * ldd, _mm256_permute2f128_ps(r2, r6, 0x31));
    _mm256_storeu_ps(dst + 7 * ldd, _mm256_permute2f128_ps(r3, r7, 0x31));
}
#endif

// kt[b, kvh, d, j] = k[b, j, kvh, d]; called inside a parallel region (work-shared over (b, kvh))
void transpose_k(int64_t batch, int64_t seq, int64_t n_kv_heads, int64_t d_head, const float *k, float *kt) {
    const int64_t ldk = n_kv_heads * d_head;
#pragma omp for schedule(static)
    for (int64_t bk = 0; bk < batch * n_kv_heads; bk++) {
        const float *src = k + (bk / n_kv_heads) * seq * ldk + (bk % n_kv_heads) * d_head;
        float *dst = kt + bk * d_head * seq;
        int64_t j0 = 0, d8 = 0;
#ifdef __AVX2__
        d8 = d_head / 8 * 8;
        for (; j0 + 8 <= seq; j0 += 8)
            for (int64_t d = 0; d < d8; d += 8) transpose8x8(src + j0 * ldk + d, ldk, dst + d * seq + j0, seq);
        for (int64_t d = d8; d < d_head; d++)  // d_head % 8 leftover features of the tiled rows
            for (int64_t j = 0; j < j0; j++) dst[d * seq + j] = src[j * ldk + d];
#endif
        for (int64_t j = j0; j < seq; j++)  // seq % 8 leftover rows
            for (int64_t d = 0; d < d_head; d++) dst[d * seq + j] = src[j * ldk + d];
        (void)d8;
    }
}

struct Scratch {  // uninitialised floats
    float *p;
    explicit Scratch(int64_t n) : p(n > 0 ? new (std::nothrow) float[n] : nullptr) {}
    ~Scratch() { delete[] p; }
};

inline void fill(float *p, int64_t n, float v) {
#pragma omp simd
    for (int64_t j = 0; j < n; j++) p[j] = v;
}

// p[0..n) = softmax(s[0..n)); p may alias s
inline void softmax_row(const float *s, float *p, int64_t n) {
    float mx = kNegInf;
#pragma omp simd reduction(max : mx)
    for (int64_t j = 0; j < n; j++) mx = s[j] > mx ? s[j] : mx;
    float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
    for (int64_t j = 0; j < n; j++) {
        const float e = l4j_exp(s[j] - mx);
        p[j] = e;
        sum += e;
    }
    const float inv = 1.0f / sum;
#pragma omp simd
    for (int64_t j = 0; j < n; j++) p[j] *= inv;
}

// Gemma 2's attention-logit soft-capping, in place on n scores: s = cap * tanh(s / cap); cap <= 0 leaves them
inline void softcap_row(float *s, int64_t n, float cap) {
    if (cap <= 0.0f) return;
    const float inv = 1.0f / cap;
    for (int64_t j = 0; j < n; j++) s[j] = cap * std::tanh(s[j] * inv);
}

// first key query i sees: 0, or i - window + 1 with a sliding window (HF: key j visible iff i - window < j <= i)
inline int64_t first_key(int64_t i, int64_t window) { return window > 0 && i - window + 1 > 0 ? i - window + 1 : 0; }

struct Blocks {
    int64_t batch, n_heads, nblk;
    int64_t units() const { return batch * n_heads * nblk; }
    // one (batch, head) after another, so its K^T and V stay in cache across its blocks; within a head the most
    // expensive blocks (last query rows, most keys) come first
    void at(int64_t u, int64_t &b, int64_t &h, int64_t &blk) const {
        const int64_t bh = u / nblk;
        blk = nblk - 1 - u % nblk;
        b = bh / n_heads;
        h = bh % n_heads;
    }
};
}  // namespace

// Visible keys [lo, hi) of the query at absolute position ai: causal, the sliding window, and the row's valid keys
// [ks, ke) (TL's attention_mask: padding outside). hi <= lo means none: the query sees nothing.
static inline void visible(int64_t ai, int64_t window, int64_t ks, int64_t ke, int64_t &lo, int64_t &hi) {
    lo = first_key(ai, window);
    if (ks > lo) lo = ks;
    hi = ai + 1 < ke ? ai + 1 : ke;
}

// valid keys of row b: key_range[2b .. 2b+1], or all k_len keys
static inline void key_bounds(const int64_t *key_range, int64_t b, int64_t k_len, int64_t &ks, int64_t &ke) {
    ks = key_range ? key_range[2 * b] : 0;
    ke = key_range ? key_range[2 * b + 1] : k_len;
}

static bool ranges_ok(const int64_t *key_range, int64_t batch, int64_t k_len) {
    if (!key_range) return true;
    for (int64_t b = 0; b < batch; b++)
        if (key_range[2 * b] < 0 || key_range[2 * b] > key_range[2 * b + 1] || key_range[2 * b + 1] > k_len) return false;
    return true;
}

#define L4J_CHECK_ATTN_SHAPE()                                                                                        \
    L4J_CHECK(batch >= 0 && q_len >= 0 && k_len >= q_len && n_heads > 0 && n_kv_heads > 0 &&                         \
              n_heads % n_kv_heads == 0 && d_head > 0)

extern "C" int l4j_attn_scores_masked(int64_t batch, int64_t q_len, int64_t k_len, int64_t n_heads,
                                      int64_t n_kv_heads, int64_t d_head, const float *q, const float *k, float scale,
                                      int64_t window, float softcap, const int64_t *key_range, float *scores) {
    L4J_CHECK_ATTN_SHAPE();
    L4J_CHECK(window >= 0 && softcap >= 0.0f);
    L4J_CHECK(q && k && scores && ranges_ok(key_range, batch, k_len));
    if (batch == 0 || q_len == 0) return L4J_OK;
    const int64_t group = n_heads / n_kv_heads, ldq = n_heads * d_head, sk = k_len, off = k_len - q_len;
    const Blocks blocks{batch, n_heads, (q_len + QB - 1) / QB};
    Scratch kt(batch * n_kv_heads * d_head * sk);
    if (!kt.p) return L4J_ERR_NOMEM;
#pragma omp parallel if (batch * n_heads * q_len * sk > L4J_PAR_MIN)
    {
        transpose_k(batch, sk, n_kv_heads, d_head, k, kt.p);
#pragma omp for schedule(dynamic, 1)
        for (int64_t u = 0; u < blocks.units(); u++) {
            int64_t b, h, blk;
            blocks.at(u, b, h, blk);
            const int64_t i0 = blk * QB, i1 = i0 + QB < q_len ? i0 + QB : q_len;
            float *s = scores + ((b * n_heads + h) * q_len + i0) * sk;
            gemm_nn(i1 - i0, off + i1, d_head, scale, q + ((b * q_len + i0) * n_heads + h) * d_head, ldq,
                    kt.p + (b * n_kv_heads + h / group) * d_head * sk, sk, s, sk);
            int64_t ks, ke;
            key_bounds(key_range, b, sk, ks, ke);
            for (int64_t i = i0; i < i1; i++) {
                float *row = s + (i - i0) * sk;
                int64_t lo, hi;
                visible(off + i, window, ks, ke, lo, hi);
                if (hi <= lo) {
                    fill(row, sk, kNegInf);
                    continue;
                }
                softcap_row(row + lo, hi - lo, softcap);
                fill(row, lo, kNegInf);
                fill(row + hi, sk - hi, kNegInf);
            }
        }
    }
    return L4J_OK;
}

extern "C" int l4j_attn_scores(int64_t batch, int64_t seq, int64_t n_heads, int64_t n_kv_heads, int64_t d_head,
                               const float *q, const float *k, float scale, int64_t window, float softcap,
                               float *scores) {
    L4J_CHECK(seq >= 0);
    return l4j_attn_scores_masked(batch, seq, seq, n_heads, n_kv_heads, d_head, q, k, scale, window, softcap, nullptr,
                                  scores);
}

extern "C" int l4j_attn_apply_kv(int64_t batch, int64_t q_len, int64_t k_len, int64_t n_heads, int64_t n_kv_heads,
                                 int64_t d_head, const float *pattern, const float *v, float *z) {
    L4J_CHECK_ATTN_SHAPE();
    L4J_CHECK(pattern && v && z);
    if (batch == 0 || q_len == 0) return L4J_OK;
    const int64_t group = n_heads / n_kv_heads, ldz = n_heads * d_head, ldv = n_kv_heads * d_head, sk = k_len;
    const Blocks blocks{batch, n_heads, (q_len + QB - 1) / QB};
    // All keys, not only j <= i: a hook may have written a non-causal pattern, and TL applies it as given. Only the
    // trailing all-zero columns of a block (the causal upper triangle, typically) are skipped.
#pragma omp parallel for schedule(dynamic, 1) if (batch * n_heads * q_len * sk > L4J_PAR_MIN)
    for (int64_t u = 0; u < blocks.units(); u++) {
        int64_t b, h, blk;
        blocks.at(u, b, h, blk);
        const int64_t i0 = blk * QB, i1 = i0 + QB < q_len ? i0 + QB : q_len;
        const float *p = pattern + ((b * n_heads + h) * q_len + i0) * sk;
        int64_t n = 0;
        for (int64_t r = 0; r < i1 - i0; r++) {
            const float *row = p + r * sk;
            int64_t e = sk;
            while (e > n && row[e - 1] == 0.0f) e--;
            n = e;
        }
        float *zb = z + ((b * q_len + i0) * n_heads + h) * d_head;
        if (n == 0) {
            for (int64_t r = 0; r < i1 - i0; r++) fill(zb + r * ldz, d_head, 0.0f);
        } else {
            gemm_nn(i1 - i0, d_head, n, 1.0f, p, sk, v + (b * sk * n_kv_heads + h / group) * d_head, ldv, zb, ldz);
        }
    }
    return L4J_OK;
}

extern "C" int l4j_attn_apply(int64_t batch, int64_t seq, int64_t n_heads, int64_t n_kv_heads, int64_t d_head,
                              const float *pattern, const float *v, float *z) {
    L4J_CHECK(seq >= 0);
    return l4j_attn_apply_kv(batch, seq, seq, n_heads, n_kv_heads, d_head, pattern, v, z);
}

extern "C" int l4j_attention_masked(int64_t batch, int64_t q_len, int64_t k_len, int64_t n_heads, int64_t n_kv_heads,
                                    int64_t d_head, const float *q, const float *k, const float *v, float scale,
                                    int64_t window, float softcap, const int64_t *key_range, float *z, float *scores,
                                    float *pattern) {
    L4J_CHECK_ATTN_SHAPE();
    L4J_CHECK(window >= 0 && softcap >= 0.0f);
    L4J_CHECK(q && k && v && z && ranges_ok(key_range, batch, k_len));
    if (batch == 0 || q_len == 0) return L4J_OK;
    const int64_t group = n_heads / n_kv_heads, ldq = n_heads * d_head, ldk = n_kv_heads * d_head;
    const int64_t sk = k_len, off = k_len - q_len;
    const Blocks blocks{batch, n_heads, (q_len + QB - 1) / QB};
    Scratch kt(batch * n_kv_heads * d_head * sk);
    if (!kt.p) return L4J_ERR_NOMEM;
#pragma omp parallel if (batch * n_heads * q_len * sk > L4J_PAR_MIN)
    {
        transpose_k(batch, sk, n_kv_heads, d_head, k, kt.p);
        // scratch for the block's scores (when not asked for) and probabilities (when not asked for)
        std::vector<float> sbuf(scores ? 0 : QB * sk), pbuf(pattern || !scores ? 0 : QB * sk);
#pragma omp for schedule(dynamic, 1)
        for (int64_t u = 0; u < blocks.units(); u++) {
            int64_t b, h, blk;
            blocks.at(u, b, h, blk);
            const int64_t i0 = blk * QB, i1 = i0 + QB < q_len ? i0 + QB : q_len, m = i1 - i0, ncol = off + i1;
            const int64_t row_off = ((b * n_heads + h) * q_len + i0) * sk;
            const int64_t kv_off = (b * sk * n_kv_heads + h / group) * d_head;
            int64_t ks, ke;
            key_bounds(key_range, b, sk, ks, ke);
            // block scores against keys 0..ncol-1 (the few above the diagonal are masked below)
            float *s = scores ? scores + row_off : sbuf.data();
            gemm_nn(m, ncol, d_head, scale, q + ((b * q_len + i0) * n_heads + h) * d_head, ldq,
                    kt.p + (b * n_kv_heads + h / group) * d_head * sk, sk, s, sk);
            float *p = pattern ? pattern + row_off : scores ? pbuf.data() : s;  // in place when scores aren't kept
            for (int64_t r = 0; r < m; r++) {
                float *sr = s + r * sk, *pr = p + r * sk;
                int64_t lo, hi;
                visible(off + i0 + r, window, ks, ke, lo, hi);
                // zeros up to ncol feed P V; a returned pattern gets zeros to the end of the row. A query that sees
                // no key gets a zero row (TL: the softmax's NaNs set to 0), hence z = 0
                if (hi <= lo) {
                    lo = hi = 0;
                } else {
                    softcap_row(sr + lo, hi - lo, softcap);
                    softmax_row(sr + lo, pr + lo, hi - lo);
                }
                fill(pr, lo, 0.0f);
                fill(pr + hi, (pattern ? sk : ncol) - hi, 0.0f);
                if (scores) {
                    fill(sr, lo, kNegInf);
                    fill(sr + hi, sk - hi, kNegInf);
                }
            }
            gemm_nn(m, d_head, ncol, 1.0f, p, sk, v + kv_off, ldk, z + ((b * q_len + i0) * n_heads + h) * d_head, ldq);
        }
    }
    return L4J_OK;
}

extern "C" int l4j_attention(int64_t batch, int64_t seq, int64_t n_heads, int64_t n_kv_heads, int64_t d_head,
                             const float *q, const float *k, const float *v, float scale, int64_t window,
                             float softcap, float *z, float *scores, float *pattern) {
    L4J_CHECK(seq >= 0);
    return l4j_attention_masked(batch, seq, seq, n_heads, n_kv_heads, d_head, q, k, v, scale, window, softcap, nullptr,
                                z, scores, pattern);
}

extern "C" int l4j_softcap(int64_t n, const float *x, float cap, float *out) {
    L4J_CHECK(n >= 0 && cap > 0.0f && x && out);
    const float inv = 1.0f / cap;
#pragma omp parallel for schedule(static) if (n > L4J_PAR_MIN)
    for (int64_t i = 0; i < n; i++) out[i] = cap * std::tanh(x[i] * inv);
    return L4J_OK;
}

extern "C" int l4j_softcap_backward(int64_t n, const float *y, const float *dy, float cap, float *dx) {
    L4J_CHECK(n >= 0 && cap > 0.0f && y && dy && dx);
    const float inv = 1.0f / cap;
#pragma omp parallel for schedule(static) if (n > L4J_PAR_MIN)
    for (int64_t i = 0; i < n; i++) {
        // d/dx cap*tanh(x/cap) = 1 - tanh^2 = 1 - (y/cap)^2; masked (-inf) entries pass no gradient
        const float t = y[i] * inv;
        dx[i] = std::isfinite(y[i]) ? dy[i] * (1.0f - t * t) : 0.0f;
    }
    return L4J_OK;
}
