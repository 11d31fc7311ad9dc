// Helpers shared by the backward kernels (backward_*.cpp).
#pragma once
#include "common.h"

// out[c] += sum_r f(r, c), summed in row order in double. Columns are split into blocks, one block per task,
// so there are no races and the bits do not depend on the thread count (a row split would need per-thread
// partial sums whose reduction order changes with it).
template <class F>
static inline void l4j_col_reduce(int64_t rows, int64_t d, float *out, F f) {
    constexpr int64_t CB = 32;
    const int64_t nb = (d + CB - 1) / CB;
#pragma omp parallel for schedule(static) if (rows * d > L4J_PAR_MIN && nb > 1)
    for (int64_t blk = 0; blk < nb; blk++) {
        const int64_t c0 = blk * CB, c1 = c0 + CB < d ? c0 + CB : d;
        double acc[CB] = {0};
        for (int64_t r = 0; r < rows; r++)
            for (int64_t c = c0; c < c1; c++) acc[c - c0] += f(r, c);
        for (int64_t c = c0; c < c1; c++) out[c] += (float)acc[c - c0];
    }
}

// rotary.cpp: the rotation by sin_sign * angle (+1 forward, -1 its transpose)
int l4j_rotary_signed(int64_t batch, int64_t seq, int64_t n_heads, int64_t d_head, int64_t rotary_dim, int64_t offset,
                      const float *cos_t, const float *sin_t, int64_t n_ctx, int adjacent_pairs, const float *x, float *out,
                      float sin_sign);
