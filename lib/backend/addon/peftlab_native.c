// peftlab_native: an optional Node-API addon with peftlab's AVX2 + FMA kernels: GEMM, GELU and the elementwise
// product (exported here), LayerNorm and multi-head attention (transformer_glue.c), BatchNorm's per-channel maps,
// the ReLU gradient and the depthwise conv (channel_glue.c), the general conv (conv_glue.c), on a small thread pool
// (native_pool.c).
//
// It computes in place on memory JavaScript already owns: the wasm backend's heap (a Float32Array over its
// WebAssembly.Memory), so a tfjs tensor is read and written with no copy. Every index a call would touch is
// checked against that array first; a bad call throws a RangeError instead of reading out of bounds.
//
// Built by scripts/build-native.mjs where a C compiler and Node's headers exist (x86-64 only); lib/backend's
// native_addon.ts loads it when present and the CPU has AVX2 + FMA, and falls back to the wasm kernels otherwise.
#include <node_api.h>
#include <unistd.h>

#include "native_common.h"
#include "sgemm_native.h"

#define MR_ALIGN 6
#define NR_ALIGN 16

// ---- batched GEMM split across the pool ----

typedef struct {
  sgemm_args_t g;
  long a_step, b_step, c_step;
  int count;
} batch_t;

static sgemm_args_t slice_of(const batch_t *j, int s) {
  sgemm_args_t g = j->g;
  g.a += s * j->a_step;
  g.b += s * j->b_step;
  g.c += s * j->c_step;
  return g;
}

// Thread tid's share: whole slices when there are at least as many slices as threads, else a band of rows (or of
// columns, for short wide products) of every slice.
static void batch_task(void *ctx, int tid, int nt, float *work) {
  const batch_t *j = ctx;
  if (j->count >= nt) {
    for (int s = (int)((long)j->count * tid / nt); s < (int)((long)j->count * (tid + 1) / nt); s++) {
      sgemm_args_t g = slice_of(j, s);
      sgemm_native(&g, work);
    }
    return;
  }
  const int by_rows = j->g.m >= 4 * MR_ALIGN * nt || j->g.m >= j->g.n;
  const int len = by_rows ? j->g.m : j->g.n, unit = by_rows ? MR_ALIGN : NR_ALIGN;
  const int units = (len + unit - 1) / unit;
  const int u0 = (int)((long)units * tid / nt), u1 = (int)((long)units * (tid + 1) / nt);
  const int lo = u0 * unit, hi = u1 * unit < len ? u1 * unit : len;
  if (lo >= hi) return;
  for (int s = 0; s < j->count; s++) {
    sgemm_args_t g = slice_of(j, s);
    if (by_rows) {
      g.a += lo * g.ars;
      g.c += lo * g.ldc;
      g.m = hi - lo;
    } else {
      g.b += lo * g.bcs;
      g.c += lo;
      if (g.bias && g.bstride) g.bias += lo;
      g.n = hi - lo;
    }
    sgemm_native(&g, work);
  }
}

// ---- Node-API glue ----

