// Backward of rotary embeddings: the transpose (= inverse) rotation, i.e. the forward by minus the angle.
#include "backward.h"

extern "C" int l4j_rotary_backward(int64_t batch, int64_t seq, int64_t n_heads, int64_t d_head, int64_t rotary_dim,
                                   int64_t offset, const float *cos_t, const float *sin_t, int64_t n_ctx,
                                   int adjacent_pairs, const float *dout, float *dx) {
    return l4j_rotary_signed(batch, seq, n_heads, d_head, rotary_dim, offset, cos_t, sin_t, n_ctx, adjacent_pairs, dout, dx,
                             -1.0f);
}
