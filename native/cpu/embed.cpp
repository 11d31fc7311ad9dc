#include "common.h"

extern "C" int l4j_embed(int64_t n_tokens, const int32_t *tokens, const float *W_E, int64_t d_vocab, int64_t d_model,
                         float *out) {
    L4J_CHECK(n_tokens >= 0 && tokens && W_E && out && d_vocab > 0 && d_model > 0);
    if (!l4j_tokens_in_range(n_tokens, tokens, d_vocab)) return L4J_ERR_RANGE;
#pragma omp parallel for schedule(static) if (n_tokens * d_model > L4J_PAR_MIN)
    for (int64_t i = 0; i < n_tokens; i++)
        std::memcpy(out + i * d_model, W_E + (int64_t)tokens[i] * d_model, sizeof(float) * d_model);
    return L4J_OK;
}

extern "C" int l4j_pos_embed(int64_t batch, int64_t seq, int64_t offset, const float *W_pos, int64_t n_ctx,
                             int64_t d_model, float *out) {
    L4J_CHECK(batch >= 0 && seq >= 0 && offset >= 0 && W_pos && out && d_model > 0);
    if (offset + seq > n_ctx) return L4J_ERR_RANGE;
#pragma omp parallel for collapse(2) schedule(static) if (batch * seq * d_model > L4J_PAR_MIN)
    for (int64_t b = 0; b < batch; b++)
        for (int64_t p = 0; p < seq; p++)
            std::memcpy(out + (b * seq + p) * d_model, W_pos + (p + offset) * d_model, sizeof(float) * d_model);
    return L4J_OK;
}
