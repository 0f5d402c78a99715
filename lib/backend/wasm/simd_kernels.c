// peftlab's own WASM SIMD128 kernels for the wasm backend: depthwise-conv gradients (channel multiplier 1, NHWC),
// the exact (erf) GELU with its derivative in one pass, per-channel BatchNorm passes and the ReLU gradient. The
// packed GEMM is in sgemm.c (same module).
//
// Built by scripts/build-wasm.sh into simd_kernels.wasm, which *imports tfjs-backend-wasm's own memory*: every pointer
// is a byte offset of a tfjs tensor, so nothing is copied in or out. For that to be safe the module must own no
// memory at all: no static data (no data segment is written at instantiation) and no shadow stack (no arrays or
// address-taken locals). build-wasm.sh checks both on the linked binary.
//
// Depthwise geometry (same names as tfjs's Conv2DInfo): x [n, inH, inW, c], dy [n, outH, outW, c], filter [fh, fw, c, 1];
// ih = oh*sh - pt + kh*dh, iw = ow*sw - pl + kw*dw. Channels are innermost and contiguous, so every inner loop runs
// over 16 channels (4 vectors) held in registers while it walks the output row.
#include "simd_common.h"

// First ow whose iw = ow*sw - pl + kw*dw is >= 0.
static inline int ow_first(int off, int sw) { return off >= 0 ? 0 : (-off + sw - 1) / sw; }

// One past the last ow whose iw is < inW (off = kw*dw - pl).
static inline int ow_end(int off, int sw, int inW, int outW) {
  int t = inW - 1 - off;
  if (t < 0) return 0;
  int e = t / sw + 1;
  return e < outW ? e : outW;
}

// acc[0..4) += v, in float64.
static inline void add64(double *acc, v128_t v) {
  v128_t lo = wasm_f64x2_promote_low_f32x4(v);
  v128_t hi = wasm_f64x2_promote_low_f32x4(wasm_i32x4_shuffle(v, v, 2, 3, 0, 1));
  ST(acc, wasm_f64x2_add(LD(acc), lo));
  ST(acc + 2, wasm_f64x2_add(LD(acc + 2), hi));
}

// acc64[kh,kw,c] += sum_{ow} x[ih, iw(ow), c] * dy[oh, ow, c] for one (n, oh, kh): row sums in float32 (at most
// outW terms), added to the float64 total so a 400k-term reduction keeps its precision. (Summing blocks of rows
// per flush was measured slower: the taps then re-read more rows than fit in L1.)
static void filter_row(const float *xrow, const float *dyrow, double *acc, int c, int inW, int outW, int fw, int sw,
                       int dw, int pl) {
  for (int kw = 0; kw < fw; kw++) {
    int off = kw * dw - pl;
    int lo = ow_first(off, sw), hi = ow_end(off, sw, inW, outW);
    if (lo >= hi) continue;
    const float *x0 = xrow + (lo * sw + off) * c;
    const float *d0 = dyrow + lo * c;
    int xs = sw * c, cnt = hi - lo;
    double *a = acc + kw * c;
    int c0 = 0;
    for (; c0 + 16 <= c; c0 += 16) {
      v128_t s0 = wasm_f32x4_splat(0), s1 = s0, s2 = s0, s3 = s0;
      const float *xp = x0 + c0, *dp = d0 + c0;
      for (int i = 0; i < cnt; i++, xp += xs, dp += c) {
        FMA(s0, LD(xp), LD(dp));
        FMA(s1, LD(xp + 4), LD(dp + 4));
        FMA(s2, LD(xp + 8), LD(dp + 8));
        FMA(s3, LD(xp + 12), LD(dp + 12));
      }
      add64(a + c0, s0);
      add64(a + c0 + 4, s1);
      add64(a + c0 + 8, s2);
      add64(a + c0 + 12, s3);
    }
    for (; c0 + 4 <= c; c0 += 4) {
      v128_t s0 = wasm_f32x4_splat(0);
      const float *xp = x0 + c0, *dp = d0 + c0;
      for (int i = 0; i < cnt; i++, xp += xs, dp += c) FMA(s0, LD(xp), LD(dp));
      add64(a + c0, s0);
    }
    for (; c0 < c; c0++) {
      float s = 0;
      const float *xp = x0 + c0, *dp = d0 + c0;
      for (int i = 0; i < cnt; i++, xp += xs, dp += c) s += *xp * *dp;
      a[c0] += s;
    }
  }
}

