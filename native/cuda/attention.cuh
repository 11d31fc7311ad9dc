// The tiled attention GEMMs of attention.cu, shared with backward_attention.cu (host-side launchers: kernels stay
// private to attention.cu). Shapes as lens4j.h: "rows" tensors [batch, q_len, n_heads, d_head], "keys" tensors
// [batch, k_len, n_kv_heads, d_head], square ones [batch, n_heads, q_len, k_len]; query head h reads kv head
// h / (n_heads / n_kv_heads).
#pragma once
#include "l4jc.cuh"

struct AttnShape { int64_t batch, q_len, k_len, n_heads, n_kv_heads, d_head; };
// Which (query, key) pairs exist: with on == 0 all of them; else causal (query i at position k_len - q_len + i),
// the sliding window (0: none) and key_range (device [batch, 2], NULL: all keys), as l4j_attention_masked.
struct AttnMask { int on; int64_t window; const int64_t *key_range; };

// out[b,h,i,j] = scale * rows_i . keys_j, capped when softcap > 0; -inf where the mask hides (i, j)
int l4jc_attn_qk(const AttnShape &s, const AttnMask &m, const float *rows, const float *keys, float scale,
                 float softcap, float *out, void *stream);
// out[b,i,h,:] = scale * sum_j sq[b,h,i,j] keys[b,j,kvh,:]; hidden sq entries are never read
int l4jc_attn_pv(const AttnShape &s, const AttnMask &m, const float *sq, const float *keys, float scale, float *out,
                 void *stream);
// out[b,j,kvh,:] = scale * sum over the group's heads h and queries i of sq[b,h,i,j] rows[b,i,h,:] (overwritten,
// a fixed summation order: deterministic); hidden sq entries are never read
int l4jc_attn_ptx(const AttnShape &s, const AttnMask &m, const float *sq, const float *rows, float scale, float *out,
                  void *stream);
