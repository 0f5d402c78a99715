// peftlab's packed single-precision GEMM for the wasm backend: C[M,N] = op(A)·op(B) (+ bias) (ReLU / ReLU6), with
// any strides, so transposed operands need no copy first.
//
// Why our own: XNNPACK's wasm SIMD GEMM (what tfjs-backend-wasm calls) reached 24–26 GFLOP/s on one core of this
// machine for [3152,384]×[384,1536]. Packing both operands lets a 4×8 register tile stream A and B from contiguous
// memory with constant offsets: 33 GFLOP/s with mul + add, 45 GFLOP/s with relaxed SIMD's fused multiply-add
// (scratch measurement, 2026-11-22). Wider tiles (5×8, 6×8) spill an accumulator in V8's register allocator
// and ran at 25 GFLOP/s.
//
// Blocking (GotoBLAS order): K in blocks of KC; for each K block all of B is packed into NR-column panels
// [kc][8]; A in blocks of MCB rows packed into MR-row panels [kc][4]; each B panel (16 KiB) stays in L1 while the
// block's A panels (≤ 128 KiB) stream from L2. Every output element is the same sum in the same order whatever M
// is and wherever its row starts, so splitting rows across threads gives bit-identical results.
//
// Operand element (r, c) of A is A[r*ars + c*acs] and of B is B[r*brs + c*bcs]; C is row-major with row stride N.
// The module owns no memory (see simd_kernels.c): `work` is caller-provided scratch of sgemm_work_floats(K, N).
#include "simd_common.h"

#define MR 4
#define NR 8
#define KC 512
#define MCB 64

static inline int imin(int a, int b) { return a < b ? a : b; }

// Floats of scratch sgemm needs: packed B for one K block, packed A for one row block, one 4×8 edge tile.
__attribute__((export_name("sgemm_work_floats"))) int sgemm_work_floats(int K, int N) {
  int kc = imin(K, KC);
  int n8 = (N + NR - 1) / NR * NR;
  return kc * n8 + MCB * kc + MR * NR;
}

// Q[k][r] = A(r, k) for r < mr (zero for the rows past M), k < kc.
static void pack_a(const float *A, int ars, int acs, int mr, int kc, float *Q) {
  int k = 0;
  if (mr == MR && acs == 1) { // row-major A: 4x4 transposes
    const float *a0 = A, *a1 = A + ars, *a2 = a1 + ars, *a3 = a2 + ars;
    for (; k + 4 <= kc; k += 4, Q += 16) {
      v128_t r0 = LD(a0 + k), r1 = LD(a1 + k), r2 = LD(a2 + k), r3 = LD(a3 + k);
      v128_t t0 = wasm_i32x4_shuffle(r0, r1, 0, 4, 1, 5), t1 = wasm_i32x4_shuffle(r2, r3, 0, 4, 1, 5);
      v128_t t2 = wasm_i32x4_shuffle(r0, r1, 2, 6, 3, 7), t3 = wasm_i32x4_shuffle(r2, r3, 2, 6, 3, 7);
      ST(Q, wasm_i32x4_shuffle(t0, t1, 0, 1, 4, 5));
      ST(Q + 4, wasm_i32x4_shuffle(t0, t1, 2, 3, 6, 7));
      ST(Q + 8, wasm_i32x4_shuffle(t2, t3, 0, 1, 4, 5));
      ST(Q + 12, wasm_i32x4_shuffle(t2, t3, 2, 3, 6, 7));
    }
  } else if (mr == MR && ars == 1) { // transposed A: each k is 4 contiguous rows
    for (; k < kc; k++, Q += 4) ST(Q, LD(A + k * acs));
    return;
  }
  for (; k < kc; k++, Q += MR) {
    for (int r = 0; r < MR; r++) Q[r] = r < mr ? A[r * ars + k * acs] : 0.0f;
  }
}

