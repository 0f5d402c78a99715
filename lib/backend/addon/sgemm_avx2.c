// peftlab's packed single-precision GEMM for x86-64 with AVX2 + FMA3, called by the native addon on tfjs's own
// tensors (the wasm backend's heap): C[M,N] = op(A)·op(B) (+ bias) (ReLU / ReLU6), with any strides.
//
// Same contract as the wasm build (sgemm.c), with the register tile sized for 16 ymm registers: 6 rows × 16
// columns = 12 accumulators + 2 B vectors + 1 A broadcast. GotoBLAS order: K in blocks of KC; B packed per K block
// into NR-column panels [kc][16] (24 KiB: it stays in L1 beside a 9 KiB A panel; transposed B goes through 8×8
// register transposes); A in blocks of MC rows packed into MR-row panels [kc][6] (≤ 144 KiB: L2), or, for narrow
// products (N ≤ DIRECT_MAX_N) with unit row or column stride, broadcast straight from where it lies. Each output
// element is the same sum in the same order wherever its row or column block starts and whichever way A is read,
// so splitting rows, columns or batch slices across threads is bit-identical.
//
// Compiled alone with -mavx2 -mfma; the addon calls it only after checking the CPU (peftlab_native.c).
#include <immintrin.h>
#include <math.h>
#include <string.h>

#include "sgemm_native.h"

#define MR 6
#define NR 16
// KC 384 rather than the wasm build's 256: one pass over C for K = 384 and fewer for longer K, 2–4 % faster on
// ViT-S's products here (scratch A/B of both builds in one process, 2026-11-22).
#define KC 384
#define MC 96
#define NC 2048
// Up to this many columns, A is read where it lies (row-major or transposed) instead of packed: packing A costs
// about 16/N of the products that use it, which is a quarter of the work at N = 64 (attention's P·v, LoRA's rank-8
// products, MobileNet's narrow 1×1 convs). Wider products keep the packed panels (a few % faster there).
#define DIRECT_MAX_N 256

static inline int imin(int a, int b) { return a < b ? a : b; }

size_t sgemm_native_work_floats(void) { return (size_t)KC * NC + (size_t)MC * KC + MR * NR + 16; }

// out[i] = (B[0·bcs + i], B[1·bcs + i], …, B[7·bcs + i]) for i < 8: eight 8-float loads transposed in registers.
// Rows at or past `rows` repeat row rows − 1 (never read past it); their lanes are garbage to the caller.
static inline __attribute__((always_inline)) void transpose8(const float *B, long bcs, int rows, __m256 out[8]) {
  __m256 r[8];
  for (int i = 0; i < 8; i++) r[i] = _mm256_loadu_ps(B + (i < rows ? i : rows - 1) * bcs);
  __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
  __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
  __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
  __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
  __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
  __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
  __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE);
  __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
  out[0] = _mm256_permute2f128_ps(u0, u4, 0x20), out[1] = _mm256_permute2f128_ps(u1, u5, 0x20);
  out[2] = _mm256_permute2f128_ps(u2, u6, 0x20), out[3] = _mm256_permute2f128_ps(u3, u7, 0x20);
  out[4] = _mm256_permute2f128_ps(u0, u4, 0x31), out[5] = _mm256_permute2f128_ps(u1, u5, 0x31);
  out[6] = _mm256_permute2f128_ps(u2, u6, 0x31), out[7] = _mm256_permute2f128_ps(u3, u7, 0x31);
}

