// LayerNorm over the last axis, forward and input gradient, AVX2 + FMA (compiled alone with -mavx2 -mfma; called
// only after the CPU check in peftlab_native.c).
//
// Why: as composed tfjs ops a ViT LayerNorm is ~10 passes over [B·T, D] (Mean twice, Sub, Square, Add, Rsqrt, Mul,
// Mul, Add forward; Mul, Sum, Sub, Mul… backward), ~250 ms of a ViT-S/16 batch-16 LoRA step on this machine. Here
// each row is read twice (statistics, then output) while it sits in L1.
//
// Every row is computed the same way wherever the rows are split, so a threaded call is bit-identical to one thread.
#include <immintrin.h>
#include <math.h>

#include "avx2_math.h"
#include "sgemm_native.h"

// Σ x[i] over a row of d floats: 8 lanes, then the masked tail.
static inline float row_sum(const float *x, int d) {
  __m256 acc = _mm256_setzero_ps();
  int i = 0;
  for (; i + 8 <= d; i += 8) acc = _mm256_add_ps(acc, _mm256_loadu_ps(x + i));
  if (i < d) acc = _mm256_add_ps(acc, _mm256_maskload_ps(x + i, tail_mask(d - i)));
  return hsum8(acc);
}

// Σ (x[i] − μ)² over a row; masked-off lanes load 0, and are masked again so they add nothing.
static inline float row_sq_dev(const float *x, int d, float mu) {
  const __m256 m = SPL(mu);
  __m256 acc = _mm256_setzero_ps();
  int i = 0;
  for (; i + 8 <= d; i += 8) {
    __m256 c = _mm256_sub_ps(_mm256_loadu_ps(x + i), m);
    acc = _mm256_fmadd_ps(c, c, acc);
  }
  if (i < d) {
    __m256i k = tail_mask(d - i);
    __m256 c = _mm256_and_ps(_mm256_sub_ps(_mm256_maskload_ps(x + i, k), m), _mm256_castsi256_ps(k));
    acc = _mm256_fmadd_ps(c, c, acc);
  }
  return hsum8(acc);
}

void layer_norm_rows(const float *x, const float *gamma, const float *beta, float *y, float *mean, float *rstd,
                     long r0, long r1, int d, float eps) {
  for (long r = r0; r < r1; r++) {
    const float *xr = x + r * d;
    float *yr = y + r * d;
    const float mu = row_sum(xr, d) / (float)d;
    const float rs = 1.0f / sqrtf(row_sq_dev(xr, d, mu) / (float)d + eps);
    mean[r] = mu;
    rstd[r] = rs;
    const __m256 vm = SPL(mu), vr = SPL(rs);
    int i = 0;
    for (; i + 8 <= d; i += 8) {
      __m256 xh = _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(xr + i), vm), vr); // x̂
      _mm256_storeu_ps(yr + i, _mm256_fmadd_ps(xh, _mm256_loadu_ps(gamma + i), _mm256_loadu_ps(beta + i)));
    }
    if (i < d) {
      __m256i k = tail_mask(d - i);
      __m256 xh = _mm256_mul_ps(_mm256_sub_ps(_mm256_maskload_ps(xr + i, k), vm), vr);
      __m256 o = _mm256_fmadd_ps(xh, _mm256_maskload_ps(gamma + i, k), _mm256_maskload_ps(beta + i, k));
      _mm256_maskstore_ps(yr + i, k, o);
    }
  }
}

void layer_norm_grad_rows(const float *x, const float *mean, const float *rstd, const float *gamma, const float *dy,
                          float *dx, long r0, long r1, int d) {
  for (long r = r0; r < r1; r++) {
    const float *xr = x + r * d, *dyr = dy + r * d;
    float *dxr = dx + r * d;
    const __m256 vm = SPL(mean[r]), vr = SPL(rstd[r]);
    __m256 sg = _mm256_setzero_ps(), sgx = _mm256_setzero_ps();
    int i = 0;
    for (; i + 8 <= d; i += 8) { // Σ g and Σ g·x̂, g = dy·γ
      __m256 g = _mm256_mul_ps(_mm256_loadu_ps(dyr + i), _mm256_loadu_ps(gamma + i));
      __m256 xh = _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(xr + i), vm), vr);
      sg = _mm256_add_ps(sg, g);
      sgx = _mm256_fmadd_ps(g, xh, sgx);
    }
    if (i < d) { // masked lanes load dy = γ = 0, so g = 0 there and adds nothing
      __m256i k = tail_mask(d - i);
      __m256 g = _mm256_mul_ps(_mm256_maskload_ps(dyr + i, k), _mm256_maskload_ps(gamma + i, k));
      __m256 xh = _mm256_mul_ps(_mm256_sub_ps(_mm256_maskload_ps(xr + i, k), vm), vr);
      sg = _mm256_add_ps(sg, g);
      sgx = _mm256_fmadd_ps(g, xh, sgx);
    }
    const __m256 mg = SPL(hsum8(sg) / (float)d), mgx = SPL(hsum8(sgx) / (float)d);
    for (i = 0; i + 8 <= d; i += 8) {
      __m256 g = _mm256_mul_ps(_mm256_loadu_ps(dyr + i), _mm256_loadu_ps(gamma + i));
      __m256 xh = _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(xr + i), vm), vr);
      __m256 inner = _mm256_fnmadd_ps(xh, mgx, _mm256_sub_ps(g, mg)); // g − mean(g) − x̂·mean(g·x̂)
      _mm256_storeu_ps(dxr + i, _mm256_mul_ps(inner, vr));
    }
    if (i < d) {
      __m256i k = tail_mask(d - i);
      __m256 g = _mm256_mul_ps(_mm256_maskload_ps(dyr + i, k), _mm256_maskload_ps(gamma + i, k));
      __m256 xh = _mm256_mul_ps(_mm256_sub_ps(_mm256_maskload_ps(xr + i, k), vm), vr);
      __m256 inner = _mm256_fnmadd_ps(xh, mgx, _mm256_sub_ps(g, mg));
      _mm256_maskstore_ps(dxr + i, k, _mm256_mul_ps(inner, vr));
    }
  }
}
