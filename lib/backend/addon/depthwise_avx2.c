// Depthwise 2-D convolution forward on NHWC data (channel multiplier 1, no dilation), with an optional bias and
// ReLU / ReLU6, AVX2 + FMA (compiled alone with -mavx2 -mfma; called only after the CPU check in peftlab_native.c).
//
// Why: tfjs-backend-wasm runs depthwise convs on XNNPACK on one thread; after the 1×1 convs moved to the GEMM and BN
// was folded, they were ~40 % of MobileNetV2-0.35's inference on this machine (`npx tsx scratch/prof_mnv2.ts`).
//
// Loop order: per output row (image, oh) and per block of 8 channels, the kh·kw filter vectors are loaded once while
// the row's outputs are produced; interior pixels four at a time (four independent FMA chains), border pixels one at
// a time with every tap checked (taps in the padding are skipped).
#include <immintrin.h>

#include "avx2_math.h"
#include "sgemm_native.h"

#define MAX_TAPS 25 // filters up to 5×5 keep their taps in an array (registers for 3×3)

static inline __m256 load8(const float *p, int full, __m256i k) {
  return full ? _mm256_loadu_ps(p) : _mm256_maskload_ps(p, k);
}

// One output pixel at input column iw0 with every tap checked against the input (the borders).
static inline __m256 pixel_checked(const depthwise_args_t *a, const float *ximg, const __m256 *w, __m256 acc, int i_lo,
                                   int i_hi, int ih0, int iw0, int c, int full, __m256i k) {
  const int C = a->c, kw = a->kw;
  for (int i = i_lo; i < i_hi; i++) {
    const float *xrow = ximg + (long)(ih0 + i) * a->in_w * C + c;
    for (int j = 0; j < kw; j++) {
      const int iw = iw0 + j;
      if (iw >= 0 && iw < a->in_w) acc = _mm256_fmadd_ps(load8(xrow + (long)iw * C, full, k), w[i * kw + j], acc);
    }
  }
  return acc;
}

static inline __m256 activate(__m256 acc, int act) {
  // maxps/minps return their second operand when either is NaN: NaN stays NaN, as in torch.
  if (act >= 1) acc = _mm256_max_ps(_mm256_setzero_ps(), acc);
  if (act == 2) acc = _mm256_min_ps(SPL(6.0f), acc);
  return acc;
}

static inline void store8(float *p, __m256 v, int full, __m256i k) {
  if (full) _mm256_storeu_ps(p, v);
  else _mm256_maskstore_ps(p, k, v);
}

void depthwise_rows(const depthwise_args_t *a, long r0, long r1) {
  const int C = a->c, kh = a->kh, kw = a->kw, sw = a->stride_w;
  // Output columns whose taps all lie inside the input: [ow_lo, ow_hi).
  int ow_lo = (a->pad_left + sw - 1) / sw, ow_hi = (a->in_w - kw + a->pad_left) / sw + 1;
  if (a->in_w - kw + a->pad_left < 0) ow_hi = 0;
  if (ow_hi > a->out_w) ow_hi = a->out_w;
  if (ow_lo > ow_hi) ow_lo = ow_hi;
  for (long row = r0; row < r1; row++) {
    const int n = (int)(row / a->out_h), oh = (int)(row % a->out_h);
    const int ih0 = oh * a->stride_h - a->pad_top;
    const int i_lo = ih0 < 0 ? -ih0 : 0, i_hi = ih0 + kh > a->in_h ? a->in_h - ih0 : kh; // rows inside the input
    float *orow = a->out + row * (long)a->out_w * C;
    const float *ximg = a->x + (long)n * a->in_h * a->in_w * C;
    for (int c = 0; c < C; c += 8) {
      const int full = c + 8 <= C;
      const __m256i k = tail_mask(full ? 8 : C - c);
      __m256 w[MAX_TAPS];
      for (int t = 0; t < kh * kw; t++) w[t] = load8(a->w + (long)t * C + c, full, k);
      const __m256 b = a->bias ? load8(a->bias + c, full, k) : _mm256_setzero_ps();
      int ow = 0;
      for (; ow < ow_lo && ow < a->out_w; ow++) {
        __m256 acc = pixel_checked(a, ximg, w, b, i_lo, i_hi, ih0, ow * sw - a->pad_left, c, full, k);
        store8(orow + (long)ow * C + c, activate(acc, a->act), full, k);
      }
      // Interior: four pixels at a time, four independent FMA chains (one chain is latency-bound).
      for (; ow + 4 <= ow_hi; ow += 4) {
        __m256 acc0 = b, acc1 = b, acc2 = b, acc3 = b;
        const long step = (long)sw * C;
        for (int i = i_lo; i < i_hi; i++) {
          const float *xp = ximg + ((long)(ih0 + i) * a->in_w + (ow * sw - a->pad_left)) * C + c;
          for (int j = 0; j < kw; j++, xp += C) {
            const __m256 wt = w[i * kw + j];
            acc0 = _mm256_fmadd_ps(load8(xp, full, k), wt, acc0);
            acc1 = _mm256_fmadd_ps(load8(xp + step, full, k), wt, acc1);
            acc2 = _mm256_fmadd_ps(load8(xp + 2 * step, full, k), wt, acc2);
            acc3 = _mm256_fmadd_ps(load8(xp + 3 * step, full, k), wt, acc3);
          }
        }
        float *op = orow + (long)ow * C + c;
        store8(op, activate(acc0, a->act), full, k);
        store8(op + C, activate(acc1, a->act), full, k);
        store8(op + 2 * C, activate(acc2, a->act), full, k);
        store8(op + 3 * C, activate(acc3, a->act), full, k);
      }
      for (; ow < a->out_w; ow++) {
        __m256 acc = pixel_checked(a, ximg, w, b, i_lo, i_hi, ih0, ow * sw - a->pad_left, c, full, k);
        store8(orow + (long)ow * C + c, activate(acc, a->act), full, k);
      }
    }
  }
}
