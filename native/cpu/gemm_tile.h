// What the AVX-512 GEMM kernels (gemm_avx512.cpp, gemm_bf16.cpp) share: the task split, and the write-back of a register tile:
// C[r, 0..cols) = alpha * acc[r] + bias + beta * C[r] for the first `rows` rows of a rows x 32 tile held as two zmm of
// 16 floats per row; columns past `cols` are masked off, and beta == 0 never reads C (it may hold NaN).
#pragma once
#include <immintrin.h>
#include <cstdint>

namespace l4j {
// Task t of the AVX-512 GEMMs' split: column panels [p0, p1) (a group) x row panels [i0, i1) (a part of the rows).
struct TileTask {
    int64_t p0, p1, i0, i1;
    TileTask(int64_t t, int64_t parts, int64_t group, int64_t nPanels, int64_t panelsPerPart, int64_t mPanels) {
        const int64_t g = t / parts, part = t % parts;
        p0 = g * group;
        p1 = p0 + group < nPanels ? p0 + group : nPanels;
        i0 = part * panelsPerPart;
        i1 = i0 + panelsPerPart < mPanels ? i0 + panelsPerPart : mPanels;
    }
};

constexpr int64_t kGroupBytes = 512 << 10;  // one task's packed B panels: half of a Zen 4/5 or SPR core's L2

// The task split of the AVX-512 GEMMs: groups of column panels (as many as fit `groupBytes` of packed B, fewer to give
// each thread 4 groups) x parts of the rows when there are still too few groups (each part packs its group again).
// Each output element is summed the same way whatever the split, so it may follow the thread count.
struct TileSplit {
    int64_t group, groups, parts, panelsPerPart;
    TileSplit(int64_t nPanels, int64_t mPanels, int64_t panelBytes, int64_t groupBytes, int64_t threads) {
        group = groupBytes / (panelBytes > 0 ? panelBytes : 1);
        const int64_t spread = (nPanels + 4 * threads - 1) / (4 * threads);
        if (group > spread) group = spread;
        if (group < 1) group = 1;
        groups = (nPanels + group - 1) / group;
        parts = groups >= 4 * threads ? 1 : (4 * threads + groups - 1) / groups;
        if (parts > mPanels) parts = mPanels;
        panelsPerPart = (mPanels + parts - 1) / parts;
    }
    int64_t tasks() const { return groups * parts; }
};

// How much of a tile of `size` starting at `start` lies inside `total` (rows or columns of an edge tile).
inline int tile_extent(int64_t total, int64_t start, int size) { return (int)(total - start < size ? total - start : size); }

template <int MR>
__attribute__((target("avx512f"))) inline void store_tile_x32(const __m512 (&acc)[MR][2], float *C, int64_t ldc, int rows,
                                                              int cols, float alpha, float beta, const float *bias) {
    const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
    for (int h = 0; h < 2; h++) {
        const int left = cols - 16 * h;
        if (left <= 0) break;
        const __mmask16 m = left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1u);
        const __m512 vbias = bias ? _mm512_maskz_loadu_ps(m, bias + 16 * h) : _mm512_setzero_ps();
        for (int r = 0; r < rows; r++) {
            float *c = C + r * ldc + 16 * h;
            __m512 v = _mm512_fmadd_ps(va, acc[r][h], vbias);
            if (beta != 0.0f) v = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(m, c), v);
            _mm512_mask_storeu_ps(c, m, v);
        }
    }
}
}  // namespace l4j
