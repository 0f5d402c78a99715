// peftlab's packed single-precision GEMM for x86-64 with AVX2 + FMA3, called by the native addon on tfjs's own
// tensors (the wasm backend's heap): C[M,N] = op(A)·op(B) (+ bias) (ReLU / ReLU6), with any strides.
//
// Same contract and blocking as the wasm build (sgemm.c), with the register tile sized for 16 ymm registers:
// 6 rows × 16 columns = 12 accumulators + 2 B vectors + 1 A broadcast. GotoBLAS order: K in blocks of KC; B packed
// per K block into NR-column panels [kc][16] (a panel is 16 KiB: it stays in L1); A in blocks of MC rows packed
// into MR-row panels [kc][6] (≤ 96 KiB: L2). Each output element is the same sum in the same order wherever its
// row or column block starts, so splitting rows, columns or batch slices across threads is bit-identical.
//
// Compiled alone with -mavx2 -mfma; the addon calls it only after checking the CPU (peftlab_native.c).
#include <immintrin.h>
#include <math.h>
#include <string.h>

#include "sgemm_native.h"

#define MR 6
#define NR 16
#define KC 256
#define MC 96
#define NC 2048

static inline int imin(int a, int b) { return a < b ? a : b; }

size_t sgemm_native_work_floats(void) { return (size_t)KC * NC + (size_t)MC * KC + MR * NR + 16; }

// Q[k][r] = A(r, k) for r < mr (zero past the last row), k < kc.
static void pack_a(const float *A, long ars, long acs, int mr, int kc, float *Q) {
  if (mr == MR && ars == 1) { // transposed A: the 6 rows of one k are contiguous
    for (int k = 0; k < kc; k++, Q += MR) memcpy(Q, A + k * acs, MR * sizeof(float));
    return;
  }
  if (mr == MR && acs == 1) {
    const float *a0 = A, *a1 = A + ars, *a2 = A + 2 * ars, *a3 = A + 3 * ars, *a4 = A + 4 * ars, *a5 = A + 5 * ars;
    for (int k = 0; k < kc; k++, Q += MR) {
      Q[0] = a0[k], Q[1] = a1[k], Q[2] = a2[k], Q[3] = a3[k], Q[4] = a4[k], Q[5] = a5[k];
    }
    return;
  }
  for (int k = 0; k < kc; k++, Q += MR) {
    for (int r = 0; r < MR; r++) Q[r] = r < mr ? A[r * ars + k * acs] : 0.0f;
  }
}

// P[k][c] = B(k, c) for c < nr (zero past the last column), k < kc.
static void pack_b(const float *B, long brs, long bcs, int nr, int kc, float *P) {
  if (nr == NR && bcs == 1) { // row-major B
    for (int k = 0; k < kc; k++, P += NR) {
      const float *b = B + k * brs;
      _mm256_store_ps(P, _mm256_loadu_ps(b));
      _mm256_store_ps(P + 8, _mm256_loadu_ps(b + 8));
    }
    return;
  }
  if (nr == NR && brs == 1) { // transposed B: each column is contiguous in k
    for (int c = 0; c < NR; c++) {
      const float *b = B + c * bcs;
      for (int k = 0; k < kc; k++) P[k * NR + c] = b[k];
    }
    return;
  }
  for (int k = 0; k < kc; k++, P += NR) {
    for (int c = 0; c < NR; c++) P[c] = c < nr ? B[k * brs + c * bcs] : 0.0f;
  }
}

// ReLU / ReLU6 that keep NaN (as torch does): max/min return their second operand when either is NaN.
static inline __m256 activate(__m256 v, int act) {
  if (act >= 1) v = _mm256_max_ps(_mm256_setzero_ps(), v);
  if (act == 2) v = _mm256_min_ps(_mm256_set1_ps(6.0f), v);
  return v;
}

static inline float activate1(float v, int act) {
  if (act >= 1 && v < 0.0f) v = 0.0f;
  if (act == 2 && v > 6.0f) v = 6.0f;
  return v;
}

typedef struct {
  int first, last; // first K block (overwrite C) / last K block (apply the epilogue)
  const float *bias; // bias of this tile's first column, or NULL
  int bstride;       // 0: one bias value for all columns, 1: one per column
  int act;
} epilogue_t;

