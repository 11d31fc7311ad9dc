// Backward of softmax, log_softmax and cross-entropy over the last dimension. See lens4j.h "backward".
#include "backward.h"
#include <limits>

extern "C" int l4j_softmax_backward(int64_t rows, int64_t n, const float *y, const float *dout, float *dx) {
    L4J_CHECK(rows >= 0 && n > 0 && y && dout && dx);
#pragma omp parallel for schedule(static) if (rows * n > L4J_PAR_MIN)
    for (int64_t r = 0; r < rows; r++) {
        const float *yr = y + r * n, *gr = dout + r * n;
        float *o = dx + r * n;
        // masked entries (y == 0) are left out of the sum and get exactly 0, whatever their upstream value
        double s = 0;
        for (int64_t i = 0; i < n; i++)
            if (yr[i] != 0.0f) s += (double)yr[i] * gr[i];
        const float sf = (float)s;
        for (int64_t i = 0; i < n; i++) o[i] = yr[i] != 0.0f ? yr[i] * (gr[i] - sf) : 0.0f;
    }
    return L4J_OK;
}

extern "C" int l4j_log_softmax_backward(int64_t rows, int64_t n, const float *y, const float *dout, float *dx) {
    L4J_CHECK(rows >= 0 && n > 0 && y && dout && dx);
#pragma omp parallel for schedule(static) if (rows * n > L4J_PAR_MIN)
    for (int64_t r = 0; r < rows; r++) {
        const float *yr = y + r * n, *gr = dout + r * n;
        float *o = dx + r * n;
        double s = 0;
        for (int64_t i = 0; i < n; i++) s += gr[i];
        const float sf = (float)s;
        for (int64_t i = 0; i < n; i++) o[i] = gr[i] - l4j_exp(yr[i]) * sf;  // exp(-inf) = 0: masked keeps dout
    }
    return L4J_OK;
}

extern "C" int l4j_cross_entropy_backward(int64_t rows, int64_t n, const float *logits, const int32_t *targets,
                                          const float *dloss, float *dlogits) {
    L4J_CHECK(rows >= 0 && n > 0 && logits && targets && dloss && dlogits);
    for (int64_t r = 0; r < rows; r++)
        if (targets[r] < 0 || targets[r] >= n) return L4J_ERR_RANGE;
#pragma omp parallel for schedule(static) if (rows * n > L4J_PAR_MIN)
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = logits + r * n;
        float *o = dlogits + r * n;
        float m = -std::numeric_limits<float>::infinity();
        for (int64_t i = 0; i < n; i++) m = xr[i] > m ? xr[i] : m;
        double s = 0;  // double, as the forward's log-sum-exp, for long vocabularies
        for (int64_t i = 0; i < n; i++) s += l4j_exp(xr[i] - m);
        const float k = dloss[r] / (float)s;
        for (int64_t i = 0; i < n; i++) o[i] = k * l4j_exp(xr[i] - m);
        o[targets[r]] -= dloss[r];
    }
    return L4J_OK;
}