// Q[k][r] = A(r, k) for r < mr (zero past the last row), k < kc. Q has 2 floats of slack past [kc][6]: the
// row-major case stores 8 lanes per k, and the next k's store (or the next panel, packed after this one, or the
// scratch's tail) overwrites the 2 extra.
static void pack_a(const float *A, long ars, long acs, int mr, int kc, float *Q) {
  if (mr == MR && ars == 1) { // transposed A: the 6 rows of one k are contiguous
    for (int k = 0; k < kc; k++, Q += MR) memcpy(Q, A + k * acs, MR * sizeof(float));
    return;
  }
  if (mr == MR && acs == 1) { // row-major A: 8 k at a time through a register transpose
    int k = 0;
    for (; k + 8 <= kc; k += 8) {
      __m256 t[8];
      transpose8(A + k, ars, MR, t);
      for (int i = 0; i < 8; i++) _mm256_storeu_ps(Q + (k + i) * MR, t[i]);
    }
    for (; k < kc; k++) {
      for (int r = 0; r < MR; r++) Q[k * MR + r] = A[r * ars + k];
    }
    return;
  }
  for (int k = 0; k < kc; k++, Q += MR) {
    for (int r = 0; r < MR; r++) Q[r] = r < mr ? A[r * ars + k * acs] : 0.0f;
  }
}

