// Backward of embed, pos_embed and bias adds (native/cpu/backward_embed.cpp): the weight gradients accumulate,
// summed in a fixed order without atomics, so every run gives the same bits (here the CPU's bits, too).
#include "rows.cuh"

namespace {
constexpr int kEmbedBackwardThreads = 256;

// A block per token i. The block whose i is the first occurrence of its token owns that vocabulary row and adds
// the rows of every occurrence to it in token order (as the CPU's stable sort does); later occurrences find an
// earlier one and skip. Comparing ids costs O(n_tokens^2 / threads), far below the rows' traffic for prompt-sized
// batches. Bad ids (Java validates them before they reach the device) are skipped: nothing outside dW_E is touched.
__global__ void __launch_bounds__(kEmbedBackwardThreads)
embed_backward_kernel(int64_t n_tokens, const int32_t *tokens, const float *dout, int64_t d_vocab, int64_t d_model,
                      float *dW_E) {
    __shared__ int match[kEmbedBackwardThreads];
    __shared__ int seen_before;
    L4JC_FOR_ROWS(i, n_tokens) {
        const int32_t t = tokens[i];
        if (t < 0 || t >= d_vocab) continue;  // the same for the whole block
        if (threadIdx.x == 0) seen_before = 0;
        __syncthreads();
        for (int64_t j = threadIdx.x; j < i; j += blockDim.x)
            if (tokens[j] == t) seen_before = 1;  // every writer stores the same value
        __syncthreads();
        const bool owner = !seen_before;
        __syncthreads();  // read by all before the next row resets it
        if (!owner) continue;
        float *row = dW_E + (int64_t)t * d_model;
        for (int64_t j0 = i; j0 < n_tokens; j0 += blockDim.x) {
            const int64_t j = j0 + threadIdx.x;
            match[threadIdx.x] = j < n_tokens && tokens[j] == t;
            __syncthreads();
            const int64_t m = n_tokens - j0 < (int64_t)blockDim.x ? n_tokens - j0 : blockDim.x;
            for (int64_t q = 0; q < m; q++)
                if (match[q]) {
                    const float *src = dout + (j0 + q) * d_model;
                    L4JC_FOR_COLS(c, d_model) row[c] += src[c];
                }
            __syncthreads();  // match is refilled by the next chunk
        }
    }
}

// A block per position: dW_pos[p + offset] += dout[b, p] for b in order (the CPU's order and bits).
__global__ void pos_embed_backward_kernel(int64_t batch, int64_t seq, int64_t offset, const float *dout,
                                          int64_t d_model, float *dW_pos) {
    L4JC_FOR_ROWS(p, seq) {
        float *row = dW_pos + (p + offset) * d_model;
        L4JC_FOR_COLS(c, d_model) {
            float acc = row[c];
            for (int64_t b = 0; b < batch; b++) acc += dout[(b * seq + p) * d_model + c];
            row[c] = acc;
        }
    }
}

}  // namespace

extern "C" int l4jc_sum_rows(int64_t rows, int64_t d, const float *x, float *out, void *stream) {
    L4JC_CHECK(rows >= 0 && d > 0 && x && out);
    if (rows == 0) return L4J_OK;
    l4jc_col_reduce(rows, d, out, l4jc_entry{x, d}, stream);
    return L4JC_LAUNCHED("sum_rows");
}

extern "C" int l4jc_embed_backward(int64_t n_tokens, const int32_t *tokens, const float *dout, int64_t d_vocab,
                                   int64_t d_model, float *dW_E, void *stream) {
    L4JC_CHECK(n_tokens >= 0 && tokens && dout && dW_E && d_vocab > 0 && d_model > 0);
    if (n_tokens == 0) return L4J_OK;
    const int threads = l4jc_row_threads(d_model) < kEmbedBackwardThreads ? l4jc_row_threads(d_model) : kEmbedBackwardThreads;
    L4J_LAUNCH(embed_backward_kernel, l4jc_blocks(n_tokens, 1), threads, 0, stream, n_tokens, tokens, dout, d_vocab,
               d_model, dW_E);
    return L4JC_LAUNCHED("embed_backward");
}

extern "C" int l4jc_pos_embed_backward(int64_t batch, int64_t seq, int64_t offset, const float *dout, int64_t n_ctx,
                                       int64_t d_model, float *dW_pos, void *stream) {
    L4JC_CHECK(batch >= 0 && seq >= 0 && offset >= 0 && dout && dW_pos && d_model > 0);
    if (offset + seq > n_ctx) return L4J_ERR_RANGE;
    if (seq == 0 || batch == 0) return L4J_OK;
    L4J_LAUNCH(pos_embed_backward_kernel, l4jc_blocks(seq, 1), l4jc_row_threads(d_model), 0, stream, batch, seq, offset,
               dout, d_model, dW_pos);
    return L4JC_LAUNCHED("pos_embed_backward");
}
