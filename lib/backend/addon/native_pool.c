// The addon's thread pool and the argument reader its exports share (see native_common.h).
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include "native_common.h"
#include "sgemm_native.h"

int cpu_ok(void) {
#if defined(__x86_64__)
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
  return 0;
#endif
}

// ---- thread pool: threads-1 persistent workers; the calling thread takes part ----

static struct {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  atomic_int gen;
  atomic_int pending;
  task_fn fn;
  void *ctx;
  int nt;
  int workers; // started so far
  int threads; // wanted (workers + 1)
  double splits; // calls that ran on more than one thread (reported by info(), for tests)
  float *work[MAX_THREADS];
} pool = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, NULL, NULL, 1, 0, 1, 0, {0}};

static float *alloc_work(void) {
  return aligned_alloc(64, (sgemm_native_work_floats() * sizeof(float) + 63) & ~(size_t)63);
}

static float *thread_work(int tid) {
  if (!pool.work[tid]) pool.work[tid] = alloc_work();
  return pool.work[tid];
}

static void *worker_main(void *p) {
  const int tid = (int)(intptr_t)p;
  int seen = 0;
  for (;;) {
    // Spin briefly (back-to-back GEMMs), then sleep on the condition variable.
    for (int i = 0; i < 4000 && atomic_load(&pool.gen) == seen; i++) __builtin_ia32_pause();
    pthread_mutex_lock(&pool.mu);
    while (atomic_load(&pool.gen) == seen) pthread_cond_wait(&pool.cv, &pool.mu);
    seen = atomic_load(&pool.gen);
    task_fn fn = pool.fn;
    void *ctx = pool.ctx;
    int nt = pool.nt;
    pthread_mutex_unlock(&pool.mu);
    if (tid < nt) fn(ctx, tid, nt, pool.work[tid]);
    atomic_fetch_sub(&pool.pending, 1);
  }
  return NULL;
}

// Runs fn(ctx, tid, nt) for tid in [0, nt) and returns when all are done; returns nt actually used.
// Returns 0, running nothing, when not even the caller's scratch can be allocated.
static int run_parallel(task_fn fn, void *ctx, int nt) {
  if (nt > pool.threads) nt = pool.threads;
  for (int i = 0; i < nt; i++) {
    if (!thread_work(i)) {
      nt = i;
      break;
    }
  }
  if (nt == 0) return 0;
  while (pool.workers < nt - 1) {
    pthread_t t;
    if (pthread_create(&t, NULL, worker_main, (void *)(intptr_t)(pool.workers + 1)) != 0) break;
    pthread_detach(t);
    pool.workers++;
  }
  if (nt > pool.workers + 1) nt = pool.workers + 1;
  if (nt <= 1) {
    fn(ctx, 0, 1, pool.work[0]);
    return 1;
  }
  pool.splits++;
  pthread_mutex_lock(&pool.mu);
  pool.fn = fn;
  pool.ctx = ctx;
  pool.nt = nt;
  atomic_store(&pool.pending, pool.workers);
  atomic_fetch_add(&pool.gen, 1);
  pthread_cond_broadcast(&pool.cv);
  pthread_mutex_unlock(&pool.mu);
  fn(ctx, 0, nt, pool.work[0]);
  for (long i = 0; atomic_load(&pool.pending) > 0; i++) {
    if (i < 100000) __builtin_ia32_pause();
    else sched_yield();
  }
  return nt;
}


static pthread_mutex_t call_mu = PTHREAD_MUTEX_INITIALIZER; // one JS thread at a time uses the pool

int run_shared(task_fn fn, void *ctx, int want) {
  if (pthread_mutex_trylock(&call_mu) == 0) {
    int nt = run_parallel(fn, ctx, want);
    pthread_mutex_unlock(&call_mu);
    return nt;
  }
  // Another JS thread (a worker_thread) is inside the pool: compute on this thread with scratch of its own.
  float *own = alloc_work();
  if (!own) return 0;
  fn(ctx, 0, 1, own);
  free(own);
  return 1;
}

int pool_threads(void) { return pool.threads; }
void pool_set_threads(int n) { pool.threads = n; }
double pool_splits(void) { return pool.splits; }

// ---- argument reading ----

napi_value throw_range(napi_env env, const char *msg) {
  napi_throw_range_error(env, "PEFTLAB_NATIVE_BOUNDS", msg);
  return NULL;
}

// Reads a call (heap: Float32Array, ...nints integers) of export `name`: the heap and its length in floats, and
// the integers. Returns 0, having thrown, when the call has another form.
int read_heap_call(napi_env env, napi_callback_info info, const char *name, size_t nints, size_t nreals,
                   float **heap, long long *length, int64_t *ints, double *reals) {
  char msg[160];
  size_t argc = 24;
  napi_value argv[24];
  napi_typedarray_type type;
  size_t len;
  void *data;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) {
    napi_throw_error(env, "PEFTLAB_NATIVE", "peftlab_native: napi_get_cb_info failed");
    return 0;
  }
  if (argc != nints + nreals + 1) {
    snprintf(msg, sizeof msg, "peftlab_native.%s: expected %zu arguments, got %zu", name, nints + nreals + 1, argc);
    napi_throw_range_error(env, "PEFTLAB_NATIVE_BOUNDS", msg);
    return 0;
  }
  if (napi_get_typedarray_info(env, argv[0], &type, &len, &data, NULL, NULL) != napi_ok ||
      type != napi_float32_array) {
    snprintf(msg, sizeof msg, "peftlab_native.%s: heap must be a Float32Array", name);
    napi_throw_range_error(env, "PEFTLAB_NATIVE_BOUNDS", msg);
    return 0;
  }
  for (size_t i = 0; i < nints; i++) {
    if (napi_get_value_int64(env, argv[i + 1], &ints[i]) != napi_ok) {
      snprintf(msg, sizeof msg, "peftlab_native.%s: argument %zu must be a number", name, i + 1);
      napi_throw_range_error(env, "PEFTLAB_NATIVE_BOUNDS", msg);
      return 0;
    }
  }
  for (size_t i = 0; i < nreals; i++) {
    if (napi_get_value_double(env, argv[nints + i + 1], &reals[i]) != napi_ok) {
      snprintf(msg, sizeof msg, "peftlab_native.%s: argument %zu must be a number", name, nints + i + 1);
      napi_throw_range_error(env, "PEFTLAB_NATIVE_BOUNDS", msg);
      return 0;
    }
  }
  *heap = data;
  *length = (long long)len;
  return 1;
}