// acc64[fh, fw, c] (zeroed by the caller) += the depthwise filter gradient of the whole batch.
__attribute__((export_name("dw_filter_grad"))) void dw_filter_grad(const float *x, const float *dy, double *acc,
                                                                   int n, int inH, int inW, int c, int outH,
                                                                   int outW, int fh, int fw, int sh, int sw, int dh,
                                                                   int dw, int pt, int pl) {
  for (int b = 0; b < n; b++) {
    for (int oh = 0; oh < outH; oh++) {
      const float *dyrow = dy + ((long)(b * outH + oh) * outW) * c;
      for (int kh = 0; kh < fh; kh++) {
        int ih = oh * sh - pt + kh * dh;
        if (ih < 0 || ih >= inH) continue;
        const float *xrow = x + ((long)(b * inH + ih) * inW) * c;
        filter_row(xrow, dyrow, acc + kh * fw * c, c, inW, outW, fw, sw, dw, pl);
      }
    }
  }
}

// out[i] = (float)acc[i] for i < len.
__attribute__((export_name("f64_to_f32"))) void f64_to_f32(const double *acc, float *out, int len) {
  for (int i = 0; i < len; i++) out[i] = (float)acc[i];
}

// dxrow[iw(ow), c] += dy[oh, ow, c] * w[kh, kw, c] for one (n, oh, kh), over every kw.
static void input_row(float *dxrow, const float *dyrow, const float *wk, int c, int inW, int outW, int fw, int sw,
                      int dw, int pl) {
  for (int kw = 0; kw < fw; kw++) {
    int off = kw * dw - pl;
    int lo = ow_first(off, sw), hi = ow_end(off, sw, inW, outW);
    if (lo >= hi) continue;
    float *x0 = dxrow + (lo * sw + off) * c;
    const float *d0 = dyrow + lo * c;
    const float *w = wk + kw * c;
    int xs = sw * c, cnt = hi - lo;
    int c0 = 0;
    for (; c0 + 16 <= c; c0 += 16) {
      v128_t w0 = LD(w + c0), w1 = LD(w + c0 + 4), w2 = LD(w + c0 + 8), w3 = LD(w + c0 + 12);
      float *xp = x0 + c0;
      const float *dp = d0 + c0;
      for (int i = 0; i < cnt; i++, xp += xs, dp += c) {
        ST(xp, wasm_f32x4_add(LD(xp), wasm_f32x4_mul(LD(dp), w0)));
        ST(xp + 4, wasm_f32x4_add(LD(xp + 4), wasm_f32x4_mul(LD(dp + 4), w1)));
        ST(xp + 8, wasm_f32x4_add(LD(xp + 8), wasm_f32x4_mul(LD(dp + 8), w2)));
        ST(xp + 12, wasm_f32x4_add(LD(xp + 12), wasm_f32x4_mul(LD(dp + 12), w3)));
      }
    }
    for (; c0 + 4 <= c; c0 += 4) {
      v128_t w0 = LD(w + c0);
      float *xp = x0 + c0;
      const float *dp = d0 + c0;
      for (int i = 0; i < cnt; i++, xp += xs, dp += c) ST(xp, wasm_f32x4_add(LD(xp), wasm_f32x4_mul(LD(dp), w0)));
    }
    for (; c0 < c; c0++) {
      float wv = w[c0];
      float *xp = x0 + c0;
      const float *dp = d0 + c0;
      for (int i = 0; i < cnt; i++, xp += xs, dp += c) *xp += *dp * wv;
    }
  }
}

// dx[n, inH, inW, c] = the depthwise input gradient (dx is fully overwritten). Row by row of dx: each row is
// zeroed, then gathers its (kh, oh) taps while it sits in cache, so dx goes to memory once (no separate memset pass).
__attribute__((export_name("dw_input_grad"))) void dw_input_grad(float *dx, const float *dy, const float *w, int n,
                                                                 int inH, int inW, int c, int outH, int outW, int fh,
                                                                 int fw, int sh, int sw, int dh, int dw, int pt,
                                                                 int pl) {
  for (int b = 0; b < n; b++) {
    for (int ih = 0; ih < inH; ih++) {
      float *dxrow = dx + ((long)(b * inH + ih) * inW) * c;
      __builtin_memset(dxrow, 0, (unsigned long)inW * c * sizeof(float));
      for (int kh = 0; kh < fh; kh++) {
        int t = ih + pt - kh * dh; // = oh * sh
        if (t < 0 || t % sh != 0 || t / sh >= outH) continue;
        const float *dyrow = dy + ((long)(b * outH + t / sh) * outW) * c;
        input_row(dxrow, dyrow, w + kh * fw * c, c, inW, outW, fw, sw, dw, pl);
      }
    }
  }
}

