// The addon's glue shared by its export files (peftlab_native.c, transformer_glue.c): the CPU check, the thread
// pool and the reader of the (heap, ints…, floats…) call form every kernel export takes.
#ifndef PEFTLAB_NATIVE_COMMON_H
#define PEFTLAB_NATIVE_COMMON_H
#include <node_api.h>
#include <stdint.h>

#define MAX_THREADS 64
// Calls smaller than these run on the calling thread alone: waking a worker costs more than it saves.
#define PARALLEL_MIN_FLOPS (4.0 * 1024 * 1024)
#define PARALLEL_MIN_ELEMENTS (1 << 16)

// 1 when this CPU has AVX2 + FMA (the *_avx2.c kernels may run).
int cpu_ok(void);

// A share of a parallel call: thread tid of nt, with sgemm_native scratch of its own (`work`).
typedef void (*task_fn)(void *ctx, int tid, int nt, float *work);

// Runs fn(ctx, tid, nt, work) for tid < nt ≤ want on the pool (threads − 1 workers and the caller) and returns nt.
// When another JS thread (a worker_thread) holds the pool, runs fn(ctx, 0, 1, own scratch) on the calling thread.
// Returns 0, running nothing, when no scratch could be allocated.
int run_shared(task_fn fn, void *ctx, int want);

// Thread tid's band [*lo, *hi) of len elements split over nt threads in whole 8-lane vectors (empty when lo ≥ hi).
static inline void band8(long len, int tid, int nt, long *lo, long *hi) {
  const long units = (len + 7) / 8;
  const long end = units * (tid + 1) / nt * 8;
  *lo = units * tid / nt * 8;
  *hi = end < len ? end : len;
}

// 1 when every one of v[0..n) is in [0, max] (the sizes and offsets of a call).
static inline int sizes_ok(const int64_t *v, int n, int64_t max) {
  for (int i = 0; i < n; i++) {
    if (v[i] < 0 || v[i] > max) return 0;
  }
  return 1;
}

// Threads the pool uses (setThreads), and the calls so far that ran on more than one thread (for tests).
int pool_threads(void);
void pool_set_threads(int n);
double pool_splits(void);

// Throws a RangeError (code PEFTLAB_NATIVE_BOUNDS) and returns NULL.
napi_value throw_range(napi_env env, const char *msg);

// Reads a call (heap: Float32Array, nints integers, nreals numbers) of export `name`: the heap, its length in
// floats, the integers and the numbers. Returns 0, having thrown, when the call has another form.
int read_heap_call(napi_env env, napi_callback_info info, const char *name, size_t nints, size_t nreals,
                   float **heap, long long *length, int64_t *ints, double *reals);

// Exports defined in transformer_glue.c (LayerNorm and attention).
napi_value layer_norm_js(napi_env env, napi_callback_info info);
napi_value layer_norm_grad_js(napi_env env, napi_callback_info info);
napi_value attention_js(napi_env env, napi_callback_info info);
napi_value attention_grad_js(napi_env env, napi_callback_info info);
// Exports defined in channel_glue.c (BatchNorm statistics and affine maps, ReLU/ReLU6 gradient, depthwise conv).
napi_value channel_sums_js(napi_env env, napi_callback_info info);
napi_value channel_affine_js(napi_env env, napi_callback_info info);
napi_value relu_grad_js(napi_env env, napi_callback_info info);
napi_value depthwise_conv_js(napi_env env, napi_callback_info info);
// Defined in conv_glue.c (general conv forward as im2col + GEMM).
napi_value conv2d_js(napi_env env, napi_callback_info info);
#endif
