// Multi-head self-attention straight from a fused qkv, forward and backward, one (image, head) slice at a time
// (compiled alone with -mavx2 -mfma; called only after the CPU check in peftlab_native.c).
//
// Why: composed, ViT attention is a rank-4 Transpose and a SplitV into q, k, v, a scaled copy of q, two
// BatchMatMuls, a Softmax and a Transpose back; the backward adds a Transpose of dO, Mul/Sum/Sub for the softmax
// gradient and a Concat + Transpose into dqkv. On this machine that layout and elementwise work was ~380 ms of a
// 3.3 s ViT-S/16 batch-16 LoRA step. Here every product reads q, k, v and dO where they lie (strided views of qkv
// and dy; sgemm_native takes any strides) and writes into out and dqkv directly; P is softmaxed in place while
// it is in cache.
//
// With S = scale·q·kᵀ, P = softmax(S), O = P·v:
//   dv = Pᵀ·dO, dP = dO·vᵀ, dS = P ⊙ (dP − rowsum(dP ⊙ P)), dq = scale·dS·k, dk = scale·dSᵀ·q.
// Slices are independent, so any split of them over threads gives the same bits.
#include <immintrin.h>
#include <math.h>

#include "avx2_math.h"
#include "sgemm_native.h"

size_t attention_slice_floats(int t) { return (size_t)t * (size_t)t; }

// C[m, n] (row stride ldc) = op(A)·op(B), with no bias or activation.
static void gemm(const float *a, long ars, long acs, const float *b, long brs, long bcs, float *c, long ldc, int m,
                 int k, int n, float *work) {
  sgemm_args_t g = {a, ars, acs, b, brs, bcs, c, ldc, m, k, n, NULL, 0, 0};
  sgemm_native(&g, work);
}

// p[i] = e^(scale·(p[i] − max)) / Σ, in place over a row of t scores (scale > 0).
static void softmax_row(float *p, int t, float scale) {
  const __m256i k = tail_mask(t & 7);
  const int body = t & ~7;
  __m256 vmax = SPL(-INFINITY);
  for (int i = 0; i < body; i += 8) vmax = _mm256_max_ps(vmax, _mm256_loadu_ps(p + i));
  if (body < t) vmax = _mm256_max_ps(vmax, _mm256_blendv_ps(SPL(-INFINITY), _mm256_maskload_ps(p + body, k), _mm256_castsi256_ps(k)));
  const __m256 m = SPL(hmax8(vmax)), sc = SPL(scale);
  __m256 sum = _mm256_setzero_ps();
  for (int i = 0; i < body; i += 8) {
    __m256 e = exp_nonpos(_mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(p + i), m), sc));
    sum = _mm256_add_ps(sum, e);
    _mm256_storeu_ps(p + i, e);
  }
  if (body < t) {
    __m256 e = exp_nonpos(_mm256_mul_ps(_mm256_sub_ps(_mm256_maskload_ps(p + body, k), m), sc));
    e = _mm256_and_ps(e, _mm256_castsi256_ps(k));
    sum = _mm256_add_ps(sum, e);
    _mm256_maskstore_ps(p + body, k, e);
  }
  const __m256 inv = SPL(1.0f / hsum8(sum));
  for (int i = 0; i < body; i += 8) _mm256_storeu_ps(p + i, _mm256_mul_ps(_mm256_loadu_ps(p + i), inv));
  if (body < t) _mm256_maskstore_ps(p + body, k, _mm256_mul_ps(_mm256_maskload_ps(p + body, k), inv));
}

// dp[i] = scale·p[i]·(dp[i] − Σ dp ⊙ p), in place over a row of t (softmax's backward, times the score scale).
static void softmax_grad_row(const float *p, float *dp, int t, float scale) {
  const __m256i k = tail_mask(t & 7);
  const int body = t & ~7;
  __m256 dot = _mm256_setzero_ps();
  for (int i = 0; i < body; i += 8) dot = _mm256_fmadd_ps(_mm256_loadu_ps(dp + i), _mm256_loadu_ps(p + i), dot);
  if (body < t) dot = _mm256_fmadd_ps(_mm256_maskload_ps(dp + body, k), _mm256_maskload_ps(p + body, k), dot);
  const __m256 d = SPL(hsum8(dot)), sc = SPL(scale);
  for (int i = 0; i < body; i += 8) {
    __m256 sp = _mm256_mul_ps(_mm256_loadu_ps(p + i), sc);
    _mm256_storeu_ps(dp + i, _mm256_mul_ps(sp, _mm256_sub_ps(_mm256_loadu_ps(dp + i), d)));
  }
  if (body < t) {
    __m256 sp = _mm256_mul_ps(_mm256_maskload_ps(p + body, k), sc);
    _mm256_maskstore_ps(dp + body, k, _mm256_mul_ps(sp, _mm256_sub_ps(_mm256_maskload_ps(dp + body, k), d)));
  }
}

void attention_forward_slice(const attention_args_t *a, int s, float *scratch, float *work) {
  const int t = a->t, dh = a->dh, img = s / a->heads, h = s % a->heads;
  const long d = (long)a->heads * dh, d3 = 3 * d;
  const float *q = a->qkv + (long)img * t * d3 + (long)h * dh, *k = q + d, *v = q + 2 * d; // [t, dh] views
  float *p = a->probs ? a->probs + (long)s * t * t : scratch;                              // [t, t]
  gemm(q, d3, 1, k, 1, d3, p, t, t, dh, t, work);                                         // q·kᵀ
  for (int r = 0; r < t; r++) softmax_row(p + (long)r * t, t, a->scale);
  gemm(p, t, 1, v, d3, 1, a->out + (long)img * t * d + (long)h * dh, d, t, t, dh, work); // P·v → out [t, dh] view
}

void attention_backward_slice(const attention_args_t *a, int s, float *scratch, float *work) {
  const int t = a->t, dh = a->dh, img = s / a->heads, h = s % a->heads;
  const long d = (long)a->heads * dh, d3 = 3 * d, at3 = (long)img * t * d3 + (long)h * dh;
  const float *q = a->qkv + at3, *k = q + d, *v = q + 2 * d;          // [t, dh] views of qkv
  const float *p = a->probs + (long)s * t * t;                        // [t, t]
  const float *dout = a->dy + (long)img * t * d + (long)h * dh;       // [t, dh] view of dy
  float *dq = a->dqkv + at3, *dk = dq + d, *dv = dq + 2 * d, *dp = scratch;
  gemm(p, 1, t, dout, d, 1, dv, d3, t, t, dh, work);                  // dv = Pᵀ·dO
  gemm(dout, d, 1, v, 1, d3, dp, t, t, dh, t, work);                  // dP = dO·vᵀ
  for (int r = 0; r < t; r++) softmax_grad_row(p + (long)r * t, dp + (long)r * t, t, a->scale); // dP → scale·dS
  gemm(dp, t, 1, k, d3, 1, dq, d3, t, t, dh, work);                   // dq = scale·dS·k
  gemm(dp, 1, t, q, d3, 1, dk, d3, t, t, dh, work);                   // dk = scale·dSᵀ·q
}
