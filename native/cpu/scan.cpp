// Activation capture for neuron scans (lens4j_scan.h): running moments and top-k per neuron, updated in place from
// the activation buffer. Parallel over neurons: each neuron's state is touched by one thread, rows in order, so the
// result is the same for any thread count.
#include "common.h"
#include "lens4j_scan.h"
#include "scan_neuron.h"

extern "C" int l4j_scan_update(int64_t rows, int64_t n, const float *x, int64_t ldx, const int64_t *doc, const int32_t *pos,
                               int64_t k, double *count, double *mean, double *m2, float *maxv, double *npos,
                               float *top_val, int64_t *top_doc, int32_t *top_pos, int32_t *filled) {
    L4J_CHECK(rows >= 0 && n >= 0 && ldx >= n && k >= 0);
    if (rows == 0 || n == 0) return L4J_OK;
    L4J_CHECK(x && doc && pos && count && mean && m2 && maxv && npos && filled);
    L4J_CHECK(k == 0 || (top_val && top_doc && top_pos));
#pragma omp parallel for schedule(static) if (rows * n > L4J_PAR_MIN)
    for (int64_t j = 0; j < n; j++) {
        double c = count[j], mu = mean[j], s2 = m2[j], np = npos[j];
        float mx = maxv[j];
        float *tv = top_val + j * k;
        int64_t *td = top_doc + j * k;
        int32_t *tp = top_pos + j * k;
        for (int64_t r = 0; r < rows; r++)
            if (pos[r] >= 0) l4j_scan_fold(x[r * ldx + j], doc[r], pos[r], k, c, mu, s2, mx, np, tv, td, tp, filled + j);
        count[j] = c; mean[j] = mu; m2[j] = s2; npos[j] = np; maxv[j] = mx;
    }
    return L4J_OK;
}

extern "C" int l4j_scan_merge(int64_t n, int64_t k,
                              double *count, double *mean, double *m2, float *maxv, double *npos,
                              float *top_val, int64_t *top_doc, int32_t *top_pos, int32_t *filled,
                              const double *count_b, const double *mean_b, const double *m2_b, const float *maxv_b, const double *npos_b,
                              const float *top_val_b, const int64_t *top_doc_b, const int32_t *top_pos_b, const int32_t *filled_b) {
    L4J_CHECK(n >= 0 && k >= 0);
    if (n == 0) return L4J_OK;
    L4J_CHECK(count && mean && m2 && maxv && npos && filled && count_b && mean_b && m2_b && maxv_b && npos_b && filled_b);
    L4J_CHECK(k == 0 || (top_val && top_doc && top_pos && top_val_b && top_doc_b && top_pos_b));
#pragma omp parallel for schedule(static) if (n * k > L4J_PAR_MIN)
    for (int64_t j = 0; j < n; j++)
        l4j_scan_merge_neuron(j, k, count, mean, m2, maxv, npos, top_val, top_doc, top_pos, filled, count_b, mean_b, m2_b,
                              maxv_b, npos_b, top_val_b, top_doc_b, top_pos_b, filled_b);
    return L4J_OK;
}
