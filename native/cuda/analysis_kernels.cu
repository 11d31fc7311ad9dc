// The design card's analysis kernels on the GPU (lens4j_analysis.h, group L4JC_API_ANALYSIS of lens4j_cuda.h):
// neuron scores, attribution reductions, logit / probability metrics, and activation capture to pinned memory.
// Every sum has a fixed partition over threads and a fixed reduction tree (no atomics): results are deterministic.
#include "l4jc.cuh"

namespace {
constexpr int kThreads = 256;
constexpr int kWarps = kThreads / 32;
constexpr int kScoreRows = 8;     // prompts sharing one pass over W_out's rows
constexpr int kScoreChunk = 256;  // d_model elements of g staged in shared memory at a time

// One warp per neuron j, kScoreRows rows per block: W_out[j] is read once (coalesced along d_model) for all of them,
// g's rows come from shared memory; lanes hold partial dots, summed by a fixed shuffle tree.
__global__ void neuron_scores_kernel(int64_t rows, int64_t F, int64_t D, const float *h, int64_t ldh, const float *W,
                                     const float *g, int64_t ldg, float *out) {
    __shared__ float gs[kScoreRows][kScoreChunk];
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    const int64_t j = (int64_t)blockIdx.x * kWarps + warp;
    for (int64_t r0 = (int64_t)blockIdx.y * kScoreRows; r0 < rows; r0 += (int64_t)gridDim.y * kScoreRows) {
        float acc[kScoreRows];
        for (int r = 0; r < kScoreRows; r++) acc[r] = 0.0f;
        for (int64_t d0 = 0; d0 < D; d0 += kScoreChunk) {
            const int len = (int)(D - d0 < kScoreChunk ? D - d0 : kScoreChunk);
            for (int t = threadIdx.x; t < kScoreRows * kScoreChunk; t += blockDim.x) {
                const int r = t / kScoreChunk, d = t % kScoreChunk;
                gs[r][d] = (r0 + r < rows && d < len) ? g[(r0 + r) * ldg + d0 + d] : 0.0f;
            }
            __syncthreads();
            if (j < F) {
                const float *w = W + j * D + d0;
                for (int d = lane; d < len; d += 32) {
                    const float wv = w[d];
                    for (int r = 0; r < kScoreRows; r++) acc[r] = fmaf(wv, gs[r][d], acc[r]);
                }
            }
            __syncthreads();  // gs is rewritten by the next chunk
        }
        for (int r = 0; r < kScoreRows; r++) {
            const float s = l4jc_warp_sum(acc[r]);
            if (lane == 0 && j < F && r0 + r < rows) out[(r0 + r) * F + j] = h[(r0 + r) * ldh + j] * s;
        }
    }
}

__device__ __forceinline__ float delta_times_grad(const float *clean, const float *corrupt, const float *grad, int64_t e) {
    const float d = clean ? corrupt[e] - clean[e] : corrupt[e];
    return d * grad[e];
}

// inner >= 32: a block per output j, threads strided over (o, i) so that loads run along the contiguous inner run.
__global__ void attribution_rows_kernel(int64_t outer, int64_t n, int64_t inner, const float *clean, const float *corrupt,
                                        const float *grad, float *out) {
    __shared__ float red[33];
    const int64_t m = outer * inner;
    for (int64_t j = blockIdx.x; j < n; j += gridDim.x) {
        float s = 0.0f;
        for (int64_t e = threadIdx.x; e < m; e += blockDim.x) {
            const int64_t o = e / inner, i = e - o * inner;
            s += delta_times_grad(clean, corrupt, grad, (o * n + j) * inner + i);
        }
        s = l4jc_block_sum(s, red);
        if (threadIdx.x == 0) out[j] = s;
    }
}

// inner < 32 (neurons: inner 1): 32 consecutive outputs per block, read along j (coalesced); the 8 warps split the
// outer rows and their partial sums are added in warp order.
__global__ void attribution_cols_kernel(int64_t outer, int64_t n, int64_t inner, const float *clean, const float *corrupt,
                                        const float *grad, float *out) {
    __shared__ float part[kWarps][32];
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    for (int64_t j0 = (int64_t)blockIdx.x * 32; j0 < n; j0 += (int64_t)gridDim.x * 32) {
        const int64_t j = j0 + lane;
        float s = 0.0f;
        if (j < n)
            for (int64_t o = warp; o < outer; o += kWarps)
                for (int64_t i = 0; i < inner; i++) s += delta_times_grad(clean, corrupt, grad, (o * n + j) * inner + i);
        part[warp][lane] = s;
        __syncthreads();
        if (warp == 0 && j < n) {
            float t = 0.0f;
            for (int w = 0; w < kWarps; w++) t += part[w][lane];
            out[j] = t;
        }
        __syncthreads();  // part is rewritten by the next tile
    }
}

// One thread per row: k is a handful of tokens, summed in order (duplicate ids add up, no races).
__global__ void logit_metric_kernel(int64_t rows, int64_t vocab, const float *logits, const int32_t *row_index, int64_t k,
                                    const int32_t *ids, const float *weights, int64_t ld_ids, float *value, float *dlogits) {
    for (int64_t b = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; b < rows; b += (int64_t)gridDim.x * blockDim.x) {
        const int64_t r = row_index ? row_index[b] : b;
        double v = 0.0;
        if (r >= 0)
            for (int64_t t = 0; t < k; t++) {
                const int32_t id = ids[b * ld_ids + t];
                if (id < 0 || id >= vocab) continue;  // validated by the caller; never read outside the row
                const float w = weights[b * ld_ids + t];
                v += (double)w * logits[r * vocab + id];
                if (dlogits) dlogits[r * vocab + id] += w;
            }
        value[b] = (float)v;
    }
}

// A block per row: max and sum of exp by fixed block reductions, then the gradient p_v (c_v - value) in two passes
// (-p_v value everywhere, then + p_v w_t at each id by thread 0, in order).
__global__ void prob_metric_kernel(int64_t rows, int64_t vocab, const float *logits, const int32_t *row_index, int64_t k,
                                   const int32_t *ids, const float *weights, int64_t ld_ids, float *value, float *dlogits) {
    __shared__ float red[33];
    __shared__ float val_s;
    for (int64_t b = blockIdx.x; b < rows; b += gridDim.x) {
        const int64_t r = row_index ? row_index[b] : b;
        if (r < 0) { if (threadIdx.x == 0) value[b] = 0.0f; continue; }  // uniform over the block
        const float *x = logits + r * vocab;
        float m = -INFINITY;
        for (int64_t v = threadIdx.x; v < vocab; v += blockDim.x) m = fmaxf(m, x[v]);
        m = l4jc_block_max(m, red);
        if (m == -INFINITY) { if (threadIdx.x == 0) value[b] = 0.0f; continue; }  // all masked: p = 0
        float s = 0.0f;
        for (int64_t v = threadIdx.x; v < vocab; v += blockDim.x) s += expf(x[v] - m);
        const float sum = l4jc_block_sum(s, red);
        if (threadIdx.x == 0) {
            double val = 0.0;
            for (int64_t t = 0; t < k; t++) {
                const int32_t id = ids[b * ld_ids + t];
                if (id >= 0 && id < vocab) val += (double)weights[b * ld_ids + t] * (expf(x[id] - m) / sum);
            }
            val_s = (float)val;
            value[b] = (float)val;
        }
        __syncthreads();
        if (dlogits) {
            float *dx = dlogits + r * vocab;
            const float val = val_s;
            for (int64_t v = threadIdx.x; v < vocab; v += blockDim.x) dx[v] -= expf(x[v] - m) / sum * val;
            __syncthreads();
            if (threadIdx.x == 0)
                for (int64_t t = 0; t < k; t++) {
                    const int32_t id = ids[b * ld_ids + t];
                    if (id >= 0 && id < vocab) dx[id] += expf(x[id] - m) / sum * weights[b * ld_ids + t];
                }
        }
        __syncthreads();  // val_s and red are reused by the next row
    }
}

// out [outer, k, inner] = src[:, idx, :]; an idx outside [0, n) gives zeros (never a read outside src).
__global__ void capture_gather_kernel(int64_t outer, int64_t n, int64_t inner, const float *src, int64_t k,
                                      const int32_t *idx, float *out) {
    const int64_t total = outer * k * inner;
    for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < total; e += (int64_t)gridDim.x * blockDim.x) {
        const int64_t i = e % inner, oj = e / inner, j = oj % k, o = oj / k;
        const int32_t p = idx[j];
        out[e] = (p >= 0 && p < n) ? src[(o * n + p) * inner + i] : 0.0f;
    }
}

