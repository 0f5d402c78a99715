// Per-channel kernels over NHWC data seen as [rows, C] (BatchNorm and ReLU in CNN training), AVX2 + FMA (compiled
// alone with -mavx2 -mfma; called only after the CPU check in peftlab_native.c). The same contracts as the wasm
// build (simd_kernels.c: channel_sums, channel_affine, relu_grad), 8 lanes at a time; the glue (channel_glue.c)
// splits rows over the pool.
#include <immintrin.h>

#include "avx2_math.h"
#include "sgemm_native.h"

// Rows summed in float32 before each block's sum is kept (as the wasm build: accurate over 400k rows).
#define SUM_BLOCK 64

// The vector of f over 8 channels at row pointer xr (+ c): x, (x − m)² or y·(x − m).
static inline __m256 sum_term(const float *xr, const float *yr, const float *m, int mode, int c, __m256i k, int full) {
  __m256 v = full ? _mm256_loadu_ps(xr + c) : _mm256_maskload_ps(xr + c, k);
  if (mode >= 1) v = _mm256_sub_ps(v, full ? _mm256_loadu_ps(m + c) : _mm256_maskload_ps(m + c, k));
  if (mode == 1) v = _mm256_mul_ps(v, v);
  if (mode == 2) v = _mm256_mul_ps(v, full ? _mm256_loadu_ps(yr + c) : _mm256_maskload_ps(yr + c, k));
  return v;
}

void channel_block_sums(const float *x, const float *y, const float *m, int mode, long rows, int C, long b0, long b1,
                        float *blocks) {
  const __m256i k = tail_mask(C & 7);
  const int body = C & ~7;
  for (long b = b0; b < b1; b++) {
    float *acc = blocks + b * C;
    const long r0 = b * SUM_BLOCK, r1 = r0 + SUM_BLOCK < rows ? r0 + SUM_BLOCK : rows;
    for (int c = 0; c < C; c++) acc[c] = 0;
    for (long r = r0; r < r1; r++) {
      const float *xr = x + r * C, *yr = y ? y + r * C : 0;
      for (int c = 0; c < body; c += 8) {
        _mm256_storeu_ps(acc + c, _mm256_add_ps(_mm256_loadu_ps(acc + c), sum_term(xr, yr, m, mode, c, k, 1)));
      }
      if (body < C) {
        __m256 v = _mm256_add_ps(_mm256_maskload_ps(acc + body, k), sum_term(xr, yr, m, mode, body, k, 0));
        _mm256_maskstore_ps(acc + body, k, v);
      }
    }
  }
}

long channel_sum_blocks(long rows) { return (rows + SUM_BLOCK - 1) / SUM_BLOCK; }

void channel_affine_rows(float *out, const float *a, const float *p, const float *b, const float *m, const float *q,
                         const float *r, long r0, long r1, int C) {
  const __m256i k = tail_mask(C & 7);
  const int body = C & ~7;
  for (long i = r0; i < r1; i++) {
    const float *ai = a + i * C, *bi = b ? b + i * C : 0;
    float *oi = out + i * C;
    for (int c = 0; c < body; c += 8) {
      __m256 v = _mm256_fmadd_ps(_mm256_loadu_ps(p + c), _mm256_loadu_ps(ai + c), _mm256_loadu_ps(r + c));
      if (b) v = _mm256_fmadd_ps(_mm256_loadu_ps(q + c), _mm256_sub_ps(_mm256_loadu_ps(bi + c), _mm256_loadu_ps(m + c)), v);
      _mm256_storeu_ps(oi + c, v);
    }
    if (body < C) {
      __m256 v = _mm256_fmadd_ps(_mm256_maskload_ps(p + body, k), _mm256_maskload_ps(ai + body, k),
                                 _mm256_maskload_ps(r + body, k));
      if (b) {
        __m256 d = _mm256_sub_ps(_mm256_maskload_ps(bi + body, k), _mm256_maskload_ps(m + body, k));
        v = _mm256_fmadd_ps(_mm256_maskload_ps(q + body, k), d, v);
      }
      _mm256_maskstore_ps(oi + body, k, v);
    }
  }
}

void relu_grad_native(float *dx, const float *dy, const float *y, long len, int cap6) {
  const __m256 zero = _mm256_setzero_ps(), six = SPL(6.0f);
  long i = 0;
  for (; i + 8 <= len; i += 8) {
    __m256 v = _mm256_loadu_ps(y + i);
    __m256 pass = _mm256_cmp_ps(v, zero, _CMP_GT_OQ);
    if (cap6) pass = _mm256_and_ps(pass, _mm256_cmp_ps(v, six, _CMP_LT_OQ));
    _mm256_storeu_ps(dx + i, _mm256_and_ps(_mm256_loadu_ps(dy + i), pass));
  }
  for (; i < len; i++) dx[i] = (y[i] > 0 && (!cap6 || y[i] < 6)) ? dy[i] : 0.0f;
}