// ---- Exact GELU, y = x·Φ(x), and optionally GELU'(x) = Φ(x) + x·φ(x), in one pass over x. ----
// tfjs-backend-wasm's Erf is scalar (~20 ns per element) and the composed op needs ~8 elementwise passes over the
// ViT MLP's largest activation. Φ comes from erfc(z), z = |x|/√2, by Abramowitz & Stegun 7.1.26 (|error| ≤ 1.5e-7,
// the formula tfjs-backend-cpu's Erf uses): erfc(z) = t·P(t)·e^(−z²), t = 1/(1 + p·z). The same e^(−z²) gives
// φ(x) = e^(−x²/2)/√(2π). Φ(x) = erfc(z)/2 for x < 0 and 1 − erfc(z)/2 otherwise, so the left tail keeps its
// relative precision instead of cancelling in 1 + erf.

#define SPL(c) wasm_f32x4_splat(c)

// e^v, elementwise, for v ≤ 0 (GELU only needs e^(−z²)); v below −87 gives e^−87 instead of a denormal (t·P(t)
// makes it ≤ 1e-38 anyway). Cody–Waite reduction v = n·ln2 + r, |r| ≤ ln2/2, then a degree-7 Taylor polynomial
// (truncation < 3e-9 relative) and 2^n built in the exponent bits.
static inline v128_t exp_nonpos(v128_t v) {
  v = wasm_f32x4_max(v, SPL(-87.0f));
  v128_t n = wasm_f32x4_nearest(wasm_f32x4_mul(v, SPL(1.44269504088896341f)));
  v128_t r = wasm_f32x4_sub(v, wasm_f32x4_mul(n, SPL(0.693145751953125f))); // ln2, high bits (exact product)
  r = wasm_f32x4_sub(r, wasm_f32x4_mul(n, SPL(1.428606820309417e-06f)));  // ln2, low bits
  v128_t p = SPL(1.0f / 5040.0f);
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), SPL(1.0f / 720.0f));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), SPL(1.0f / 120.0f));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), SPL(1.0f / 24.0f));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), SPL(1.0f / 6.0f));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), SPL(0.5f));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), SPL(1.0f));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), SPL(1.0f));
  v128_t two_n = wasm_i32x4_shl(wasm_i32x4_add(wasm_i32x4_trunc_sat_f32x4(n), wasm_i32x4_splat(127)), 23);
  return wasm_f32x4_mul(p, two_n);
}

// y = GELU(x) and, when want_grad, g = GELU'(x), for 4 lanes.
static inline void gelu4(v128_t x, v128_t *y, v128_t *g, int want_grad) {
  v128_t z = wasm_f32x4_mul(wasm_f32x4_abs(x), SPL(0.70710678118654752f)); // |x|/√2
  v128_t t = wasm_f32x4_div(SPL(1.0f), wasm_f32x4_add(SPL(1.0f), wasm_f32x4_mul(z, SPL(0.3275911f))));
  v128_t poly = SPL(1.061405429f);
  poly = wasm_f32x4_add(wasm_f32x4_mul(poly, t), SPL(-1.453152027f));
  poly = wasm_f32x4_add(wasm_f32x4_mul(poly, t), SPL(1.421413741f));
  poly = wasm_f32x4_add(wasm_f32x4_mul(poly, t), SPL(-0.284496736f));
  poly = wasm_f32x4_add(wasm_f32x4_mul(poly, t), SPL(0.254829592f));
  v128_t e = exp_nonpos(wasm_f32x4_neg(wasm_f32x4_mul(z, z)));         // e^(−z²) = e^(−x²/2)
  v128_t half_erfc = wasm_f32x4_mul(wasm_f32x4_mul(poly, t), wasm_f32x4_mul(e, SPL(0.5f)));
  v128_t neg = wasm_f32x4_lt(x, SPL(0.0f));
  v128_t cdf = wasm_v128_bitselect(half_erfc, wasm_f32x4_sub(SPL(1.0f), half_erfc), neg); // Φ(x)
  *y = wasm_f32x4_mul(x, cdf);
  if (want_grad) *g = wasm_f32x4_add(cdf, wasm_f32x4_mul(x, wasm_f32x4_mul(e, SPL(0.39894228040143268f))));
}

// y[i] = GELU(x[i]) and, when g is not null, g[i] = GELU'(x[i]), for i < len. y and g must not overlap x's
// unread part (tfjs outputs are fresh buffers). The last partial vector is done by recomputing the last 4.
__attribute__((export_name("gelu_erf"))) void gelu_erf(const float *x, float *y, float *g, int len) {
  v128_t vy, vg = SPL(0.0f);
  int want = g != 0;
  if (len < 4) {
    for (int i = 0; i < len; i++) {
      gelu4(SPL(x[i]), &vy, &vg, want);
      y[i] = wasm_f32x4_extract_lane(vy, 0);
      if (want) g[i] = wasm_f32x4_extract_lane(vg, 0);
    }
    return;
  }
  for (int i0 = 0; i0 < len; i0 += 4) {
    int i = i0 + 4 <= len ? i0 : len - 4;
    gelu4(LD(x + i), &vy, &vg, want);
    ST(y + i, vy);
    if (want) ST(g + i, vg);
  }
}

