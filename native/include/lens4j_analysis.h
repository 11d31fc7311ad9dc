/*
 * lens4j — the design card's analysis kernels: gradient-weighted neuron scoring (seed 000), attribution patching's
 * reductions, and linear / probability metrics of the logits with their gradients. Each has a CUDA twin (l4jc_*,
 * lens4j_cuda.h group L4JC_API_ANALYSIS) with the same arguments plus a stream, so no full-vocabulary logits or
 * per-neuron activations need to reach the host language. Every reduction is summed in a fixed order: results do
 * not depend on the thread count.
 */
#ifndef LENS4J_ANALYSIS_H
#define LENS4J_ANALYSIS_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Seed 000's neuron scores: out[r, j] = h[r * ldh + j] * sum_d W_out[j, d] * g[r * ldg + d], for rows r (prompts)
 * and neurons j. W_out [d_mlp, d_model] as TransformerLens stores it; h: mlp.hook_post at the scored position;
 * g: d metric / d resid_post at that position. out [rows, d_mlp] is overwritten.
 */
int l4j_neuron_scores(int64_t rows, int64_t d_mlp, int64_t d_model, const float *h, int64_t ldh, const float *W_out,
                      const float *g, int64_t ldg, float *out);

/*
 * Attribution patching's reduction over data [outer, n, inner]: out[j] = sum over o and i of
 * (corrupt - clean)[o, j, i] * grad[o, j, i] (overwritten). clean may be NULL: corrupt then holds the difference.
 * Neurons: [batch * pos, d_mlp, 1]; heads: [batch * pos, n_heads, d_head]; resid positions: [batch, pos, d_model].
 */
int l4j_attribution_reduce(int64_t outer, int64_t n, int64_t inner, const float *clean, const float *corrupt,
                           const float *grad, float *out);

/*
 * A linear metric of the logits per row b (logit difference, token-set difference, the forced-choice margin):
 * value[b] = sum_t weights[b, t] * logits[row_b, ids[b, t]], with row_b = row_index ? row_index[b] : b (e.g. each
 * prompt's last position in [batch * pos, vocab] logits). ids / weights are [rows, k] with ld_ids = k, or one shared
 * list when ld_ids = 0. dlogits (NULL: not wanted) gets += weights at those entries, so the caller zeroes it; its
 * rows row_b must be distinct and inside the logits (the caller's to check: the kernel does not know their count).
 * L4J_ERR_RANGE when an id or row is out of range (the CUDA twin skips such entries:
 * callers validate first).
 */
int l4j_logit_metric(int64_t rows, int64_t vocab, const float *logits, const int32_t *row_index, int64_t k,
                     const int32_t *ids, const float *weights, int64_t ld_ids, float *value, float *dlogits);

/*
 * As l4j_logit_metric on probabilities (seed 004's probability-set difference): with p = softmax(logits[row_b]) and
 * c_v the summed weights of id v, value[b] = sum_v c_v p_v, and dlogits[row_b, v] += p_v (c_v - value[b]). A row
 * of -inf only has p = 0 (value 0, no gradient), as l4j_softmax.
 */
int l4j_prob_metric(int64_t rows, int64_t vocab, const float *logits, const int32_t *row_index, int64_t k,
                    const int32_t *ids, const float *weights, int64_t ld_ids, float *value, float *dlogits);

#ifdef __cplusplus
}
#endif
#endif /* LENS4J_ANALYSIS_H */