// P[k][c] = B(k, c) for c < nr (zero for the columns past N), k < kc.
static void pack_b(const float *B, int brs, int bcs, int nr, int kc, float *P) {
  int k = 0;
  if (nr == NR && bcs == 1) { // row-major B
    for (; k < kc; k++, P += NR) {
      ST(P, LD(B + k * brs));
      ST(P + 4, LD(B + k * brs + 4));
    }
    return;
  }
  if (nr == NR && brs == 1) { // transposed B: column c is contiguous; two 4x4 transposes per 4 k
    for (; k + 4 <= kc; k += 4, P += 4 * NR) {
      for (int h = 0; h < 2; h++) {
        const float *b0 = B + (4 * h) * bcs + k;
        v128_t r0 = LD(b0), r1 = LD(b0 + bcs), r2 = LD(b0 + 2 * bcs), r3 = LD(b0 + 3 * bcs);
        v128_t t0 = wasm_i32x4_shuffle(r0, r1, 0, 4, 1, 5), t1 = wasm_i32x4_shuffle(r2, r3, 0, 4, 1, 5);
        v128_t t2 = wasm_i32x4_shuffle(r0, r1, 2, 6, 3, 7), t3 = wasm_i32x4_shuffle(r2, r3, 2, 6, 3, 7);
        ST(P + 4 * h, wasm_i32x4_shuffle(t0, t1, 0, 1, 4, 5));
        ST(P + NR + 4 * h, wasm_i32x4_shuffle(t0, t1, 2, 3, 6, 7));
        ST(P + 2 * NR + 4 * h, wasm_i32x4_shuffle(t2, t3, 0, 1, 4, 5));
        ST(P + 3 * NR + 4 * h, wasm_i32x4_shuffle(t2, t3, 2, 3, 6, 7));
      }
    }
  }
  for (; k < kc; k++, P += NR) {
    for (int c = 0; c < NR; c++) P[c] = c < nr ? B[k * brs + c * bcs] : 0.0f;
  }
}

// (x + bias) then the activation (1 ReLU, 2 ReLU6); NaN propagates, as in torch.
static inline v128_t epilogue4(v128_t x, v128_t bias, int act) {
  x = wasm_f32x4_add(x, bias);
  if (act >= 1) x = wasm_f32x4_max(x, wasm_f32x4_splat(0.0f));
  if (act == 2) x = wasm_f32x4_min(x, wasm_f32x4_splat(6.0f));
  return x;
}

static inline float epilogue1(float x, float bias, int act) {
  x += bias;
  if (x != x) return x;
  if (act >= 1 && x < 0.0f) x = 0.0f;
  if (act == 2 && x > 6.0f) x = 6.0f;
  return x;
}

#define ACC_LOAD(r) \
  c##r##0 = LD(out + r * ldo); \
  c##r##1 = LD(out + r * ldo + 4);
