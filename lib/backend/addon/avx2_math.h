// Small AVX2 + FMA helpers shared by the native kernels (included only by *_avx2.c files, which are compiled with
// -mavx2 -mfma and called only after the CPU check in peftlab_native.c).
#ifndef PEFTLAB_AVX2_MATH_H
#define PEFTLAB_AVX2_MATH_H
#include <immintrin.h>

#define SPL(v) _mm256_set1_ps(v)

// e^v for v ≤ 0 (clamped at −87, below which e^v < 2e-38): Cody–Waite v = n·ln2 + r, a degree-7 Taylor
// polynomial in r, and 2^n built in the exponent bits. NaN stays NaN (max returns its second operand on NaN).
static inline __m256 exp_nonpos(__m256 v) {
  v = _mm256_max_ps(SPL(-87.0f), v);
  __m256 n = _mm256_round_ps(_mm256_mul_ps(v, SPL(1.44269504088896341f)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, SPL(0.693145751953125f), v); // ln2, high bits
  r = _mm256_fnmadd_ps(n, SPL(1.428606820309417e-06f), r);    // ln2, low bits
  __m256 p = SPL(1.0f / 5040.0f);
  p = _mm256_fmadd_ps(p, r, SPL(1.0f / 720.0f));
  p = _mm256_fmadd_ps(p, r, SPL(1.0f / 120.0f));
  p = _mm256_fmadd_ps(p, r, SPL(1.0f / 24.0f));
  p = _mm256_fmadd_ps(p, r, SPL(1.0f / 6.0f));
  p = _mm256_fmadd_ps(p, r, SPL(0.5f));
  p = _mm256_fmadd_ps(p, r, SPL(1.0f));
  p = _mm256_fmadd_ps(p, r, SPL(1.0f));
  __m256i two_n = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  return _mm256_mul_ps(p, _mm256_castsi256_ps(two_n));
}

// The sum of the 8 lanes (a fixed order, so the result does not depend on anything but the vector).
static inline float hsum8(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// The largest of the 8 lanes.
static inline float hmax8(__m256 v) {
  __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_max_ps(s, _mm_movehl_ps(s, s));
  s = _mm_max_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// Lane mask of the first `rem` lanes (0 ≤ rem ≤ 8), for masked loads and stores of a row's tail.
static inline __m256i tail_mask(int rem) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(rem), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}
#endif
