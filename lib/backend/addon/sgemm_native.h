// The native kernels' contracts, shared by the AVX2 files (sgemm_avx2.c, elementwise_avx2.c, layer_norm_avx2.c,
// attention_avx2.c) and the addon's glue (peftlab_native.c, transformer_glue.c).
#ifndef PEFTLAB_SGEMM_NATIVE_H
#define PEFTLAB_SGEMM_NATIVE_H
#include <stddef.h>
#include <stdint.h>

// C[m,n] (row stride ldc) = op(A)·op(B) (+ bias) (act), op(A)(i,k) = a[i·ars + k·acs], op(B)(k,j) = b[k·brs + j·bcs].
typedef struct {
  const float *a;
  long ars, acs;
  const float *b;
  long brs, bcs;
  float *c;
  long ldc;
  int m, k, n;
  const float *bias; // NULL: none
  int bstride;       // 0: bias[0] for every column; 1: bias[j]
  int act;           // 0 linear, 1 ReLU, 2 ReLU6
} sgemm_args_t;

// Floats of scratch one call of sgemm_native needs (whatever the shape).
size_t sgemm_native_work_floats(void);
void sgemm_native(const sgemm_args_t *g, float *work);

// y[i] = GELU(x[i]) (erf form) and, when g is not NULL, g[i] = GELU'(x[i]), for i < len (elementwise_avx2.c).
void gelu_erf_native(const float *x, float *y, float *g, long len);
// out[i] = a[i]·b[i] for i < len (elementwise_avx2.c).
void mul_native(const float *a, const float *b, float *out, long len);

// LayerNorm over rows of d floats (layer_norm_avx2.c), for rows [r0, r1): y = (x − μ)·σ⁻¹·γ + β with
// σ⁻¹ = 1/√(var + eps) (biased variance, as PyTorch); writes μ and σ⁻¹ per row.
void layer_norm_rows(const float *x, const float *gamma, const float *beta, float *y, float *mean, float *rstd,
                     long r0, long r1, int d, float eps);
// Its input gradient for rows [r0, r1): with x̂ = (x − μ)·σ⁻¹ and g = dy·γ, dx = σ⁻¹·(g − mean(g) − x̂·mean(g·x̂)).
void layer_norm_grad_rows(const float *x, const float *mean, const float *rstd, const float *gamma, const float *dy,
                          float *dx, long r0, long r1, int d);

// Per-channel kernels over [rows, C] (channel_avx2.c). channel_block_sums: for blocks [b0, b1) of 64 rows,
// blocks[b·C + c] = Σ over the block's rows of x (mode 0), (x − m)² (1) or y·(x − m) (2), each summed in row order;
// channel_sum_blocks(rows) is the number of blocks. channel_affine_rows: out = p·a + r, or with b:
// out = p·a + q·(b − m) + r, for rows [r0, r1). relu_grad_native: dx = dy where y > 0 (and y < 6 with cap6), else 0.
void channel_block_sums(const float *x, const float *y, const float *m, int mode, long rows, int C, long b0, long b1,
                        float *blocks);
long channel_sum_blocks(long rows);
void channel_affine_rows(float *out, const float *a, const float *p, const float *b, const float *m, const float *q,
                         const float *r, long r0, long r1, int C);
void relu_grad_native(float *dx, const float *dy, const float *y, long len, int cap6);

// Depthwise conv forward, NHWC, channel multiplier 1, no dilation (depthwise_avx2.c): for output rows
// [r0, r1) of the n·out_h rows, out[n, oh, ow, c] = act(bias[c] + Σ x[n, oh·sh − pt + i, ow·sw − pl + j, c]·w[i, j, c])
// over the taps inside the input. kh·kw ≤ 25.
typedef struct {
  const float *x, *w, *bias; // x [n, in_h, in_w, c], w [kh, kw, c], bias [c] or NULL
  float *out;                // [n, out_h, out_w, c]
  int n, in_h, in_w, c, kh, kw, stride_h, stride_w, pad_top, pad_left, out_h, out_w, act;
} depthwise_args_t;
void depthwise_rows(const depthwise_args_t *a, long r0, long r1);

// Multi-head self-attention on a fused qkv (attention_avx2.c). One slice s = b·heads + h is one (image, head):
// q, k, v are [t, dh] views of qkv [b, t, 3·heads·dh] (timm's q | k | v blocks) and the output a view of
// out [b, t, heads·dh]. P = softmax(scale·q·kᵀ) is [t, t].
typedef struct {
  const float *qkv; // [B, T, 3·D]
  float *out;       // forward: [B, T, D]
  float *probs;     // forward: [B·H, T, T] to keep P for the backward, or NULL; backward: P (read)
  const float *dy;  // backward: [B, T, D]
  float *dqkv;      // backward: [B, T, 3·D]
  int t, heads, dh;
  float scale;
} attention_args_t;

// Floats of scratch one slice needs besides sgemm_native's work ([t, t]: P when not kept, or dP).
size_t attention_slice_floats(int t);
void attention_forward_slice(const attention_args_t *a, int s, float *scratch, float *work);
void attention_backward_slice(const attention_args_t *a, int s, float *scratch, float *work);
#endif