// P[i·NR + c] = B[c·bcs + i] for an 8×8 block (i, c < 8).
static inline void transpose8_store(const float *B, long bcs, float *P) {
  __m256 t[8];
  transpose8(B, bcs, 8, t);
  for (int i = 0; i < 8; i++) _mm256_store_ps(P + i * NR, t[i]);
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
  if (nr == NR && brs == 1) { // transposed B: each column is contiguous in k; 8×8 blocks go through registers
    int k = 0;
    for (; k + 8 <= kc; k += 8) {
      transpose8_store(B + k, bcs, P + k * NR);
      transpose8_store(B + 8 * bcs + k, bcs, P + k * NR + 8);
    }
    for (; k < kc; k++) {
      for (int c = 0; c < NR; c++) P[k * NR + c] = B[c * bcs + k];
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

// C tile [mr, nr] (row stride ldc) (+)= A·Bp[kc][16], then the epilogue on the last K block. Row r of A, k-th
// value: A[min(r, mr − 1)·rs + k·ks] — a packed panel (rs 1, ks MR) or A where it lies (row-major or transposed).
// Rows past mr re-read row mr − 1 (never past A's end) and are not stored. `wide` 0 computes only the first 8
// columns (nr ≤ 8: rank-8 LoRA products, a panel's last few columns) with half the FMAs. Inlined with constant
// strides and width so each caller gets its own loop.
#define ROW(i, off)                                                                                                  \
  a = _mm256_broadcast_ss(A + (off));                                                                                \
  c##i##0 = _mm256_fmadd_ps(a, b0, c##i##0);                                                                         \
  if (wide) c##i##1 = _mm256_fmadd_ps(a, b1, c##i##1);
static inline __attribute__((always_inline)) void tile_6x16(int kc, const float *A, long rs, long ks,
                                                            const float *Bp, float *C, long ldc, int mr, int nr,
                                                            const epilogue_t *ep, const int wide) {
  const long o1 = imin(1, mr - 1) * rs, o2 = imin(2, mr - 1) * rs, o3 = imin(3, mr - 1) * rs;
  const long o4 = imin(4, mr - 1) * rs, o5 = imin(5, mr - 1) * rs;
  __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
  __m256 c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
  // The tile's rows of C, fetched while the K loop runs (they are read or written only after it).
  for (int r = 0; r < MR; r++) _mm_prefetch((const char *)(C + imin(r, mr - 1) * ldc), _MM_HINT_T0);
  for (int k = 0; k < kc; k++, A += ks, Bp += NR) {
    __m256 b0 = _mm256_load_ps(Bp), b1 = wide ? _mm256_load_ps(Bp + 8) : b0, a;
    ROW(0, 0) ROW(1, o1) ROW(2, o2) ROW(3, o3) ROW(4, o4) ROW(5, o5)
  }
  __m256 acc[MR][2] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31}, {c40, c41}, {c50, c51}};
  if (mr == MR && nr == (wide ? NR : 8)) {
    __m256 bias0 = _mm256_setzero_ps(), bias1 = bias0;
    if (ep->last && ep->bias) {
      bias0 = ep->bstride ? _mm256_loadu_ps(ep->bias) : _mm256_broadcast_ss(ep->bias);
      bias1 = ep->bstride && wide ? _mm256_loadu_ps(ep->bias + 8) : bias0;
    }
    for (int r = 0; r < MR; r++) {
      float *c = C + r * ldc;
      __m256 v0 = acc[r][0], v1 = acc[r][1];
      if (!ep->first) {
        v0 = _mm256_add_ps(_mm256_loadu_ps(c), v0);
        if (wide) v1 = _mm256_add_ps(_mm256_loadu_ps(c + 8), v1);
      }
      if (ep->last) {
        if (ep->bias) v0 = _mm256_add_ps(v0, bias0), v1 = _mm256_add_ps(v1, bias1);
        v0 = activate(v0, ep->act), v1 = activate(v1, ep->act);
      }
      _mm256_storeu_ps(c, v0);
      if (wide) _mm256_storeu_ps(c + 8, v1);
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

#undef ROW

static void tile_packed(int kc, const float *Ap, const float *Bp, float *C, long ldc, int mr, int nr,
                        const epilogue_t *ep) {
  if (nr > 8) tile_6x16(kc, Ap, 1, MR, Bp, C, ldc, mr, nr, ep, 1);
  else tile_6x16(kc, Ap, 1, MR, Bp, C, ldc, mr, nr, ep, 0);
}

static void tile_rows(int kc, const float *A, long ars, const float *Bp, float *C, long ldc, int mr, int nr,
                      const epilogue_t *ep) {
  if (nr > 8) tile_6x16(kc, A, ars, 1, Bp, C, ldc, mr, nr, ep, 1);
  else tile_6x16(kc, A, ars, 1, Bp, C, ldc, mr, nr, ep, 0);
}

static void tile_cols(int kc, const float *A, long acs, const float *Bp, float *C, long ldc, int mr, int nr,
                      const epilogue_t *ep) {
  if (nr > 8) tile_6x16(kc, A, 1, acs, Bp, C, ldc, mr, nr, ep, 1);
  else tile_6x16(kc, A, 1, acs, Bp, C, ldc, mr, nr, ep, 0);
}

void sgemm_native(const sgemm_args_t *g, float *work) {
  const int M = g->m, N = g->n, K = g->k;
  float *Bp = (float *)(((uintptr_t)work + 31) & ~(uintptr_t)31);
  float *Ap = Bp + (size_t)KC * NC;
  const int direct = (g->acs == 1 || g->ars == 1) && N <= DIRECT_MAX_N;
  for (int pc = 0; pc < K; pc += KC) {
    const int kc = imin(KC, K - pc);
    for (int jc = 0; jc < N; jc += NC) {
      const int nc = imin(NC, N - jc);
      for (int jr = 0; jr < nc; jr += NR) {
        pack_b(g->b + pc * g->brs + (jc + jr) * g->bcs, g->brs, g->bcs, imin(NR, nc - jr), kc, Bp + (size_t)jr * kc);
      }
      for (int ic = 0; ic < M; ic += MC) {
        const int mc = imin(MC, M - ic);
        if (!direct) {
          for (int ir = 0; ir < mc; ir += MR) {
            pack_a(g->a + (ic + ir) * g->ars + pc * g->acs, g->ars, g->acs, imin(MR, mc - ir), kc, Ap + ir * kc);
          }
        }
        for (int jr = 0; jr < nc; jr += NR) {
          const int j = jc + jr;
          epilogue_t ep = {pc == 0, pc + kc >= K, g->bias ? g->bias + (g->bstride ? j : 0) : NULL, g->bstride,
                           g->act};
          const float *bp = Bp + (size_t)jr * kc;
          for (int ir = 0; ir < mc; ir += MR) {
            float *c = g->c + (long)(ic + ir) * g->ldc + j;
            const int mr = imin(MR, mc - ir), nr = imin(NR, nc - jr);
            const float *a = g->a + (ic + ir) * g->ars + pc * g->acs;
            if (!direct) tile_packed(kc, Ap + ir * kc, bp, c, g->ldc, mr, nr, &ep);
            else if (g->acs == 1) tile_rows(kc, a, g->ars, bp, c, g->ldc, mr, nr, &ep);
            else tile_cols(kc, a, g->acs, bp, c, g->ldc, mr, nr, &ep);
          }
        }
      }
    }
  }
}