#define ACC_ROW(r) \
  x = wasm_v128_load32_splat(Q + r); \
  FMA(c##r##0, x, b0); \
  FMA(c##r##1, x, b1);
#define ACC_RAW(r) \
  ST(out + r * ldo, c##r##0); \
  ST(out + r * ldo + 4, c##r##1);
#define ACC_STORE(r) \
  ST(out + r * ldo, epilogue4(c##r##0, bl, act)); \
  ST(out + r * ldo + 4, epilogue4(c##r##1, bh, act));

// out[4, 8] (row stride ldo) = (accum ? out : 0) + Q·P over kc, then + bias (8 values, or bias[0] for all when
// bstride is 0; none when 0), then the activation.
static void kernel4x8(const float *Q, const float *P, int kc, float *out, int ldo, int accum, const float *bias,
                      int bstride, int act) {
  v128_t z = wasm_f32x4_splat(0.0f);
  v128_t c00 = z, c01 = z, c10 = z, c11 = z, c20 = z, c21 = z, c30 = z, c31 = z;
  if (accum) {
    ACC_LOAD(0) ACC_LOAD(1) ACC_LOAD(2) ACC_LOAD(3)
  }
  for (int k = 0; k < kc; k++, P += NR, Q += MR) {
    v128_t b0 = LD(P), b1 = LD(P + 4), x;
    ACC_ROW(0) ACC_ROW(1) ACC_ROW(2) ACC_ROW(3)
  }
  if (!bias && !act) {
    ACC_RAW(0) ACC_RAW(1) ACC_RAW(2) ACC_RAW(3)
    return;
  }
  v128_t bl = z, bh = z;
  if (bias) {
    bl = bstride ? LD(bias) : wasm_v128_load32_splat(bias);
    bh = bstride ? LD(bias + 4) : bl;
  }
  ACC_STORE(0) ACC_STORE(1) ACC_STORE(2) ACC_STORE(3)
}

// One 4×8 tile of C at (i, j), of which mr × nr are inside C; `last`: the K block that applies the epilogue.
static void tile(const float *Q, const float *P, int kc, float *C, int ldc, int mr, int nr, int accum, int last,
                 const float *bias, int bstride, int act, float *T) {
  const float *b = last ? bias : 0;
  int a = last ? act : 0;
  if (mr == MR && nr == NR) {
    kernel4x8(Q, P, kc, C, ldc, accum, b, bstride, a);
    return;
  }
  // Edge tile: through the scratch tile T, then the valid part, with the same operations in the same order.
  for (int r = 0; r < MR; r++) {
    for (int c = 0; c < NR; c++) T[r * NR + c] = accum && r < mr && c < nr ? C[r * ldc + c] : 0.0f;
  }
  kernel4x8(Q, P, kc, T, NR, accum, 0, 0, 0);
  for (int r = 0; r < mr; r++) {
    for (int c = 0; c < nr; c++) {
      float v = T[r * NR + c];
      C[r * ldc + c] = b || a ? epilogue1(v, b ? b[c * bstride] : 0.0f, a) : v;
    }
  }
}

// C[M,N] = op(A)[M,K]·op(B)[K,N] (+ bias[N·bstride], bstride 1, or bias[0] for all when 0; bias 0: none), then
// act (0 none, 1 ReLU, 2 ReLU6: tfjs's FusableActivation codes). K ≥ 1.
__attribute__((export_name("sgemm"))) void sgemm(const float *A, int ars, int acs, const float *B, int brs, int bcs,
                                                 float *C, int M, int K, int N, const float *bias, int bstride, int act,
                                                 float *work) {
  int kcmax = imin(K, KC);
  int n8 = (N + NR - 1) / NR * NR;
  float *Pbuf = work, *Qbuf = work + kcmax * n8, *T = Qbuf + MCB * kcmax;
  for (int k0 = 0; k0 < K; k0 += KC) {
    int kc = imin(KC, K - k0), accum = k0 > 0, last = k0 + kc == K;
    for (int j = 0; j < N; j += NR) pack_b(B + k0 * brs + j * bcs, brs, bcs, imin(NR, N - j), kc, Pbuf + j * kc);
    for (int i0 = 0; i0 < M; i0 += MCB) {
      int mc = imin(MCB, M - i0);
      for (int i = 0; i < mc; i += MR) {
        pack_a(A + (i0 + i) * ars + k0 * acs, ars, acs, imin(MR, mc - i), kc, Qbuf + i * kc);
      }
      for (int j = 0; j < N; j += NR) {
        const float *bj = bias ? bias + j * bstride : 0;
        for (int i = 0; i < mc; i += MR) {
          tile(Qbuf + i * kc, Pbuf + j * kc, kc, C + (i0 + i) * N + j, N, imin(MR, mc - i), imin(NR, N - j), accum,
               last, bj, bstride, act, T);
        }
      }
    }
  }
}

// `count` products: slice s reads A + s·astep and B + s·bstep (floats; 0 repeats one operand for every slice) and
// writes C + s·M·N. The GEMM worker's entry point, for a batch of slices or (count 1) a block of rows.
__attribute__((export_name("sgemm_batch"))) void sgemm_batch(const float *A, int ars, int acs, int astep,
                                                             const float *B, int brs, int bcs, int bstep, float *C,
                                                             int M, int K, int N, int count, const float *bias,
                                                             int bstride, int act, float *work) {
  for (int s = 0; s < count; s++) {
    sgemm(A + s * astep, ars, acs, B + s * bstep, brs, bcs, C + s * M * N, M, K, N, bias, bstride, act, work);
  }
}
