// Node-API exports of the transformer kernels (layer_norm_avx2.c, attention_avx2.c): argument checks against the
// heap, then the work split over the pool. Offsets are in floats of `heap`; outputs must not overlap inputs.
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "native_common.h"
#include "sgemm_native.h"

#define HUGE_ARG (1LL << 40)

// 1 when [at, at + len) lies inside a heap of n floats (at ≥ 0).
static int inside(long long at, long long len, long long n) { return at >= 0 && len >= 0 && at + len <= n; }

static int overlap(long long a, long long alen, long long b, long long blen) { return a < b + blen && b < a + alen; }

// 1 when every value is in [0, 2^40] (offsets and sizes).
static int all_sane(const int64_t *v, int n) { return sizes_ok(v, n, HUGE_ARG); }

// ---- LayerNorm ----

typedef struct {
  const float *x, *gamma, *beta, *mean_in, *rstd_in, *dy;
  float *y, *mean, *rstd, *dx;
  long rows;
  int d;
  float eps;
} ln_t;

static void ln_task(void *ctx, int tid, int nt, float *work) {
  (void)work;
  const ln_t *j = ctx;
  const long r0 = j->rows * tid / nt, r1 = j->rows * (tid + 1) / nt;
  if (j->dy) layer_norm_grad_rows(j->x, j->mean_in, j->rstd_in, j->gamma, j->dy, j->dx, r0, r1, j->d);
  else layer_norm_rows(j->x, j->gamma, j->beta, j->y, j->mean, j->rstd, r0, r1, j->d, j->eps);
}

static int ln_threads(long rows, int d) { return (double)rows * d >= PARALLEL_MIN_ELEMENTS ? pool_threads() : 1; }

// layerNorm(heap, xAt, gammaAt, betaAt, yAt, meanAt, rstdAt, rows, d, eps): x, y [rows, d]; γ, β [d];
// mean, rstd [rows].
napi_value layer_norm_js(napi_env env, napi_callback_info info) {
  float *h;
  long long n;
  int64_t v[8];
  double eps;
  if (!read_heap_call(env, info, "layerNorm", 8, 1, &h, &n, v, &eps)) return NULL;
  if (!all_sane(v, 8) || v[7] > INT32_MAX || !(eps >= 0 && isfinite(eps))) {
    return throw_range(env, "peftlab_native.layerNorm: a negative or huge offset or size, or eps not finite and ≥ 0");
  }
  const long long rows = v[6], d = v[7], size = rows * d;
  if (!inside(v[0], size, n) || !inside(v[1], d, n) || !inside(v[2], d, n) || !inside(v[3], size, n) ||
      !inside(v[4], rows, n) || !inside(v[5], rows, n)) {
    return throw_range(env, "peftlab_native.layerNorm: an operand reaches past the end of the heap");
  }
  for (int o = 3; o <= 5; o++) {
    const long long len = o == 3 ? size : rows;
    if (overlap(v[o], len, v[0], size) || overlap(v[o], len, v[1], d) || overlap(v[o], len, v[2], d)) {
      return throw_range(env, "peftlab_native.layerNorm: an output overlaps an input");
    }
  }
  if (size == 0) return NULL;
  if (!cpu_ok()) return throw_range(env, "peftlab_native.layerNorm: this CPU lacks AVX2 + FMA");
  ln_t j = {h + v[0], h + v[1], h + v[2], NULL, NULL, NULL, h + v[3], h + v[4], h + v[5], NULL, (long)rows, (int)d,
            (float)eps};
  if (!run_shared(ln_task, &j, ln_threads(rows, (int)d))) return throw_range(env, "peftlab_native.layerNorm: out of memory");
  return NULL;
}

// layerNormGrad(heap, xAt, meanAt, rstdAt, gammaAt, dyAt, dxAt, rows, d): dx [rows, d] from x, dy [rows, d],
// the forward's mean and rstd [rows] and γ [d].
napi_value layer_norm_grad_js(napi_env env, napi_callback_info info) {
  float *h;
  long long n;
  int64_t v[8];
  if (!read_heap_call(env, info, "layerNormGrad", 8, 0, &h, &n, v, NULL)) return NULL;
  if (!all_sane(v, 8) || v[7] > INT32_MAX) {
    return throw_range(env, "peftlab_native.layerNormGrad: a negative or huge offset or size");
  }
  const long long rows = v[6], d = v[7], size = rows * d;
  if (!inside(v[0], size, n) || !inside(v[1], rows, n) || !inside(v[2], rows, n) || !inside(v[3], d, n) ||
      !inside(v[4], size, n) || !inside(v[5], size, n)) {
    return throw_range(env, "peftlab_native.layerNormGrad: an operand reaches past the end of the heap");
  }
  if (overlap(v[5], size, v[0], size) || overlap(v[5], size, v[1], rows) || overlap(v[5], size, v[2], rows) ||
      overlap(v[5], size, v[3], d) || overlap(v[5], size, v[4], size)) {
    return throw_range(env, "peftlab_native.layerNormGrad: dx overlaps an input");
  }
  if (size == 0) return NULL;
  if (!cpu_ok()) return throw_range(env, "peftlab_native.layerNormGrad: this CPU lacks AVX2 + FMA");
  ln_t j = {h + v[0], h + v[3], NULL, h + v[1], h + v[2], h + v[4], NULL, NULL, NULL, h + v[5], (long)rows, (int)d, 0};
  if (!run_shared(ln_task, &j, ln_threads(rows, (int)d))) {
    return throw_range(env, "peftlab_native.layerNormGrad: out of memory");
  }
  return NULL;
}

// ---- attention ----

