/*
 * lens4j — activation capture for neuron scans (a neuroscope): per-neuron running statistics and top-k updated
 * straight from an activation buffer, with nothing copied to the host language. The CUDA backend implements the
 * same ABI (plus a stream). State arrays are owned by the caller; all per-neuron arrays are indexed by neuron.
 */
#ifndef LENS4J_SCAN_H
#define LENS4J_SCAN_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Folds activation rows x [rows, n] (row stride ldx) into the state. Row r came from document doc[r] at token position
 * pos[r]; rows with pos[r] < 0 (BOS, padding) are skipped. Moments: count, mean, m2 (Welford, double), max, npos (x > 0).
 * Top-k per neuron, kept sorted: top_val [n, k] descending, top_doc [n, k], top_pos [n, k], filled [n]; order is
 * (value desc, doc asc, pos asc), so the result does not depend on how rows are batched.
 */
int l4j_scan_update(int64_t rows, int64_t n, const float *x, int64_t ldx, const int64_t *doc, const int32_t *pos,
                    int64_t k, double *count, double *mean, double *m2, float *maxv, double *npos,
                    float *top_val, int64_t *top_doc, int32_t *top_pos, int32_t *filled);

/* Merges state b into state a (Chan's pairwise moments; the union of the top-k lists, same order). */
int l4j_scan_merge(int64_t n, int64_t k,
                   double *count, double *mean, double *m2, float *maxv, double *npos,
                   float *top_val, int64_t *top_doc, int32_t *top_pos, int32_t *filled,
                   const double *count_b, const double *mean_b, const double *m2_b, const float *maxv_b, const double *npos_b,
                   const float *top_val_b, const int64_t *top_doc_b, const int32_t *top_pos_b, const int32_t *filled_b);

#ifdef __cplusplus
}
#endif
#endif /* LENS4J_SCAN_H */
