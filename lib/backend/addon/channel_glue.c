// Node-API exports of the per-channel kernels (channel_avx2.c, depthwise_avx2.c): BatchNorm's statistics and affine
// maps, the ReLU/ReLU6 gradient and the depthwise conv forward; argument checks against the heap, then rows split
// over the pool. Offsets are in floats of
// `heap`; −1 marks an absent optional operand; outputs must not overlap inputs.
#include <stdlib.h>

#include "native_common.h"
#include "sgemm_native.h"

// 1 when [at, at + len) lies inside a heap of n floats, or the operand is optional (at = −1) and absent.
static int fits(long long at, long long len, long long n, int optional) {
  if (at == -1 && optional) return 1;
  return at >= 0 && len >= 0 && at + len <= n;
}

static int clash(long long out, long long olen, long long at, long long len) {
  return at >= 0 && out < at + len && at < out + olen;
}

// ---- channelSums ----

typedef struct {
  const float *x, *y, *m;
  int mode, c;
  long rows, nblocks;
  float *blocks;
} sums_t;

static void sums_task(void *ctx, int tid, int nt, float *work) {
  (void)work;
  const sums_t *j = ctx;
  const long b0 = j->nblocks * tid / nt, b1 = j->nblocks * (tid + 1) / nt;
  channel_block_sums(j->x, j->y, j->m, j->mode, j->rows, j->c, b0, b1, j->blocks);
}

// channelSums(heap, xAt, yAt, mAt, mode, rows, C, outAt): out[c] = Σ_r f(r, c) over x [rows, C] with f = x (mode 0),
// (x − m)² (1, m [C]) or y·(x − m) (2, y [rows, C]); 64-row blocks summed in float32, blocks added in float64 in
// order, so the result does not depend on the thread count.
napi_value channel_sums_js(napi_env env, napi_callback_info info) {
  float *h;
  long long n;
  int64_t v[7];
  if (!read_heap_call(env, info, "channelSums", 7, 0, &h, &n, v, NULL)) return NULL;
  const long long rows = v[4], c = v[5], size = rows * c, mode = v[3];
  if (rows < 0 || c < 0 || rows > (1LL << 40) || c > INT32_MAX || mode < 0 || mode > 2) {
    return throw_range(env, "peftlab_native.channelSums: rows or C negative or huge, or mode not 0/1/2");
  }
  if (!fits(v[0], size, n, 0) || !fits(v[1], size, n, mode != 2) || !fits(v[2], c, n, mode == 0) ||
      !fits(v[6], c, n, 0)) {
    return throw_range(env, "peftlab_native.channelSums: an operand is missing or reaches past the end of the heap");
  }
  if (clash(v[6], c, v[0], size) || clash(v[6], c, v[1], size) || clash(v[6], c, v[2], c)) {
    return throw_range(env, "peftlab_native.channelSums: out overlaps an input");
  }
  if (!cpu_ok()) return throw_range(env, "peftlab_native.channelSums: this CPU lacks AVX2 + FMA");
  const long nb = channel_sum_blocks((long)rows);
  sums_t j = {h + v[0], mode == 2 ? h + v[1] : NULL, mode >= 1 ? h + v[2] : NULL, (int)mode, (int)c, (long)rows, nb,
              NULL};
  j.blocks = malloc((size_t)(nb * c > 0 ? nb * c : 1) * sizeof(float));
  if (!j.blocks) return throw_range(env, "peftlab_native.channelSums: out of memory");
  const int ok = size == 0 || run_shared(sums_task, &j, size >= PARALLEL_MIN_ELEMENTS ? pool_threads() : 1);
  for (long k = 0; ok && k < c; k++) {
    double acc = 0;
    for (long b = 0; b < nb; b++) acc += j.blocks[b * c + k];
    h[v[6] + k] = (float)acc;
  }
  free(j.blocks);
  return ok ? NULL : throw_range(env, "peftlab_native.channelSums: out of memory");
}

// ---- channelAffine ----

typedef struct {
  float *out;
  const float *a, *p, *b, *m, *q, *r;
  long rows;
  int c;
} affine_t;

static void affine_task(void *ctx, int tid, int nt, float *work) {
  (void)work;
  const affine_t *j = ctx;
  channel_affine_rows(j->out, j->a, j->p, j->b, j->m, j->q, j->r, j->rows * tid / nt, j->rows * (tid + 1) / nt, j->c);
}

// channelAffine(heap, outAt, aAt, pAt, bAt, mAt, qAt, rAt, rows, C): out = p·a + r, or with b (and m, q):
// out = p·a + q·(b − m) + r, per channel of [rows, C]; p, m, q, r are [C].
napi_value channel_affine_js(napi_env env, napi_callback_info info) {
  float *h;
  long long n;
  int64_t v[9];
  if (!read_heap_call(env, info, "channelAffine", 9, 0, &h, &n, v, NULL)) return NULL;
  const long long rows = v[7], c = v[8], size = rows * c;
  const int with_b = v[3] != -1;
  if (rows < 0 || c < 0 || rows > (1LL << 40) || c > INT32_MAX || (with_b != (v[4] != -1)) || (with_b != (v[5] != -1))) {
    return throw_range(env, "peftlab_native.channelAffine: rows or C negative or huge, or b, m, q not all given");
  }
  if (!fits(v[0], size, n, 0) || !fits(v[1], size, n, 0) || !fits(v[2], c, n, 0) || !fits(v[3], size, n, 1) ||
      !fits(v[4], c, n, 1) || !fits(v[5], c, n, 1) || !fits(v[6], c, n, 0)) {
    return throw_range(env, "peftlab_native.channelAffine: an operand reaches past the end of the heap");
  }
  for (int i = 1; i <= 6; i++) {
    if (clash(v[0], size, v[i], i == 1 || i == 3 ? size : c)) {
      return throw_range(env, "peftlab_native.channelAffine: out overlaps an input");
    }
  }
  if (size == 0) return NULL;
  if (!cpu_ok()) return throw_range(env, "peftlab_native.channelAffine: this CPU lacks AVX2 + FMA");
  affine_t j = {h + v[0], h + v[1], h + v[2], with_b ? h + v[3] : NULL, with_b ? h + v[4] : NULL,
                with_b ? h + v[5] : NULL, h + v[6], (long)rows, (int)c};
  if (!run_shared(affine_task, &j, size >= PARALLEL_MIN_ELEMENTS ? pool_threads() : 1)) {
    return throw_range(env, "peftlab_native.channelAffine: out of memory");
  }
  return NULL;
}