typedef struct {
  attention_args_t a;
  int slices, backward;
  atomic_int failed; // a thread could not allocate its [t, t] scratch
} attn_t;

static void attn_task(void *ctx, int tid, int nt, float *work) {
  attn_t *j = ctx;
  const int s0 = (int)((long)j->slices * tid / nt), s1 = (int)((long)j->slices * (tid + 1) / nt);
  if (s0 >= s1) return;
  const size_t bytes = (attention_slice_floats(j->a.t) * sizeof(float) + 63) & ~(size_t)63;
  float *scratch = aligned_alloc(64, bytes);
  if (!scratch) {
    atomic_store(&j->failed, 1);
    return;
  }
  for (int s = s0; s < s1; s++) {
    if (j->backward) attention_backward_slice(&j->a, s, scratch, work);
    else attention_forward_slice(&j->a, s, scratch, work);
  }
  free(scratch);
}

// Checks b, t, heads, dh (v[0..3]) and scale; on success sets the sizes (floats) of qkv, out and probs.
static int attn_shape(const int64_t *v, double scale, long long *qkv, long long *out, long long *probs) {
  if (!all_sane(v, 4) || v[1] > 65536 || v[2] > 65536 || v[3] > 65536 || v[0] * v[2] > INT32_MAX) return 0;
  if (!(scale > 0 && isfinite(scale))) return 0;
  *out = v[0] * v[1] * v[2] * v[3];
  *qkv = 3 * *out;
  *probs = v[0] * v[2] * v[1] * v[1];
  return 1;
}

// Runs the slices of a checked call over the pool; cpu_msg is the error when the CPU lacks AVX2 + FMA.
static napi_value run_attention(napi_env env, attn_t *j, const char *cpu_msg, double flops) {
  if (!cpu_ok()) return throw_range(env, cpu_msg);
  const int want = flops >= PARALLEL_MIN_FLOPS ? pool_threads() : 1;
  if (!run_shared(attn_task, j, want) || atomic_load(&j->failed)) {
    return throw_range(env, "peftlab_native.attention: out of memory for scratch");
  }
  return NULL;
}

// attention(heap, qkvAt, outAt, probsAt, b, t, heads, dh, scale): out [b, t, heads·dh] = softmax(scale·q·kᵀ)·v per
// head from qkv [b, t, 3·heads·dh]; probsAt ≥ 0 also keeps P [b·heads, t, t] there (−1: not kept).
napi_value attention_js(napi_env env, napi_callback_info info) {
  float *h;
  long long n, qkv, out, probs;
  int64_t v[7];
  double scale;
  if (!read_heap_call(env, info, "attention", 7, 1, &h, &n, v, &scale)) return NULL;
  const int keep = v[2] != -1;
  if (!attn_shape(v + 3, scale, &qkv, &out, &probs) || v[0] < 0 || v[1] < 0 || (keep && v[2] < 0)) {
    return throw_range(env, "peftlab_native.attention: a negative or huge offset or size, or scale not finite and > 0");
  }
  if (!inside(v[0], qkv, n) || !inside(v[1], out, n) || (keep && !inside(v[2], probs, n))) {
    return throw_range(env, "peftlab_native.attention: an operand reaches past the end of the heap");
  }
  if (overlap(v[1], out, v[0], qkv) || (keep && (overlap(v[2], probs, v[0], qkv) || overlap(v[2], probs, v[1], out)))) {
    return throw_range(env, "peftlab_native.attention: an output overlaps an input or the other output");
  }
  if (out == 0) return NULL;
  attn_t j = {{h + v[0], h + v[1], keep ? h + v[2] : NULL, NULL, NULL, (int)v[4], (int)v[5], (int)v[6], (float)scale},
              (int)(v[3] * v[5]),
              0,
              0};
  return run_attention(env, &j, "peftlab_native.attention: this CPU lacks AVX2 + FMA", 4.0 * (double)probs * v[6]);
}

// attentionGrad(heap, qkvAt, probsAt, dyAt, dqkvAt, b, t, heads, dh, scale): dqkv [b, t, 3·heads·dh] from the
// forward's qkv and P and dy = ∂L/∂out [b, t, heads·dh].
napi_value attention_grad_js(napi_env env, napi_callback_info info) {
  float *h;
  long long n, qkv, out, probs;
  int64_t v[8];
  double scale;
  if (!read_heap_call(env, info, "attentionGrad", 8, 1, &h, &n, v, &scale)) return NULL;
  if (!attn_shape(v + 4, scale, &qkv, &out, &probs) || !all_sane(v, 4)) {
    return throw_range(env, "peftlab_native.attentionGrad: a negative or huge offset or size, or scale not finite and > 0");
  }
  if (!inside(v[0], qkv, n) || !inside(v[1], probs, n) || !inside(v[2], out, n) || !inside(v[3], qkv, n)) {
    return throw_range(env, "peftlab_native.attentionGrad: an operand reaches past the end of the heap");
  }
  if (overlap(v[3], qkv, v[0], qkv) || overlap(v[3], qkv, v[1], probs) || overlap(v[3], qkv, v[2], out)) {
    return throw_range(env, "peftlab_native.attentionGrad: dqkv overlaps an input");
  }
  if (out == 0) return NULL;
  attn_t j = {{h + v[0], NULL, h + v[1], h + v[2], h + v[3], (int)v[5], (int)v[6], (int)v[7], (float)scale},
              (int)(v[4] * v[6]),
              1,
              0};
  return run_attention(env, &j, "peftlab_native.attentionGrad: this CPU lacks AVX2 + FMA", 8.0 * (double)probs * v[7]);
}