bool metric_args_ok(int64_t rows, int64_t vocab, const float *logits, int64_t k, const int32_t *ids, const float *weights,
                    int64_t ld_ids, const float *value) {
    return rows >= 0 && vocab > 0 && k >= 0 && (ld_ids == 0 || ld_ids >= k) &&
           (rows == 0 || (logits && value && (k == 0 || (ids && weights))));
}
}  // namespace

extern "C" int l4jc_neuron_scores(int64_t rows, int64_t d_mlp, int64_t d_model, const float *h, int64_t ldh, const float *W_out,
                                  const float *g, int64_t ldg, float *out, void *stream) {
    L4JC_CHECK(rows >= 0 && d_mlp >= 0 && d_model >= 0 && ldh >= d_mlp && ldg >= d_model);
    if (rows == 0 || d_mlp == 0) return L4J_OK;
    L4JC_CHECK(h && W_out && g && out);
    const int64_t tiles = (rows + kScoreRows - 1) / kScoreRows, blocks = (d_mlp + kWarps - 1) / kWarps;
    L4JC_CHECK(blocks <= 0x7fffffff);
    dim3 grid((unsigned)blocks, (unsigned)(tiles < 65535 ? tiles : 65535));
    L4J_LAUNCH(neuron_scores_kernel, grid, kThreads, 0, stream, rows, d_mlp, d_model, h, ldh, W_out, g, ldg, out);
    return L4JC_LAUNCHED("neuron_scores");
}

