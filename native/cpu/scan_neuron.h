// One neuron's scan state (lens4j_scan.h): the fold of one activation and the merge of two states, shared by the CPU
// kernel (cpu/scan.cpp) and its CUDA twin (cuda/scan.cu), so both keep the same top-k in the same order.
#pragma once
#include "host_device.h"
#include <cstdint>

// a ranks before b: larger value, then earlier document, then earlier position
L4J_HD bool l4j_scan_before(float va, int64_t da, int32_t pa, float vb, int64_t db, int32_t pb) {
    if (va != vb) return va > vb;
    if (da != db) return da < db;
    return pa < pb;
}

// Inserts (v, d, p) into one neuron's sorted top-k list if it ranks high enough.
L4J_HD void l4j_scan_offer(int64_t k, float v, int64_t d, int32_t p, float *tv, int64_t *td, int32_t *tp, int32_t *filled) {
    const int64_t f = *filled;
    if (f == k && !l4j_scan_before(v, d, p, tv[k - 1], td[k - 1], tp[k - 1])) return;
    int64_t i = f < k ? f : k - 1;  // the slot that is free or gets dropped
    while (i > 0 && l4j_scan_before(v, d, p, tv[i - 1], td[i - 1], tp[i - 1])) {
        tv[i] = tv[i - 1]; td[i] = td[i - 1]; tp[i] = tp[i - 1];
        i--;
    }
    tv[i] = v; td[i] = d; tp[i] = p;
    if (f < k) *filled = (int32_t)(f + 1);
}

// Folds activation v (document d, position p >= 0) into the moments (Welford) and the top-k list.
L4J_HD void l4j_scan_fold(float v, int64_t d, int32_t p, int64_t k, double &c, double &mu, double &s2, float &mx,
                          double &np, float *tv, int64_t *td, int32_t *tp, int32_t *filled) {
    c += 1;
    const double delta = v - mu;
    mu += delta / c;
    s2 += delta * (v - mu);
    if (c == 1 || v > mx || v != v) mx = (mx != mx) ? mx : v;  // NaN sticks
    if (v > 0) np += 1;
    if (k > 0) l4j_scan_offer(k, v, d, p, tv, td, tp, filled);
}

// Merges neuron j of state b into state a (Chan's pairwise moments; the union of the top-k lists, same order).
L4J_HD void l4j_scan_merge_neuron(int64_t j, int64_t k, double *count, double *mean, double *m2, float *maxv, double *npos,
                                  float *top_val, int64_t *top_doc, int32_t *top_pos, int32_t *filled,
                                  const double *count_b, const double *mean_b, const double *m2_b, const float *maxv_b,
                                  const double *npos_b, const float *top_val_b, const int64_t *top_doc_b,
                                  const int32_t *top_pos_b, const int32_t *filled_b) {
    const double ca = count[j], cb = count_b[j];
    if (cb > 0) {
        const double c = ca + cb, delta = mean_b[j] - mean[j];
        if (ca == 0) {
            mean[j] = mean_b[j]; m2[j] = m2_b[j]; maxv[j] = maxv_b[j];
        } else {
            mean[j] += delta * cb / c;
            m2[j] += m2_b[j] + delta * delta * ca * cb / c;
            if (maxv_b[j] > maxv[j] || maxv_b[j] != maxv_b[j]) maxv[j] = maxv_b[j];
        }
        count[j] = c;
        npos[j] += npos_b[j];
    }
    for (int64_t i = 0; i < filled_b[j] && i < k; i++)
        l4j_scan_offer(k, top_val_b[j * k + i], top_doc_b[j * k + i], top_pos_b[j * k + i], top_val + j * k,
                       top_doc + j * k, top_pos + j * k, filled + j);
}