#define CHECK(call)                                                                                                  \
  do {                                                                                                               \
    if ((call) != napi_ok) {                                                                                         \
      napi_throw_error(env, "PEFTLAB_NATIVE", "peftlab_native: a Node-API call failed: " #call);                    \
      return NULL;                                                                                                   \
    }                                                                                                                \
  } while (0)

// Largest index a strided [rows, cols] operand repeated `count` times touches (all steps are ≥ 0).
static long long last_index(long long at, long long step, int count, int rows, int cols, long long rs, long long cs) {
  return at + step * (count - 1) + rs * (rows - 1) + cs * (cols - 1);
}

// sgemmBatch(heap: Float32Array, aAt, ars, acs, aStep, bAt, brs, bcs, bStep, outAt, m, k, n, count, biasAt,
//            biasLen, act): every offset, stride and step in floats of `heap`. Slice s of the output is the
//            row-major [m, n] at outAt + s·m·n. biasLen: 0 none, 1 one value, n one per column. act: 0, 1 ReLU,
//            2 ReLU6.
static napi_value sgemm_batch_js(napi_env env, napi_callback_info info) {
  float *h;
  long long len;
  int64_t v[16];
  if (!read_heap_call(env, info, "sgemmBatch", 16, 0, &h, &len, v, NULL)) return NULL;
  for (int i = 0; i < 16; i++) {
    if (v[i] < 0 || v[i] > (1LL << 40)) return throw_range(env, "peftlab_native.sgemmBatch: negative or huge argument");
  }
  const long long a_at = v[0], ars = v[1], acs = v[2], a_step = v[3], b_at = v[4], brs = v[5], bcs = v[6],
                  b_step = v[7], out_at = v[8], bias_at = v[13], bias_len = v[14];
  const long long m = v[9], k = v[10], n = v[11], count = v[12], act = v[15];
  if (m > INT32_MAX || k > INT32_MAX || n > INT32_MAX || count > INT32_MAX || act > 2) {
    return throw_range(env, "peftlab_native.sgemmBatch: m, k, n or count too large, or act not 0/1/2");
  }
  if (m == 0 || n == 0 || count == 0) return NULL;
  if (k == 0) return throw_range(env, "peftlab_native.sgemmBatch: k must be ≥ 1 (apply the epilogue in JS)");
  if (last_index(a_at, a_step, (int)count, (int)m, (int)k, ars, acs) >= len ||
      last_index(b_at, b_step, (int)count, (int)k, (int)n, brs, bcs) >= len || out_at + count * m * n > len ||
      (bias_len && bias_at + bias_len > len)) {
    return throw_range(env, "peftlab_native.sgemmBatch: an operand reaches past the end of the heap");
  }
  if (bias_len != 0 && bias_len != 1 && bias_len != n) {
    return throw_range(env, "peftlab_native.sgemmBatch: biasLen must be 0, 1 or n");
  }
  if (!cpu_ok()) return throw_range(env, "peftlab_native.sgemmBatch: this CPU lacks AVX2 + FMA");
  batch_t j = {{h + a_at, ars, acs, h + b_at, brs, bcs, h + out_at, n, (int)m, (int)k, (int)n,
                bias_len ? h + bias_at : NULL, bias_len == 1 ? 0 : 1, (int)act},
               a_step,
               b_step,
               m * n,
               (int)count};
  const double flops = 2.0 * (double)m * (double)n * (double)k * (double)count;
  if (!run_shared(batch_task, &j, flops < PARALLEL_MIN_FLOPS ? 1 : pool_threads())) {
    return throw_range(env, "peftlab_native.sgemmBatch: out of memory for GEMM scratch");
  }
  return NULL;
}

// ---- GELU split across the pool ----

typedef struct {
  const float *x;
  float *y, *g;
  long len;
} gelu_t;

static void gelu_task(void *ctx, int tid, int nt, float *work) {
  (void)work;
  const gelu_t *j = ctx;
  long lo, hi;
  band8(j->len, tid, nt, &lo, &hi);
  if (lo < hi) gelu_erf_native(j->x + lo, j->y + lo, j->g ? j->g + lo : NULL, hi - lo);
}

// geluErf(heap: Float32Array, xAt, yAt, gAt, len): y = GELU(x) and, when gAt ≥ 0, g = GELU'(x) (offsets in floats;
// y and g must not overlap x).
static napi_value gelu_erf_js(napi_env env, napi_callback_info info) {
  float *h;
  long long n;
  int64_t v[4];
  if (!read_heap_call(env, info, "geluErf", 4, 0, &h, &n, v, NULL)) return NULL;
  const long long x_at = v[0], y_at = v[1], g_at = v[2], len = v[3];
  if (x_at < 0 || y_at < 0 || g_at < -1 || len < 0 || x_at + len > n || y_at + len > n || g_at + len > n) {
    return throw_range(env, "peftlab_native.geluErf: an offset is negative or reaches past the end of the heap");
  }
  const long long xe = x_at + len;
  if ((y_at < xe && x_at < y_at + len) || (g_at >= 0 && g_at < xe && x_at < g_at + len)) {
    return throw_range(env, "peftlab_native.geluErf: y or g overlaps x");
  }
  if (!cpu_ok()) return throw_range(env, "peftlab_native.geluErf: this CPU lacks AVX2 + FMA");
  gelu_t j = {h + x_at, h + y_at, g_at >= 0 ? h + g_at : NULL, (long)len};
  if (!run_shared(gelu_task, &j, len >= PARALLEL_MIN_ELEMENTS ? pool_threads() : 1)) {
    return throw_range(env, "peftlab_native.geluErf: out of memory for scratch");
  }
  return NULL;
}

// ---- elementwise product split across the pool ----

typedef struct {
  const float *a, *b;
  float *out;
  long len;
} mul_t;

static void mul_task(void *ctx, int tid, int nt, float *work) {
  (void)work;
  const mul_t *j = ctx;
  long lo, hi;
  band8(j->len, tid, nt, &lo, &hi);
  if (lo < hi) mul_native(j->a + lo, j->b + lo, j->out + lo, hi - lo);
}

// mul(heap, aAt, bAt, outAt, len): out = a·b elementwise (out must not overlap a or b).
static napi_value mul_js(napi_env env, napi_callback_info info) {
  float *h;
  long long n;
  int64_t v[4];
  if (!read_heap_call(env, info, "mul", 4, 0, &h, &n, v, NULL)) return NULL;
  const long long a_at = v[0], b_at = v[1], o_at = v[2], len = v[3];
  if (a_at < 0 || b_at < 0 || o_at < 0 || len < 0 || a_at + len > n || b_at + len > n || o_at + len > n) {
    return throw_range(env, "peftlab_native.mul: an offset is negative or reaches past the end of the heap");
  }
  if ((o_at < a_at + len && a_at < o_at + len) || (o_at < b_at + len && b_at < o_at + len)) {
    return throw_range(env, "peftlab_native.mul: out overlaps a or b");
  }
  if (!cpu_ok()) return throw_range(env, "peftlab_native.mul: this CPU lacks AVX2 + FMA");
  mul_t j = {h + a_at, h + b_at, h + o_at, (long)len};
  if (len > 0 && !run_shared(mul_task, &j, len >= PARALLEL_MIN_ELEMENTS ? pool_threads() : 1)) {
    return throw_range(env, "peftlab_native.mul: out of memory for scratch");
  }
  return NULL;
}

// setThreads(n): threads used from now on (1 = the calling thread only); returns the value set.
static napi_value set_threads_js(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], out;
  int32_t n;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  CHECK(napi_get_value_int32(env, argv[0], &n));
  if (n < 1 || n > MAX_THREADS) return throw_range(env, "peftlab_native.setThreads: n must be in [1, 64]");
  pool_set_threads(n);
  CHECK(napi_create_int32(env, n, &out));
  return out;
}

