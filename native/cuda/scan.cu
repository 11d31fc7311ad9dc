// Activation capture for neuron scans on the GPU (the twin of cpu/scan.cpp, contract in lens4j_scan.h): one thread per
// neuron owns that neuron's moments and top-k list and folds the rows in order, exactly as the CPU does, so the state
// is the CPU's (same top-k, same order; moments equal up to the GPU's fused multiply-adds) and nothing goes to the host.
// Neighbouring threads read neighbouring columns of a row, so the loads of x are coalesced.
#include "l4jc.cuh"

namespace {
constexpr int kThreads = 256;

// a ranks before b: larger value, then earlier document, then earlier position
__device__ __forceinline__ bool before(float va, int64_t da, int32_t pa, float vb, int64_t db, int32_t pb) {
    if (va != vb) return va > vb;
    if (da != db) return da < db;
    return pa < pb;
}

// Inserts (v, d, p) into one neuron's sorted top-k list if it ranks high enough.
__device__ void offer(int64_t k, float v, int64_t d, int32_t p, float *tv, int64_t *td, int32_t *tp, int32_t *filled) {
    const int64_t f = *filled;
    if (f == k && !before(v, d, p, tv[k - 1], td[k - 1], tp[k - 1])) return;
    int64_t i = f < k ? f : k - 1;  // the slot that is free or gets dropped
    while (i > 0 && before(v, d, p, tv[i - 1], td[i - 1], tp[i - 1])) {
        tv[i] = tv[i - 1]; td[i] = td[i - 1]; tp[i] = tp[i - 1];
        i--;
    }
    tv[i] = v; td[i] = d; tp[i] = p;
    if (f < k) *filled = (int32_t)(f + 1);
}

__global__ void scan_update_kernel(int64_t rows, int64_t n, const float *x, int64_t ldx, const int64_t *doc,
                                   const int32_t *pos, int64_t k, double *count, double *mean, double *m2, float *maxv,
                                   double *npos, float *top_val, int64_t *top_doc, int32_t *top_pos, int32_t *filled) {
    for (int64_t j = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; j < n; j += (int64_t)gridDim.x * blockDim.x) {
        double c = count[j], mu = mean[j], s2 = m2[j], np = npos[j];
        float mx = maxv[j];
        int32_t fill = filled[j];  // kept in a register; top lists live in global memory
        for (int64_t r = 0; r < rows; r++) {
            const int32_t p = pos[r];
            if (p < 0) continue;
            const float v = x[r * ldx + j];
            c += 1;
            const double delta = v - mu;
            mu += delta / c;
            s2 += delta * (v - mu);
            if (c == 1 || v > mx || v != v) mx = (mx != mx) ? mx : v;  // NaN sticks
            if (v > 0) np += 1;
            if (k > 0) offer(k, v, doc[r], p, top_val + j * k, top_doc + j * k, top_pos + j * k, &fill);
        }
        count[j] = c; mean[j] = mu; m2[j] = s2; npos[j] = np; maxv[j] = mx; filled[j] = fill;
    }
}

__global__ void scan_merge_kernel(int64_t n, int64_t k, double *count, double *mean, double *m2, float *maxv, double *npos,
                                  float *top_val, int64_t *top_doc, int32_t *top_pos, int32_t *filled,
                                  const double *count_b, const double *mean_b, const double *m2_b, const float *maxv_b,
                                  const double *npos_b, const float *top_val_b, const int64_t *top_doc_b,
                                  const int32_t *top_pos_b, const int32_t *filled_b) {
    for (int64_t j = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; j < n; j += (int64_t)gridDim.x * blockDim.x) {
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
            offer(k, top_val_b[j * k + i], top_doc_b[j * k + i], top_pos_b[j * k + i], top_val + j * k, top_doc + j * k,
                  top_pos + j * k, filled + j);
    }
}
}  // namespace

extern "C" int l4jc_scan_update(int64_t rows, int64_t n, const float *x, int64_t ldx, const int64_t *doc, const int32_t *pos,
                                int64_t k, double *count, double *mean, double *m2, float *maxv, double *npos,
                                float *top_val, int64_t *top_doc, int32_t *top_pos, int32_t *filled, void *stream) {
    L4JC_CHECK(rows >= 0 && n >= 0 && ldx >= n && k >= 0);
    if (rows == 0 || n == 0) return L4J_OK;
    L4JC_CHECK(x && doc && pos && count && mean && m2 && maxv && npos && filled);
    L4JC_CHECK(k == 0 || (top_val && top_doc && top_pos));
    L4J_LAUNCH(scan_update_kernel, l4jc_blocks(n, kThreads), kThreads, 0, stream, rows, n, x, ldx, doc, pos, k, count,
               mean, m2, maxv, npos, top_val, top_doc, top_pos, filled);
    return L4JC_LAUNCHED("scan_update");
}

extern "C" int l4jc_scan_merge(int64_t n, int64_t k, double *count, double *mean, double *m2, float *maxv, double *npos,
                               float *top_val, int64_t *top_doc, int32_t *top_pos, int32_t *filled,
                               const double *count_b, const double *mean_b, const double *m2_b, const float *maxv_b,
                               const double *npos_b, const float *top_val_b, const int64_t *top_doc_b,
                               const int32_t *top_pos_b, const int32_t *filled_b, void *stream) {
    L4JC_CHECK(n >= 0 && k >= 0);
    if (n == 0) return L4J_OK;
    L4JC_CHECK(count && mean && m2 && maxv && npos && filled && count_b && mean_b && m2_b && maxv_b && npos_b && filled_b);
    L4JC_CHECK(k == 0 || (top_val && top_doc && top_pos && top_val_b && top_doc_b && top_pos_b));
    L4J_LAUNCH(scan_merge_kernel, l4jc_blocks(n, kThreads), kThreads, 0, stream, n, k, count, mean, m2, maxv, npos, top_val,
               top_doc, top_pos, filled, count_b, mean_b, m2_b, maxv_b, npos_b, top_val_b, top_doc_b, top_pos_b, filled_b);
    return L4JC_LAUNCHED("scan_merge");
}
