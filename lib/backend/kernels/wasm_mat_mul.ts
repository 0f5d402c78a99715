/**
 * The batched-matmul routine behind peftlab's wasm `BatchMatMul` and `_FusedMatMul` kernels.
 *
 * Every case is lowered to XNNPACK's 2D untransposed GEMM: transposed operands are first made untransposed with
 * the backend's `_Transpose` (O(size), cheap next to O(M·K·N)); a B shared by all batches (batch 1) turns the
 * whole batch into one [B·M,K]×[K,N] GEMM; otherwise each batch slice is one GEMM on views into wasm memory.
 */
import * as tf from "@tensorflow/tfjs";
import { BackendError } from "../../errors";
import {
  type Epilogue,
  type WasmBackend,
  NO_EPILOGUE,
  gemm,
  heap,
  idOf,
  mallocF32,
  offsetOf,
  transposeInner,
  whole,
} from "./wasm_gemm";
import { simdKernels } from "./native_simd";

/** Inputs and attributes shared by BatchMatMul and _FusedMatMul. */
export interface MatMulArgs {
  a: tf.TensorInfo;
  b: tf.TensorInfo;
  transposeA: boolean;
  transposeB: boolean;
  epilogue?: Epilogue;
  kernel: string;
}

/** Batched matmul with broadcasting of leading dims, as tf.matMul defines it, computed through XNNPACK. */
export function wasmMatMul(wb: WasmBackend, args: MatMulArgs): tf.TensorInfo {
  const { a, b, transposeA, transposeB, kernel } = args;
  const ep = args.epilogue ?? NO_EPILOGUE;
  checkFloat(a, b, kernel);
  const ar = a.shape.length;
  const br = b.shape.length;
  const m = transposeA ? a.shape[ar - 1] : a.shape[ar - 2];
  const k = transposeA ? a.shape[ar - 2] : a.shape[ar - 1];
  const kb = transposeB ? b.shape[br - 1] : b.shape[br - 2];
  const n = transposeB ? b.shape[br - 2] : b.shape[br - 1];
  if (k !== kb) {
    throw new BackendError(`${kernel}: inner dimensions differ`, {
      where: `${kernel}(a=[${a.shape}], b=[${b.shape}], transposeA=${transposeA}, transposeB=${transposeB})`,
      expected: "a's inner size equal to b's inner size",
      got: `${k} vs ${kb}`,
      fix: "check the operand order and the transpose flags",
    });
  }
  const batchA = a.shape.slice(0, -2);
  const batchB = b.shape.slice(0, -2);
  const outBatch = tf.broadcast_util.assertAndGetBroadcastShape(batchA, batchB);
  const out = wb.makeOutput([...outBatch, m, n], "float32");
  const nb = sizeOf(outBatch);
  if (nb * m * n === 0) return out;
  if (k === 0) {
    heap(wb).fill(0, offsetOf(wb, out) >>> 2, (offsetOf(wb, out) >>> 2) + nb * m * n);
    return out;
  }
  // Untransposed copies where needed: A as [batchA, M, K], B as [batchB, K, N].
  const temps: number[] = [];
  const aOff = untransposed(wb, a, transposeA, sizeOf(batchA), m, k, temps);
  const bOff = untransposed(wb, b, transposeB, sizeOf(batchB), k, n, temps);
  try {
    const bWhole = !transposeB && sizeOf(batchB) === 1 ? whole(wb, b) : { offset: bOff };
    if (sizeOf(batchB) === 1 && nb * m <= NO_PACK_MAX_ROWS && noEpilogue(ep)) {
      // Few rows (a LoRA dB = (x·Aᵀ)ᵀ·dy, r rows): XNNPACK would pack all of B for a handful of rows.
      simdKernels(wb, kernel).gemm_nn(aOff, bOff, offsetOf(wb, out), nb * m, k, n);
    } else if (sizeOf(batchB) === 1) {
      // B shared by every batch: one GEMM over all rows of A ([B·M, K] × [K, N]); A's batch equals the output's.
      gemm(wb, transposeA ? { offset: aOff } : whole(wb, a), bWhole, whole(wb, out), nb * m, k, n, ep);
    } else {
      perSlice(wb, { aOff, bOff, outOff: offsetOf(wb, out), batchA, batchB, outBatch, m, k, n, ep });
    }
  } finally {
    for (const p of temps) wb.wasm._free(p);
  }
  return out;
}

