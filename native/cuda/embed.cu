// Embedding lookups (native/cpu/embed.cpp, and l4j_embed_bf16 of gemm_bf16.cpp): a block per token row.
// Token ids cannot be range-checked here without a host sync, so Java validates them before they reach the
// device (as for the CPU twin's L4J_ERR_RANGE); a bad id never reads outside W_E: its row is written as NaN.
#include "rows.cuh"

namespace {
__device__ __forceinline__ float widen_bf16(uint16_t h) { return __uint_as_float((unsigned)h << 16); }

template <class T>
__global__ void embed_kernel(int64_t n_tokens, const int32_t *tokens, const T *W_E, int64_t d_vocab, int64_t d_model,
                             float *out) {
    L4JC_FOR_ROWS(i, n_tokens) {
        const int64_t t = tokens[i];
        const bool valid = t >= 0 && t < d_vocab;
        const T *row = W_E + (valid ? t : 0) * d_model;
        float *o = out + i * d_model;
        L4JC_FOR_COLS(c, d_model) {
            if (!valid) o[c] = NAN;
            else if constexpr (sizeof(T) == 2) o[c] = widen_bf16(row[c]);
            else o[c] = row[c];
        }
    }
}

__global__ void pos_embed_kernel(int64_t batch, int64_t seq, int64_t offset, const float *W_pos, int64_t d_model,
                                 float *out) {
    L4JC_FOR_ROWS(r, batch * seq) {
        const float *row = W_pos + (r % seq + offset) * d_model;
        L4JC_FOR_COLS(c, d_model) out[r * d_model + c] = row[c];
    }
}

template <class T>
int launch_embed(int64_t n_tokens, const int32_t *tokens, const T *W_E, int64_t d_vocab, int64_t d_model, float *out,
                 void *stream, const char *what) {
    L4JC_CHECK(n_tokens >= 0 && tokens && W_E && out && d_vocab > 0 && d_model > 0);
    if (n_tokens == 0) return L4J_OK;
    auto k = &embed_kernel<T>;
    L4J_LAUNCH(k, l4jc_blocks(n_tokens, 1), l4jc_row_threads(d_model), 0, stream, n_tokens, tokens, W_E, d_vocab,
               d_model, out);
    return L4JC_LAUNCHED(what);
}
}  // namespace

extern "C" int l4jc_embed(int64_t n_tokens, const int32_t *tokens, const float *W_E, int64_t d_vocab, int64_t d_model,
                          float *out, void *stream) {
    return launch_embed(n_tokens, tokens, W_E, d_vocab, d_model, out, stream, "embed");
}

// bf16 rows (uint16 bits) widened to f32 exactly, as l4j_bf16_to_f32.
extern "C" int l4jc_embed_bf16(int64_t n_tokens, const int32_t *tokens, const uint16_t *W_E, int64_t d_vocab,
                               int64_t d_model, float *out, void *stream) {
    return launch_embed(n_tokens, tokens, W_E, d_vocab, d_model, out, stream, "embed_bf16");
}

extern "C" int l4jc_pos_embed(int64_t batch, int64_t seq, int64_t offset, const float *W_pos, int64_t n_ctx,
                              int64_t d_model, float *out, void *stream) {
    L4JC_CHECK(batch >= 0 && seq >= 0 && offset >= 0 && W_pos && out && d_model > 0);
    if (offset + seq > n_ctx) return L4J_ERR_RANGE;  // arguments only: checked here, as on the CPU
    if (batch * seq == 0) return L4J_OK;
    L4J_LAUNCH(pos_embed_kernel, l4jc_blocks(batch * seq, 1), l4jc_row_threads(d_model), 0, stream, batch, seq, offset,
               W_pos, d_model, out);
    return L4JC_LAUNCHED("pos_embed");
}
