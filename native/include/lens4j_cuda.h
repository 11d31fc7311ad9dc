/* lens4j CUDA part of the C ABI: device memory and (in later work) the l4jc_* twins of every l4j_* kernel,
 * with the same arguments plus a stream. Compiled only when nvcc is found. */
#ifndef LENS4J_CUDA_H
#define LENS4J_CUDA_H
#include "lens4j.h"
#ifdef __cplusplus
extern "C" {
#endif
/* number of usable devices, 0 when there is no driver or no GPU (never an error) */
int l4jc_device_count(void);
int l4jc_malloc(void **ptr, int64_t bytes);      /* zero-filled */
int l4jc_free(void *ptr);
/* kind: 0 host->device, 1 device->host, 2 device->device */
int l4jc_memcpy(void *dst, const void *src, int64_t bytes, int kind);
int l4jc_synchronize(void);
int l4jc_add(int64_t n, const float *a, const float *b, float *out);
#ifdef __cplusplus
}
#endif
#endif
