/*
 * lens4j — general tensor operations for analysis code (Tensor.slice / add / sum / topk / softmax / ...), beside
 * the model kernels of lens4j.h. Same conventions: float32 (indices int32), row-major, explicit shapes and strides
 * in elements, status codes. A dimension `dim` of a contiguous tensor is addressed as [outer, n, inner].
 */
#ifndef LENS4J_OPS_H
#define LENS4J_OPS_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define L4J_OPS_MAX_DIMS 16

/* out (contiguous, ndim dims of `shape`)[i_0..] = src[offset + sum_d i_d * strides[d]]; strides >= 0. Gathers any
 * slice / select / narrow / transpose / permute of a contiguous tensor (and views of views) into a new tensor. */
int l4j_strided_copy(int ndim, const int64_t *shape, const int64_t *strides, int64_t offset, const float *src, float *out);

/* out [outer, k, inner] = src[outer, idx[j], inner] for src [outer, n, inner]; L4J_ERR_RANGE for an index outside [0, n). */
int l4j_index_select(int64_t outer, int64_t n, int64_t inner, const float *src, int64_t k, const int32_t *idx, float *out);

#define L4J_BIN_ADD 0
#define L4J_BIN_SUB 1
#define L4J_BIN_MUL 2
#define L4J_BIN_DIV 3
#define L4J_BIN_MAX 4
#define L4J_BIN_MIN 5
/* out[shape] = a op b with broadcasting: a_strides / b_strides are 0 along broadcast dimensions. */
int l4j_binary(int op, int ndim, const int64_t *shape, const float *a, const int64_t *a_strides,
               const float *b, const int64_t *b_strides, float *out);

#define L4J_UN_NEG 0
#define L4J_UN_EXP 1
#define L4J_UN_LOG 2
#define L4J_UN_ABS 3
#define L4J_UN_SQRT 4
#define L4J_UN_SQUARE 5
/* out = op(x); out may alias x. */
int l4j_unary(int op, int64_t n, const float *x, float *out);

#define L4J_RED_SUM 0
#define L4J_RED_MEAN 1
#define L4J_RED_MAX 2
#define L4J_RED_MIN 3
#define L4J_RED_NORM2 4
/* out [outer, inner] = reduction of x [outer, n, inner] along n (summed in double; max/min propagate NaN). */
int l4j_reduce(int op, int64_t outer, int64_t n, int64_t inner, const float *x, float *out);
/* out [outer, inner] = index of the max (want_max != 0) or min along n: the first one (NaN counts as the largest). */
int l4j_arg_reduce(int want_max, int64_t outer, int64_t n, int64_t inner, const float *x, int32_t *out);
/* values / indices [outer, k, inner]: the k largest along n, in descending order, ties to the lower index. */
int l4j_topk(int64_t outer, int64_t n, int64_t inner, int64_t k, const float *x, float *values, int32_t *indices);
/* softmax (or log-softmax with log != 0) of x [outer, n, inner] along n. */
int l4j_softmax_dim(int log, int64_t outer, int64_t n, int64_t inner, const float *x, float *out);
/* out [outer, inner] = a.b / (max(|a|, eps) * max(|b|, eps)) along n (torch.nn.functional.cosine_similarity). */
int l4j_cosine_dim(int64_t outer, int64_t n, int64_t inner, const float *a, const float *b, float eps, float *out);

#ifdef __cplusplus
}
#endif
#endif /* LENS4J_OPS_H */
