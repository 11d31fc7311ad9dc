// The design card's analysis kernels (lens4j_analysis.h): neuron scores, attribution reductions, logit metrics.
// Parallel over outputs only, each output summed in one thread in a fixed order: thread-count invariant.
#include "common.h"
#include "lens4j_analysis.h"
#include <vector>

extern "C" int l4j_neuron_scores(int64_t rows, int64_t d_mlp, int64_t d_model, const float *h, int64_t ldh,
                                 const float *W_out, const float *g, int64_t ldg, float *out) {
    L4J_CHECK(rows >= 0 && d_mlp >= 0 && d_model >= 0 && ldh >= d_mlp && ldg >= d_model);
    if (rows == 0 || d_mlp == 0) return L4J_OK;
    L4J_CHECK(h && W_out && g && out);
    if (d_model == 0) {
        std::memset(out, 0, sizeof(float) * rows * d_mlp);
        return L4J_OK;
    }
    // W_out . g for every row is one GEMM, g [rows, d_model] @ W_out^T; then the elementwise product with h
    if (int s = l4j_gemm(0, 1, rows, d_mlp, d_model, 1.0f, g, ldg, W_out, d_model, 0.0f, out, d_mlp, nullptr)) return s;
    for (int64_t r = 0; r < rows; r++)
        for (int64_t j = 0; j < d_mlp; j++) out[r * d_mlp + j] *= h[r * ldh + j];
    return L4J_OK;
}

extern "C" int l4j_attribution_reduce(int64_t outer, int64_t n, int64_t inner, const float *clean, const float *corrupt,
                                      const float *grad, float *out) {
    L4J_CHECK(outer >= 0 && n >= 0 && inner >= 0);
    if (n == 0) return L4J_OK;
    L4J_CHECK(out);
    L4J_CHECK((outer == 0 || inner == 0) || (corrupt && grad));
    // blocks of outputs per thread, rows streamed in memory order (inner 1 would otherwise stride by n per element);
    // each output still sums o ascending, then i ascending, whatever the thread count
    constexpr int64_t block = 256;
#pragma omp parallel for schedule(static) if (outer * n * inner > L4J_PAR_MIN)
    for (int64_t j0 = 0; j0 < n; j0 += block) {
        const int64_t j1 = j0 + block < n ? j0 + block : n;
        double acc[block] = {};
        for (int64_t o = 0; o < outer; o++)
            for (int64_t j = j0; j < j1; j++) {
                const int64_t base = (o * n + j) * inner;
                double s = 0;
                for (int64_t i = 0; i < inner; i++) {
                    const float d = clean ? corrupt[base + i] - clean[base + i] : corrupt[base + i];
                    s += (double)d * grad[base + i];
                }
                acc[j - j0] += s;
            }
        for (int64_t j = j0; j < j1; j++) out[j] = (float)acc[j - j0];
    }
    return L4J_OK;
}

namespace {
// Arguments shared by the two metrics; L4J_ERR_RANGE for an id or row outside the logits.
int metric_args(int64_t rows, int64_t vocab, const float *logits, const int32_t *row_index, int64_t k,
                const int32_t *ids, const float *weights, int64_t ld_ids, const float *value) {
    L4J_CHECK(rows >= 0 && vocab > 0 && k >= 0 && (ld_ids == 0 || ld_ids >= k));
    if (rows == 0) return L4J_OK;
    L4J_CHECK(logits && value && (k == 0 || (ids && weights)));
    const int64_t lists = ld_ids == 0 ? 1 : rows;
    for (int64_t b = 0; b < lists; b++)
        for (int64_t t = 0; t < k; t++)
            if (ids[b * ld_ids + t] < 0 || ids[b * ld_ids + t] >= vocab) return L4J_ERR_RANGE;
    if (row_index)
        for (int64_t b = 0; b < rows; b++) if (row_index[b] < 0) return L4J_ERR_RANGE;
    return L4J_OK;
}
}  // namespace

extern "C" int l4j_logit_metric(int64_t rows, int64_t vocab, const float *logits, const int32_t *row_index, int64_t k,
                                const int32_t *ids, const float *weights, int64_t ld_ids, float *value, float *dlogits) {
    if (int s = metric_args(rows, vocab, logits, row_index, k, ids, weights, ld_ids, value)) return s;
    for (int64_t b = 0; b < rows; b++) {
        const int64_t row = (row_index ? row_index[b] : b) * vocab;
        const int32_t *id = ids + b * ld_ids;
        const float *w = weights + b * ld_ids;
        double v = 0;
        for (int64_t t = 0; t < k; t++) {
            v += (double)w[t] * logits[row + id[t]];
            if (dlogits) dlogits[row + id[t]] += w[t];
        }
        value[b] = (float)v;
    }
    return L4J_OK;
}

extern "C" int l4j_prob_metric(int64_t rows, int64_t vocab, const float *logits, const int32_t *row_index, int64_t k,
                               const int32_t *ids, const float *weights, int64_t ld_ids, float *value, float *dlogits) {
    if (int s = metric_args(rows, vocab, logits, row_index, k, ids, weights, ld_ids, value)) return s;
    std::vector<double> c(vocab, 0.0);
    for (int64_t b = 0; b < rows; b++) {
        const float *x = logits + (row_index ? row_index[b] : b) * vocab;
        const int32_t *id = ids + b * ld_ids;
        const float *w = weights + b * ld_ids;
        float m = -INFINITY;
        for (int64_t v = 0; v < vocab; v++) m = x[v] > m ? x[v] : m;
        if (m == -INFINITY) { value[b] = 0.0f; continue; }  // an all-masked row: softmax gives 0, as l4j_softmax
        double sum = 0;
        for (int64_t v = 0; v < vocab; v++) sum += std::exp((double)x[v] - m);
        double val = 0;
        for (int64_t t = 0; t < k; t++) {
            c[id[t]] += w[t];
            val += w[t] * (std::exp((double)x[id[t]] - m) / sum);
        }
        value[b] = (float)val;
        if (dlogits) {
            float *dx = dlogits + (x - logits);
            for (int64_t v = 0; v < vocab; v++) dx[v] += (float)(std::exp((double)x[v] - m) / sum * (c[v] - val));
        }
        for (int64_t t = 0; t < k; t++) c[id[t]] = 0.0;
    }
    return L4J_OK;
}