extern "C" int l4jc_attribution_reduce(int64_t outer, int64_t n, int64_t inner, const float *clean, const float *corrupt,
                                       const float *grad, float *out, void *stream) {
    L4JC_CHECK(outer >= 0 && n >= 0 && inner >= 0);
    if (n == 0) return L4J_OK;
    L4JC_CHECK(out);
    L4JC_CHECK((outer == 0 || inner == 0) || (corrupt && grad));
    if (inner >= 32)
        L4J_LAUNCH(attribution_rows_kernel, (unsigned)(n < 65535 * 8 ? n : 65535 * 8), kThreads, 0, stream,
                   outer, n, inner, clean, corrupt, grad, out);
    else
        L4J_LAUNCH(attribution_cols_kernel, l4jc_blocks(n, 32), kThreads, 0, stream, outer, n, inner, clean, corrupt, grad, out);
    return L4JC_LAUNCHED("attribution_reduce");
}

extern "C" int l4jc_logit_metric(int64_t rows, int64_t vocab, const float *logits, const int32_t *row_index, int64_t k,
                                 const int32_t *ids, const float *weights, int64_t ld_ids, float *value, float *dlogits, void *stream) {
    L4JC_CHECK(metric_args_ok(rows, vocab, logits, k, ids, weights, ld_ids, value));
    if (rows == 0) return L4J_OK;
    L4J_LAUNCH(logit_metric_kernel, l4jc_blocks(rows, 128), 128, 0, stream, rows, vocab, logits, row_index, k, ids, weights,
               ld_ids, value, dlogits);
    return L4JC_LAUNCHED("logit_metric");
}

extern "C" int l4jc_prob_metric(int64_t rows, int64_t vocab, const float *logits, const int32_t *row_index, int64_t k,
                                const int32_t *ids, const float *weights, int64_t ld_ids, float *value, float *dlogits, void *stream) {
    L4JC_CHECK(metric_args_ok(rows, vocab, logits, k, ids, weights, ld_ids, value));
    if (rows == 0) return L4J_OK;
    L4J_LAUNCH(prob_metric_kernel, (unsigned)(rows < 65535 * 8 ? rows : 65535 * 8), kThreads, 0, stream, rows, vocab, logits,
               row_index, k, ids, weights, ld_ids, value, dlogits);
    return L4JC_LAUNCHED("prob_metric");
}

extern "C" int l4jc_event_create(void **event) {
    L4JC_CHECK(event);
    cudaEvent_t e = nullptr;
    if (int s = l4jc_record(cudaEventCreate(&e), "cudaEventCreate")) return s;
    *event = (void *)e;
    return L4J_OK;
}

extern "C" int l4jc_event_destroy(void *event) {
    L4JC_CHECK(event);
    return l4jc_record(cudaEventDestroy((cudaEvent_t)event), "cudaEventDestroy");
}

extern "C" int l4jc_event_record(void *event, void *stream) {
    L4JC_CHECK(event);
    return l4jc_record(cudaEventRecord((cudaEvent_t)event, L4JC_STREAM(stream)), "cudaEventRecord");
}

extern "C" int l4jc_event_synchronize(void *event) {
    L4JC_CHECK(event);
    return l4jc_record(cudaEventSynchronize((cudaEvent_t)event), "cudaEventSynchronize (a kernel or copy failed)");
}

extern "C" int l4jc_stream_wait_event(void *stream, void *event) {
    L4JC_CHECK(event);
    return l4jc_record(cudaStreamWaitEvent(L4JC_STREAM(stream), (cudaEvent_t)event, 0), "cudaStreamWaitEvent");
}

extern "C" int l4jc_capture_async(int64_t outer, int64_t n, int64_t inner, const float *src, int64_t k, const int32_t *idx,
                                  float *staging, float *host_dst, void *ready, void *done, void *copy_stream, void *stream) {
    L4JC_CHECK(outer >= 0 && n >= 0 && inner >= 0 && k >= 0 && ready && done);
    const int64_t total = outer * k * inner;
    L4JC_CHECK(total == 0 || (src && idx && staging && host_dst && n > 0));
    if (total > 0) {
        L4J_LAUNCH(capture_gather_kernel, l4jc_blocks(total, kThreads), kThreads, 0, stream, outer, n, inner, src, k, idx, staging);
        if (int s = L4JC_LAUNCHED("capture_async gather")) return s;
    }
    if (int s = l4jc_event_record(ready, stream)) return s;
    if (int s = l4jc_stream_wait_event(copy_stream, ready)) return s;
    if (total > 0)
        if (int s = l4jc_record(cudaMemcpyAsync(host_dst, staging, (size_t)total * sizeof(float), cudaMemcpyDeviceToHost,
                                                L4JC_STREAM(copy_stream)), "capture_async copy"))
            return s;
    return l4jc_event_record(done, copy_stream);
}