/**
 * Most rows of A for which peftlab's no-packing SIMD GEMM beats XNNPACK on a B it has not packed before. Measured
 * (one thread, fresh B each call): [8,3152]×[3152,1152] 36 → 5.7 ms, 32 rows 46 → 16 ms, 64 rows 48 → 33 ms.
 */
const NO_PACK_MAX_ROWS = 64;

function noEpilogue(ep: Epilogue): boolean {
  return ep.activation === 0 && ep.biasId === 0 && ep.preluId === 0;
}

/** Byte offset of x as untransposed [batch, rows, cols] data: x itself, or a fresh transposed copy. */
function untransposed(
  wb: WasmBackend,
  x: tf.TensorInfo,
  transposed: boolean,
  batch: number,
  rows: number,
  cols: number,
  temps: number[],
): number {
  if (!transposed) return offsetOf(wb, x);
  const p = mallocF32(wb, batch * rows * cols);
  temps.push(p);
  // x holds [batch, cols, rows]; write [batch, rows, cols].
  transposeInner(wb, { id: idOf(wb, x) }, { offset: p }, batch, cols, rows);
  return p;
}

interface SlicePlan {
  aOff: number;
  bOff: number;
  outOff: number;
  batchA: number[];
  batchB: number[];
  outBatch: number[];
  m: number;
  k: number;
  n: number;
  ep: Epilogue;
}

/**
 * One GEMM per output batch slice, with broadcasting of batch indices. Without an epilogue each slice runs on
 * peftlab's no-packing SIMD GEMM: XNNPACK spends ~0.3 ms per call creating an operator and packing B, as much as
 * a [197,64]×[64,197] attention slice's arithmetic (measured 57 → 36 ms for 96 such slices, bit-identical).
 */
function perSlice(wb: WasmBackend, p: SlicePlan): void {
  const { m, k, n } = p;
  const simd = noEpilogue(p.ep) ? simdKernels(wb, "BatchMatMul") : null;
  const rank = p.outBatch.length;
  const aStrides = broadcastStrides(p.batchA, rank);
  const bStrides = broadcastStrides(p.batchB, rank);
  const idx = new Array<number>(rank).fill(0);
  const nb = sizeOf(p.outBatch);
  for (let s = 0; s < nb; s++) {
    let ia = 0;
    let ib = 0;
    for (let d = 0; d < rank; d++) {
      ia += idx[d] * aStrides[d];
      ib += idx[d] * bStrides[d];
    }
    const aAt = p.aOff + ia * m * k * 4; // [M, K]
    const bAt = p.bOff + ib * k * n * 4; // [K, N]
    const outAt = p.outOff + s * m * n * 4; // [M, N]
    if (simd) simd.gemm_nn(aAt, bAt, outAt, m, k, n);
    else gemm(wb, { offset: aAt }, { offset: bAt }, { offset: outAt }, m, k, n, p.ep);
    for (let d = rank - 1; d >= 0; d--) {
      if (++idx[d] < p.outBatch[d]) break;
      idx[d] = 0;
    }
  }
}

/** Strides (in slices) of a batch shape right-aligned to `rank` dims, 0 where the dim is broadcast. */
function broadcastStrides(shape: number[], rank: number): number[] {
  const strides = new Array<number>(rank).fill(0);
  let s = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    const od = rank - shape.length + d;
    strides[od] = shape[d] === 1 ? 0 : s;
    s *= shape[d];
  }
  return strides;
}

function sizeOf(shape: number[]): number {
  return shape.reduce((x, y) => x * y, 1);
}

function checkFloat(a: tf.TensorInfo, b: tf.TensorInfo, kernel: string): void {
  if (a.dtype !== "float32" || b.dtype !== "float32") {
    throw new BackendError(`${kernel} on wasm supports float32 only`, {
      where: kernel,
      expected: "float32 operands",
      got: `${a.dtype} × ${b.dtype}`,
      fix: "cast the operands with tf.cast(x, 'float32')",
    });
  }
}