// ---- Per-channel kernels over NHWC data seen as [rows, C] (BatchNorm and ReLU in training). ----
// tfjs composes BatchNorm from Mean, Sub, Square, Mul, Add, Sum over the whole activation (each a scalar pass that
// writes a full-size tensor) and ReLU6's gradient from Greater, Less, LogicalAnd, Cast, Mul: in MobileNetV2 full
// fine-tuning these, not the convolutions, took ~75% of the step.

// Rows summed in float32 before each flush into the float64 totals (keeps a 400k-row reduction accurate).
#define SUM_BLOCK 64

// acc64[c] = Σ_r f(r, c) with f = x (mode 0), (x − m)² (mode 1) or y·(x − m) (mode 2); tmp32 holds C floats
// (the block sums), acc64 C doubles; both are the caller's scratch. The sum runs over rows in order, blockwise.
__attribute__((export_name("channel_sums"))) void channel_sums(const float *x, const float *y, const float *m,
                                                               int mode, int rows, int C, float *tmp32,
                                                               double *acc64) {
  for (int c = 0; c < C; c++) acc64[c] = 0;
  for (int r0 = 0; r0 < rows; r0 += SUM_BLOCK) {
    int r1 = r0 + SUM_BLOCK < rows ? r0 + SUM_BLOCK : rows;
    for (int c = 0; c < C; c++) tmp32[c] = 0;
    for (int r = r0; r < r1; r++) {
      const float *xr = x + (long)r * C, *yr = y ? y + (long)r * C : 0;
      int c = 0;
      for (; c + 4 <= C; c += 4) {
        v128_t v = LD(xr + c);
        if (mode >= 1) v = wasm_f32x4_sub(v, LD(m + c));
        if (mode == 1) v = wasm_f32x4_mul(v, v);
        if (mode == 2) v = wasm_f32x4_mul(v, LD(yr + c));
        ST(tmp32 + c, wasm_f32x4_add(LD(tmp32 + c), v));
      }
      for (; c < C; c++) {
        float v = xr[c];
        if (mode >= 1) v -= m[c];
        if (mode == 1) v *= v;
        if (mode == 2) v *= yr[c];
        tmp32[c] += v;
      }
    }
    for (int c = 0; c < C; c++) acc64[c] += tmp32[c];
  }
}

// out = p·a + r, or with b: out = p·a + q·(b − m) + r, per channel c of [rows, C].
__attribute__((export_name("channel_affine"))) void channel_affine(float *out, const float *a, const float *p,
                                                                   const float *b, const float *m, const float *q,
                                                                   const float *r, int rows, int C) {
  for (int i = 0; i < rows; i++) {
    const float *ai = a + (long)i * C, *bi = b ? b + (long)i * C : 0;
    float *oi = out + (long)i * C;
    int c = 0;
    for (; c + 4 <= C; c += 4) {
      v128_t v = wasm_f32x4_add(wasm_f32x4_mul(LD(p + c), LD(ai + c)), LD(r + c));
      if (b) v = wasm_f32x4_add(v, wasm_f32x4_mul(LD(q + c), wasm_f32x4_sub(LD(bi + c), LD(m + c))));
      ST(oi + c, v);
    }
    for (; c < C; c++) {
      float v = p[c] * ai[c] + r[c];
      if (b) v += q[c] * (bi[c] - m[c]);
      oi[c] = v;
    }
  }
}

// dx = dy where y > 0 (and y < 6 when cap6), else 0: ReLU / ReLU6's gradient from its output.
__attribute__((export_name("relu_grad"))) void relu_grad(float *dx, const float *dy, const float *y, int len,
                                                         int cap6) {
  v128_t zero = SPL(0.0f), six = SPL(6.0f), all = wasm_i32x4_splat(-1);
  int i = 0;
  for (; i + 4 <= len; i += 4) {
    v128_t v = LD(y + i);
    v128_t pass = wasm_v128_and(wasm_f32x4_gt(v, zero), cap6 ? wasm_f32x4_lt(v, six) : all);
    ST(dx + i, wasm_v128_and(LD(dy + i), pass));
  }
  for (; i < len; i++) dx[i] = (y[i] > 0 && (!cap6 || y[i] < 6)) ? dy[i] : 0.0f;
}
