// Rotary embeddings (native/cpu/rotary.cpp): a thread per rotated pair, which reads both members before writing
// either, so out may alias x; features past rotary_dim are copied by further threads when out is not x.
#include "l4jc.cuh"

namespace {
__global__ void rotary_kernel(int64_t heads_rows, int64_t seq, int64_t n_heads, int64_t d_head, int64_t half,
                              int64_t width, int64_t offset, const float *cos_t, const float *sin_t, int adjacent_pairs,
                              const float *x, float *out, float sin_sign) {
    const int64_t total = heads_rows * width;
    for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < total; e += (int64_t)gridDim.x * blockDim.x) {
        const int64_t row = e / width, k = e - row * width;  // row: (b, p, h)
        const float *xi = x + row * d_head;
        float *o = out + row * d_head;
        if (k >= half) {  // pass-through feature
            const int64_t i = 2 * half + (k - half);
            o[i] = xi[i];
            continue;
        }
        const int64_t p = (row / n_heads) % seq + offset;
        const float c = cos_t[p * half + k], s = sin_sign * sin_t[p * half + k];
        const int64_t i0 = adjacent_pairs ? 2 * k : k, i1 = adjacent_pairs ? 2 * k + 1 : k + half;
        const float x0 = xi[i0], x1 = xi[i1];
        o[i0] = x0 * c - x1 * s;
        o[i1] = x1 * c + x0 * s;
    }
}
}  // namespace

// sin_sign -1 rotates by minus the angle: the transpose, which is the backward pass (backward_rotary.cu).
int l4jc_rotary_signed(int64_t batch, int64_t seq, int64_t n_heads, int64_t d_head, int64_t rotary_dim, int64_t offset,
                       const float *cos_t, const float *sin_t, int64_t n_ctx, int adjacent_pairs, const float *x,
                       float *out, float sin_sign, void *stream, const char *what) {
    L4JC_CHECK(batch >= 0 && seq >= 0 && n_heads > 0 && d_head > 0 && x && out && cos_t && sin_t);
    L4JC_CHECK(rotary_dim > 0 && rotary_dim % 2 == 0 && rotary_dim <= d_head && offset >= 0);
    if (offset + seq > n_ctx) return L4J_ERR_RANGE;  // arguments only: checked here, as on the CPU
    const int64_t heads_rows = batch * seq * n_heads, half = rotary_dim / 2;
    const int64_t width = half + (out != x ? d_head - rotary_dim : 0);
    if (heads_rows == 0) return L4J_OK;
    L4J_LAUNCH(rotary_kernel, l4jc_blocks(heads_rows * width, 256), 256, 0, stream, heads_rows, seq, n_heads, d_head,
               half, width, offset, cos_t, sin_t, adjacent_pairs, x, out, sin_sign);
    return L4JC_LAUNCHED(what);
}

extern "C" int l4jc_rotary(int64_t batch, int64_t seq, int64_t n_heads, int64_t d_head, int64_t rotary_dim,
                           int64_t offset, const float *cos_t, const float *sin_t, int64_t n_ctx, int adjacent_pairs,
                           const float *x, float *out, void *stream) {
    return l4jc_rotary_signed(batch, seq, n_heads, d_head, rotary_dim, offset, cos_t, sin_t, n_ctx, adjacent_pairs, x,
                              out, 1.0f, stream, "rotary");
}
