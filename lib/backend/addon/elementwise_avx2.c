// Elementwise kernels of the native addon, AVX2 + FMA (compiled alone with -mavx2 -mfma; called only after the
// CPU check in peftlab_native.c). The same formulas as the wasm build (simd_kernels.c), 8 lanes at a time.
#include <immintrin.h>
#include <string.h>

#include "avx2_math.h"
#include "sgemm_native.h"

// GELU(x) = x·Φ(x) with Φ from erfc (Abramowitz–Stegun 7.1.26), and GELU'(x) = Φ(x) + x·φ(x).
static inline void gelu8(__m256 x, __m256 *y, __m256 *g) {
  const __m256 abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
  __m256 z = _mm256_mul_ps(_mm256_and_ps(x, abs_mask), SPL(0.70710678118654752f)); // |x|/√2
  __m256 t = _mm256_div_ps(SPL(1.0f), _mm256_fmadd_ps(z, SPL(0.3275911f), SPL(1.0f)));
  __m256 poly = SPL(1.061405429f);
  poly = _mm256_fmadd_ps(poly, t, SPL(-1.453152027f));
  poly = _mm256_fmadd_ps(poly, t, SPL(1.421413741f));
  poly = _mm256_fmadd_ps(poly, t, SPL(-0.284496736f));
  poly = _mm256_fmadd_ps(poly, t, SPL(0.254829592f));
  __m256 e = exp_nonpos(_mm256_sub_ps(_mm256_setzero_ps(), _mm256_mul_ps(z, z))); // e^(−x²/2)
  __m256 half_erfc = _mm256_mul_ps(_mm256_mul_ps(poly, t), _mm256_mul_ps(e, SPL(0.5f)));
  __m256 neg = _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_LT_OQ);
  __m256 cdf = _mm256_blendv_ps(_mm256_sub_ps(SPL(1.0f), half_erfc), half_erfc, neg); // Φ(x)
  *y = _mm256_mul_ps(x, cdf);
  if (g) *g = _mm256_fmadd_ps(x, _mm256_mul_ps(e, SPL(0.39894228040143268f)), cdf);
}

void gelu_erf_native(const float *x, float *y, float *g, long len) {
  __m256 vy, vg;
  long i = 0;
  for (; i + 8 <= len; i += 8) {
    gelu8(_mm256_loadu_ps(x + i), &vy, g ? &vg : NULL);
    _mm256_storeu_ps(y + i, vy);
    if (g) _mm256_storeu_ps(g + i, vg);
  }
  if (i < len) { // the last < 8 through a padded copy: nothing past len is read or written
    float tx[8] = {0}, ty[8], tg[8];
    memcpy(tx, x + i, (size_t)(len - i) * sizeof(float));
    gelu8(_mm256_loadu_ps(tx), &vy, g ? &vg : NULL);
    _mm256_storeu_ps(ty, vy);
    memcpy(y + i, ty, (size_t)(len - i) * sizeof(float));
    if (g) {
      _mm256_storeu_ps(tg, vg);
      memcpy(g + i, tg, (size_t)(len - i) * sizeof(float));
    }
  }
}

void mul_native(const float *a, const float *b, float *out, long len) {
  long i = 0;
  for (; i + 8 <= len; i += 8) _mm256_storeu_ps(out + i, _mm256_mul_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i)));
  for (; i < len; i++) out[i] = a[i] * b[i];
}
