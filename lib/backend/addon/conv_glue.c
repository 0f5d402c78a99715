// General 2-D convolution forward on NHWC data (groups 1, any filter, stride, padding and dilation) as im2col + GEMM
// on the pool, and its Node-API export. Each thread takes bands of output rows; per chunk of rows it gathers the
// receptive fields into its own [rows, kh·kw·C] scratch and runs one GEMM against the [kh·kw·C, CO] filter with the
// bias and ReLU/ReLU6 in the epilogue, writing the output rows in place. A row's sum does not depend on which chunk
// or thread computes it, so results are bit-identical for any thread count.
//
// Why: tfjs-backend-wasm runs Conv2D on XNNPACK on one thread (~20–25 GFLOP/s here); ResNet-18 inference at batch 16
// ran at 6.4 img/s, almost all of it in 3×3 convs.
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "native_common.h"
#include "sgemm_native.h"

typedef struct {
  const float *x, *w, *bias; // x [n, in_h, in_w, c], w [kh, kw, c, co], bias [co] or NULL
  float *out;                // [n, out_h, out_w, co]
  int n, in_h, in_w, c, kh, kw, sh, sw, dh, dw, pt, pl, out_h, out_w, co, act;
  long chunk; // rows per GEMM
  atomic_int failed;
} conv_t;

// cols[r − r0, (i·kw + j)·c + ch] = x[img, oh·sh − pt + i·dh, ow·sw − pl + j·dw, ch], 0 outside the input.
static void gather(const conv_t *a, long r0, long r1, float *cols) {
  const long kkc = (long)a->kh * a->kw * a->c;
  const size_t run = (size_t)a->c * sizeof(float);
  for (long r = r0; r < r1; r++) {
    const long img = r / ((long)a->out_h * a->out_w), rem = r % ((long)a->out_h * a->out_w);
    const int oh = (int)(rem / a->out_w), ow = (int)(rem % a->out_w);
    float *dst = cols + (r - r0) * kkc;
    for (int i = 0; i < a->kh; i++) {
      const int ih = oh * a->sh - a->pt + i * a->dh;
      for (int j = 0; j < a->kw; j++, dst += a->c) {
        const int iw = ow * a->sw - a->pl + j * a->dw;
        if (ih < 0 || ih >= a->in_h || iw < 0 || iw >= a->in_w) memset(dst, 0, run);
        else memcpy(dst, a->x + (((long)img * a->in_h + ih) * a->in_w + iw) * a->c, run);
      }
    }
  }
}

static void conv_task(void *ctx, int tid, int nt, float *work) {
  conv_t *a = ctx;
  const long rows = (long)a->n * a->out_h * a->out_w, chunks = (rows + a->chunk - 1) / a->chunk;
  const long c0 = chunks * tid / nt, c1 = chunks * (tid + 1) / nt;
  if (c0 >= c1) return;
  const long kkc = (long)a->kh * a->kw * a->c;
  float *cols = malloc((size_t)(a->chunk * kkc) * sizeof(float));
  if (!cols) {
    atomic_store(&a->failed, 1);
    return;
  }
  for (long ch = c0; ch < c1; ch++) {
    const long r0 = ch * a->chunk, r1 = r0 + a->chunk < rows ? r0 + a->chunk : rows;
    gather(a, r0, r1, cols);
    sgemm_args_t g = {cols, kkc, 1, a->w, a->co, 1, a->out + r0 * a->co, a->co, (int)(r1 - r0), (int)kkc, a->co,
                      a->bias, 1, a->act};
    sgemm_native(&g, work);
  }
  free(cols);
}

// conv2d(heap, xAt, wAt, biasAt, outAt, n, inH, inW, C, kh, kw, strideH, strideW, dilH, dilW, padTop, padLeft, outH,
// outW, CO, act): NHWC conv forward, groups 1; biasAt −1: none; act 0, 1 ReLU, 2 ReLU6.
napi_value conv2d_js(napi_env env, napi_callback_info info) {
  float *h;
  long long n;
  int64_t v[20];
  if (!read_heap_call(env, info, "conv2d", 20, 0, &h, &n, v, NULL)) return NULL;
  if (!sizes_ok(v + 4, 16, 1 << 20)) return throw_range(env, "peftlab_native.conv2d: a negative or huge size");
  const long long b = v[4], ih = v[5], iw = v[6], c = v[7], kh = v[8], kw = v[9], oh = v[16], ow = v[17], co = v[18];
  if (v[10] < 1 || v[11] < 1 || v[12] < 1 || v[13] < 1 || v[19] > 2 || kh * kw * c > (1 << 20)) {
    return throw_range(env, "peftlab_native.conv2d: stride or dilation < 1, act not 0/1/2, or kh·kw·C over 2^20");
  }
  const long long xs = b * ih * iw * c, ws = kh * kw * c * co, os = b * oh * ow * co;
  const int has_bias = v[2] != -1;
  if (v[0] < 0 || v[0] + xs > n || v[1] < 0 || v[1] + ws > n || (has_bias && (v[2] < 0 || v[2] + co > n)) || v[3] < 0 ||
      v[3] + os > n) {
    return throw_range(env, "peftlab_native.conv2d: an operand reaches past the end of the heap");
  }
  if ((v[3] < v[0] + xs && v[0] < v[3] + os) || (v[3] < v[1] + ws && v[1] < v[3] + os) ||
      (has_bias && v[3] < v[2] + co && v[2] < v[3] + os)) {
    return throw_range(env, "peftlab_native.conv2d: out overlaps an input");
  }
  if (os == 0) return NULL;
  if (kh * kw * c == 0) return throw_range(env, "peftlab_native.conv2d: an empty filter (apply the bias in JS)");
  if (!cpu_ok()) return throw_range(env, "peftlab_native.conv2d: this CPU lacks AVX2 + FMA");
  const long kkc = (long)(kh * kw * c);
  long chunk = (1L << 18) / kkc; // ~1 MiB of gathered rows per GEMM
  chunk = chunk < 24 ? 24 : chunk > 512 ? 512 : chunk;
  conv_t a = {h + v[0], h + v[1], has_bias ? h + v[2] : NULL, h + v[3], (int)b, (int)ih, (int)iw, (int)c, (int)kh,
              (int)kw, (int)v[10], (int)v[11], (int)v[12], (int)v[13], (int)v[14], (int)v[15], (int)oh, (int)ow,
              (int)co, (int)v[19], chunk, 0};
  const double flops = 2.0 * (double)os * (double)kkc;
  if (!run_shared(conv_task, &a, flops >= PARALLEL_MIN_FLOPS ? pool_threads() : 1) || atomic_load(&a.failed)) {
    return throw_range(env, "peftlab_native.conv2d: out of memory for im2col scratch");
  }
  return NULL;
}