// C tile [mr, nr] (row stride ldc) (+)= Ap[kc][6] · Bp[kc][16], then the epilogue on the last K block.
static void kernel_6x16(int kc, const float *Ap, const float *Bp, float *C, long ldc, int mr, int nr,
                        const epilogue_t *ep) {
  __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
  __m256 c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
  for (int k = 0; k < kc; k++, Ap += MR, Bp += NR) {
    __m256 b0 = _mm256_load_ps(Bp), b1 = _mm256_load_ps(Bp + 8), a;
    a = _mm256_broadcast_ss(Ap + 0), c00 = _mm256_fmadd_ps(a, b0, c00), c01 = _mm256_fmadd_ps(a, b1, c01);
    a = _mm256_broadcast_ss(Ap + 1), c10 = _mm256_fmadd_ps(a, b0, c10), c11 = _mm256_fmadd_ps(a, b1, c11);
    a = _mm256_broadcast_ss(Ap + 2), c20 = _mm256_fmadd_ps(a, b0, c20), c21 = _mm256_fmadd_ps(a, b1, c21);
    a = _mm256_broadcast_ss(Ap + 3), c30 = _mm256_fmadd_ps(a, b0, c30), c31 = _mm256_fmadd_ps(a, b1, c31);
    a = _mm256_broadcast_ss(Ap + 4), c40 = _mm256_fmadd_ps(a, b0, c40), c41 = _mm256_fmadd_ps(a, b1, c41);
    a = _mm256_broadcast_ss(Ap + 5), c50 = _mm256_fmadd_ps(a, b0, c50), c51 = _mm256_fmadd_ps(a, b1, c51);
  }
  __m256 acc[MR][2] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31}, {c40, c41}, {c50, c51}};
  if (mr == MR && nr == NR) {
    __m256 bias0 = _mm256_setzero_ps(), bias1 = bias0;
    if (ep->last && ep->bias) {
      bias0 = ep->bstride ? _mm256_loadu_ps(ep->bias) : _mm256_broadcast_ss(ep->bias);
      bias1 = ep->bstride ? _mm256_loadu_ps(ep->bias + 8) : bias0;
    }
    for (int r = 0; r < MR; r++) {
      float *c = C + r * ldc;
      __m256 v0 = acc[r][0], v1 = acc[r][1];
      if (!ep->first) v0 = _mm256_add_ps(_mm256_loadu_ps(c), v0), v1 = _mm256_add_ps(_mm256_loadu_ps(c + 8), v1);
      if (ep->last) {
        if (ep->bias) v0 = _mm256_add_ps(v0, bias0), v1 = _mm256_add_ps(v1, bias1);
        v0 = activate(v0, ep->act), v1 = activate(v1, ep->act);
      }
      _mm256_storeu_ps(c, v0);
      _mm256_storeu_ps(c + 8, v1);
    }
    return;
  }
  float t[MR * NR] __attribute__((aligned(32)));
  for (int r = 0; r < MR; r++) _mm256_store_ps(t + r * NR, acc[r][0]), _mm256_store_ps(t + r * NR + 8, acc[r][1]);
  for (int r = 0; r < mr; r++) {
    float *c = C + r * ldc;
    for (int j = 0; j < nr; j++) {
      float v = t[r * NR + j];
      if (!ep->first) v = c[j] + v;
      if (ep->last) {
        if (ep->bias) v = v + ep->bias[ep->bstride ? j : 0];
        v = activate1(v, ep->act);
      }
      c[j] = v;
    }
  }
}

void sgemm_native(const sgemm_args_t *g, float *work) {
  const int M = g->m, N = g->n, K = g->k;
  float *Bp = (float *)(((uintptr_t)work + 31) & ~(uintptr_t)31);
  float *Ap = Bp + (size_t)KC * NC;
  for (int pc = 0; pc < K; pc += KC) {
    const int kc = imin(KC, K - pc);
    for (int jc = 0; jc < N; jc += NC) {
      const int nc = imin(NC, N - jc);
      for (int jr = 0; jr < nc; jr += NR) {
        pack_b(g->b + pc * g->brs + (jc + jr) * g->bcs, g->brs, g->bcs, imin(NR, nc - jr), kc, Bp + (size_t)jr * kc);
      }
      for (int ic = 0; ic < M; ic += MC) {
        const int mc = imin(MC, M - ic);
        for (int ir = 0; ir < mc; ir += MR) {
          pack_a(g->a + (ic + ir) * g->ars + pc * g->acs, g->ars, g->acs, imin(MR, mc - ir), kc, Ap + ir * kc);
        }
        for (int jr = 0; jr < nc; jr += NR) {
          const int j = jc + jr;
          epilogue_t ep = {pc == 0, pc + kc >= K, g->bias ? g->bias + (g->bstride ? j : 0) : NULL, g->bstride,
                           g->act};
          for (int ir = 0; ir < mc; ir += MR) {
            kernel_6x16(kc, Ap + ir * kc, Bp + (size_t)jr * kc, g->c + (long)(ic + ir) * g->ldc + j, g->ldc,
                        imin(MR, mc - ir), imin(NR, nc - jr), &ep);
          }
        }
      }
    }
  }
}
