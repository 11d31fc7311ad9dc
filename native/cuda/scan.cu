// Activation capture for neuron scans on the GPU (the twin of cpu/scan.cpp, contract in lens4j_scan.h): one thread per
// neuron owns that neuron's moments and top-k list and folds the rows in order with the CPU's own code
// (cpu/scan_neuron.h), so the state is the CPU's (same top-k, same order; moments equal up to the GPU's fused
// multiply-adds) and nothing goes to the host.
// Neighbouring threads read neighbouring columns of a row, so the loads of x are coalesced.
#include "l4jc.cuh"
#include "../cpu/scan_neuron.h"

namespace {
constexpr int kThreads = 256;

__global__ void scan_update_kernel(int64_t rows, int64_t n, const float *x, int64_t ldx, const int64_t *doc,
                                   const int32_t *pos, int64_t k, double *count, double *mean, double *m2, float *maxv,
                                   double *npos, float *top_val, int64_t *top_doc, int32_t *top_pos, int32_t *filled) {
    for (int64_t j = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; j < n; j += (int64_t)gridDim.x * blockDim.x) {
        double c = count[j], mu = mean[j], s2 = m2[j], np = npos[j];
        float mx = maxv[j];
        int32_t fill = filled[j];  // kept in a register; top lists live in global memory
        for (int64_t r = 0; r < rows; r++)
            if (pos[r] >= 0) l4j_scan_fold(x[r * ldx + j], doc[r], pos[r], k, c, mu, s2, mx, np, top_val + j * k,
                                           top_doc + j * k, top_pos + j * k, &fill);
        count[j] = c; mean[j] = mu; m2[j] = s2; npos[j] = np; maxv[j] = mx; filled[j] = fill;
    }
}

__global__ void scan_merge_kernel(int64_t n, int64_t k, double *count, double *mean, double *m2, float *maxv, double *npos,
                                  float *top_val, int64_t *top_doc, int32_t *top_pos, int32_t *filled,
                                  const double *count_b, const double *mean_b, const double *m2_b, const float *maxv_b,
                                  const double *npos_b, const float *top_val_b, const int64_t *top_doc_b,
                                  const int32_t *top_pos_b, const int32_t *filled_b) {
    for (int64_t j = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; j < n; j += (int64_t)gridDim.x * blockDim.x)
        l4j_scan_merge_neuron(j, k, count, mean, m2, maxv, npos, top_val, top_doc, top_pos, filled, count_b, mean_b, m2_b,
                              maxv_b, npos_b, top_val_b, top_doc_b, top_pos_b, filled_b);
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
