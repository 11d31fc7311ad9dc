// Backward of rotary embeddings (native/cpu/backward_rotary.cpp): the transpose (= inverse) rotation, i.e. the
// forward by minus the angle. dx may alias dout.
#include "l4jc.cuh"

// rotary.cu
int l4jc_rotary_signed(int64_t batch, int64_t seq, int64_t n_heads, int64_t d_head, int64_t rotary_dim, int64_t offset,
                       const float *cos_t, const float *sin_t, int64_t n_ctx, int adjacent_pairs, const float *x,
                       float *out, float sin_sign, void *stream, const char *what);

extern "C" int l4jc_rotary_backward(int64_t batch, int64_t seq, int64_t n_heads, int64_t d_head, int64_t rotary_dim,
                                    int64_t offset, const float *cos_t, const float *sin_t, int64_t n_ctx,
                                    int adjacent_pairs, const float *dout, float *dx, void *stream) {
    return l4jc_rotary_signed(batch, seq, n_heads, d_head, rotary_dim, offset, cos_t, sin_t, n_ctx, adjacent_pairs, dout,
                              dx, -1.0f, stream, "rotary_backward");
}
