// Backward of embed, pos_embed and bias adds (sum_rows). See lens4j.h "backward".
#include "backward.h"
#include <algorithm>
#include <numeric>
#include <new>
#include <vector>

extern "C" int l4j_sum_rows(int64_t rows, int64_t d, const float *x, float *out) {
    L4J_CHECK(rows >= 0 && d > 0 && x && out);
    l4j_col_reduce(rows, d, out, [=](int64_t r, int64_t c) { return x[r * d + c]; });
    return L4J_OK;
}

extern "C" int l4j_embed_backward(int64_t n_tokens, const int32_t *tokens, const float *dout, int64_t d_vocab,
                                  int64_t d_model, float *dW_E) {
    L4J_CHECK(n_tokens >= 0 && tokens && dout && dW_E && d_vocab > 0 && d_model > 0);
    if (!l4j_tokens_in_range(n_tokens, tokens, d_vocab)) return L4J_ERR_RANGE;
    try {
        // A stable sort by token groups repeated tokens; each vocabulary row is then owned by one task and
        // summed in token order: no atomics, same bits for any thread count.
        std::vector<int64_t> order((size_t)n_tokens);
        std::iota(order.begin(), order.end(), (int64_t)0);
        std::stable_sort(order.begin(), order.end(), [=](int64_t a, int64_t b) { return tokens[a] < tokens[b]; });
        std::vector<int64_t> starts;
        for (int64_t i = 0; i < n_tokens; i++)
            if (i == 0 || tokens[order[i]] != tokens[order[i - 1]]) starts.push_back(i);
        starts.push_back(n_tokens);
        const int64_t groups = (int64_t)starts.size() - 1;
#pragma omp parallel for schedule(dynamic, 4) if (n_tokens * d_model > L4J_PAR_MIN)
        for (int64_t g = 0; g < groups; g++) {
            float *row = dW_E + (int64_t)tokens[order[starts[g]]] * d_model;
            for (int64_t i = starts[g]; i < starts[g + 1]; i++) {
                const float *src = dout + order[i] * d_model;
#pragma omp simd
                for (int64_t c = 0; c < d_model; c++) row[c] += src[c];
            }
        }
    } catch (const std::bad_alloc &) {
        return L4J_ERR_NOMEM;
    }
    return L4J_OK;
}

extern "C" int l4j_pos_embed_backward(int64_t batch, int64_t seq, int64_t offset, const float *dout, int64_t n_ctx,
                                      int64_t d_model, float *dW_pos) {
    L4J_CHECK(batch >= 0 && seq >= 0 && offset >= 0 && dout && dW_pos && d_model > 0);
    if (offset + seq > n_ctx) return L4J_ERR_RANGE;
    // one position row per task, summed over the batch in order
#pragma omp parallel for schedule(static) if (batch * seq * d_model > L4J_PAR_MIN)
    for (int64_t p = 0; p < seq; p++) {
        float *row = dW_pos + (p + offset) * d_model;
        for (int64_t b = 0; b < batch; b++) {
            const float *src = dout + (b * seq + p) * d_model;
#pragma omp simd
            for (int64_t c = 0; c < d_model; c++) row[c] += src[c];
        }
    }
    return L4J_OK;
}