// ---- reluGrad ----

typedef struct {
  float *dx;
  const float *dy, *y;
  long len;
  int cap6;
} relu_t;

static void relu_task(void *ctx, int tid, int nt, float *work) {
  (void)work;
  const relu_t *j = ctx;
  long lo, hi;
  band8(j->len, tid, nt, &lo, &hi);
  if (lo < hi) relu_grad_native(j->dx + lo, j->dy + lo, j->y + lo, hi - lo, j->cap6);
}

// reluGrad(heap, dxAt, dyAt, yAt, len, cap6): dx = dy where y > 0 (and y < 6 when cap6 is 1), else 0.
napi_value relu_grad_js(napi_env env, napi_callback_info info) {
  float *h;
  long long n;
  int64_t v[5];
  if (!read_heap_call(env, info, "reluGrad", 5, 0, &h, &n, v, NULL)) return NULL;
  const long long len = v[3];
  if (len < 0 || (v[4] != 0 && v[4] != 1)) return throw_range(env, "peftlab_native.reluGrad: len < 0 or cap6 not 0/1");
  if (!fits(v[0], len, n, 0) || !fits(v[1], len, n, 0) || !fits(v[2], len, n, 0)) {
    return throw_range(env, "peftlab_native.reluGrad: an operand reaches past the end of the heap");
  }
  if (clash(v[0], len, v[1], len) || clash(v[0], len, v[2], len)) {
    return throw_range(env, "peftlab_native.reluGrad: dx overlaps an input");
  }
  if (len == 0) return NULL;
  if (!cpu_ok()) return throw_range(env, "peftlab_native.reluGrad: this CPU lacks AVX2 + FMA");
  relu_t j = {h + v[0], h + v[1], h + v[2], (long)len, (int)v[4]};
  if (!run_shared(relu_task, &j, len >= PARALLEL_MIN_ELEMENTS ? pool_threads() : 1)) {
    return throw_range(env, "peftlab_native.reluGrad: out of memory");
  }
  return NULL;
}

// ---- depthwiseConv ----

static void depthwise_task(void *ctx, int tid, int nt, float *work) {
  (void)work;
  const depthwise_args_t *j = ctx;
  const long rows = (long)j->n * j->out_h;
  depthwise_rows(j, rows * tid / nt, rows * (tid + 1) / nt);
}

// depthwiseConv(heap, xAt, wAt, biasAt, outAt, n, inH, inW, C, kh, kw, strideH, strideW, padTop, padLeft, outH,
// outW, act): depthwise conv forward, NHWC, multiplier 1, no dilation; biasAt −1: none; act 0, 1 ReLU, 2 ReLU6.
napi_value depthwise_conv_js(napi_env env, napi_callback_info info) {
  float *h;
  long long n;
  int64_t v[17];
  if (!read_heap_call(env, info, "depthwiseConv", 17, 0, &h, &n, v, NULL)) return NULL;
  if (!sizes_ok(v + 4, 13, 65536 * 16)) return throw_range(env, "peftlab_native.depthwiseConv: a negative or huge size");
  const long long b = v[4], ih = v[5], iw = v[6], c = v[7], kh = v[8], kw = v[9], oh = v[14], ow = v[15];
  if (kh * kw > 25 || v[10] < 1 || v[11] < 1 || v[16] > 2 || v[12] >= kh || v[13] >= kw) {
    return throw_range(env, "peftlab_native.depthwiseConv: filter over 5×5, stride < 1, padding ≥ the filter, or act not 0/1/2");
  }
  const long long xs = b * ih * iw * c, os = b * oh * ow * c;
  if (!fits(v[0], xs, n, 0) || !fits(v[1], kh * kw * c, n, 0) || !fits(v[2], c, n, 1) || !fits(v[3], os, n, 0)) {
    return throw_range(env, "peftlab_native.depthwiseConv: an operand reaches past the end of the heap");
  }
  if (clash(v[3], os, v[0], xs) || clash(v[3], os, v[1], kh * kw * c) || clash(v[3], os, v[2], c)) {
    return throw_range(env, "peftlab_native.depthwiseConv: out overlaps an input");
  }
  if (os == 0) return NULL;
  if (!cpu_ok()) return throw_range(env, "peftlab_native.depthwiseConv: this CPU lacks AVX2 + FMA");
  depthwise_args_t j = {h + v[0], h + v[1], v[2] >= 0 ? h + v[2] : NULL, h + v[3], (int)b, (int)ih, (int)iw, (int)c,
                        (int)kh, (int)kw, (int)v[10], (int)v[11], (int)v[12], (int)v[13], (int)oh, (int)ow, (int)v[16]};
  const double flops = 2.0 * (double)os * (double)(kh * kw);
  if (!run_shared(depthwise_task, &j, flops >= PARALLEL_MIN_FLOPS / 4 ? pool_threads() : 1)) {
    return throw_range(env, "peftlab_native.depthwiseConv: out of memory");
  }
  return NULL;
}
