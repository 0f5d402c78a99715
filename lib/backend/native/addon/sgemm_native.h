// The native kernels' contracts, shared by the AVX2 files (sgemm_avx2.c, elementwise_avx2.c) and the addon's glue
// (peftlab_native.c).
#ifndef PEFTLAB_SGEMM_NATIVE_H
#define PEFTLAB_SGEMM_NATIVE_H
#include <stddef.h>
#include <stdint.h>

// C[m,n] (row stride ldc) = op(A)·op(B) (+ bias) (act), op(A)(i,k) = a[i·ars + k·acs], op(B)(k,j) = b[k·brs + j·bcs].
typedef struct {
  const float *a;
  long ars, acs;
  const float *b;
  long brs, bcs;
  float *c;
  long ldc;
  int m, k, n;
  const float *bias; // NULL: none
  int bstride;       // 0: bias[0] for every column; 1: bias[j]
  int act;           // 0 linear, 1 ReLU, 2 ReLU6
} sgemm_args_t;

// Floats of scratch one call of sgemm_native needs (whatever the shape).
size_t sgemm_native_work_floats(void);
void sgemm_native(const sgemm_args_t *g, float *work);

// y[i] = GELU(x[i]) (erf form) and, when g is not NULL, g[i] = GELU'(x[i]), for i < len (elementwise_avx2.c).
void gelu_erf_native(const float *x, float *y, float *g, long len);
#endif