// info(): { isa: "avx2+fma" | null, threads, cores, splits }.
static napi_value info_js(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value obj, isa, threads, cores, splits;
  CHECK(napi_create_object(env, &obj));
  if (cpu_ok()) CHECK(napi_create_string_utf8(env, "avx2+fma", NAPI_AUTO_LENGTH, &isa));
  else CHECK(napi_get_null(env, &isa));
  CHECK(napi_create_int32(env, pool_threads(), &threads));
  CHECK(napi_create_int32(env, (int32_t)sysconf(_SC_NPROCESSORS_ONLN), &cores));
  CHECK(napi_set_named_property(env, obj, "isa", isa));
  CHECK(napi_set_named_property(env, obj, "threads", threads));
  CHECK(napi_set_named_property(env, obj, "cores", cores));
  CHECK(napi_create_double(env, pool_splits(), &splits));
  CHECK(napi_set_named_property(env, obj, "splits", splits));
  return obj;
}

NAPI_MODULE_INIT() {
  napi_property_descriptor props[] = {
      {"sgemmBatch", NULL, sgemm_batch_js, NULL, NULL, NULL, napi_default, NULL},
      {"geluErf", NULL, gelu_erf_js, NULL, NULL, NULL, napi_default, NULL},
      {"mul", NULL, mul_js, NULL, NULL, NULL, napi_default, NULL},
      {"layerNorm", NULL, layer_norm_js, NULL, NULL, NULL, napi_default, NULL},
      {"layerNormGrad", NULL, layer_norm_grad_js, NULL, NULL, NULL, napi_default, NULL},
      {"attention", NULL, attention_js, NULL, NULL, NULL, napi_default, NULL},
      {"attentionGrad", NULL, attention_grad_js, NULL, NULL, NULL, napi_default, NULL},
      {"channelSums", NULL, channel_sums_js, NULL, NULL, NULL, napi_default, NULL},
      {"channelAffine", NULL, channel_affine_js, NULL, NULL, NULL, napi_default, NULL},
      {"reluGrad", NULL, relu_grad_js, NULL, NULL, NULL, napi_default, NULL},
      {"depthwiseConv", NULL, depthwise_conv_js, NULL, NULL, NULL, napi_default, NULL},
      {"conv2d", NULL, conv2d_js, NULL, NULL, NULL, napi_default, NULL},
      {"setThreads", NULL, set_threads_js, NULL, NULL, NULL, napi_default, NULL},
      {"info", NULL, info_js, NULL, NULL, NULL, napi_default, NULL},
  };
  if (napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props) != napi_ok) return NULL;
  return exports;
}
