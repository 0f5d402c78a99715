/**
 * The batched-matmul routine behind peftlab's wasm `BatchMatMul` and `_FusedMatMul` kernels.
 *
 * Every case runs on peftlab's packed SIMD GEMM (`sgemm`), which reads transposed operands through strides: a B
 * shared by all batches (batch 1) turns the whole batch into one [B·M,K]×[K,N] GEMM (when A's rows are contiguous
 * across batches); otherwise each batch slice is one GEMM on offsets into wasm memory. Only the activations sgemm
 * lacks (PReLU, leaky ReLU, sigmoid, ELU) go through XNNPACK, on untransposed copies.
 */
import * as tf from "@tensorflow/tfjs";
import { BackendError } from "../../errors";
import {
  type Epilogue,
  type SgemmEpilogue,
  type Strided,
  type WasmBackend,
  heap,
  idOf,
  mallocF32,
  offsetOf,
  rowMajor,
  sgemm,
  sgemmActivation,
  sgemmBatch,
  transposeInner,
  transposedOf,
  xnnGemm,
} from "./wasm_gemm";

/** tf.fused.matMul's epilogue: tfjs's activation code, with the bias and PReLU weights as tensors. */
export interface FusedEpilogue {
  activation: number;
  bias?: tf.TensorInfo;
  prelu?: tf.TensorInfo;
  leakyAlpha: number;
}

/** Inputs and attributes shared by BatchMatMul and _FusedMatMul. */
export interface MatMulArgs {
  a: tf.TensorInfo;
  b: tf.TensorInfo;
  transposeA: boolean;
  transposeB: boolean;
  epilogue?: FusedEpilogue;
  kernel: string;
}

/** Sizes of one matmul after broadcasting: op(A) [..batchA, M, K] × op(B) [..batchB, K, N]. */
interface Plan {
  m: number;
  k: number;
  n: number;
  batchA: number[];
  batchB: number[];
  outBatch: number[];
}

/** Batched matmul with broadcasting of leading dims, as tf.matMul defines it. */
export function wasmMatMul(wb: WasmBackend, args: MatMulArgs): tf.TensorInfo {
  const { a, b, kernel } = args;
  checkFloat(a, b, kernel);
  const p = plan(args);
  const out = wb.makeOutput([...p.outBatch, p.m, p.n], "float32");
  if (sizeOf(p.outBatch) * p.m * p.n === 0) return out;
  const ep = args.epilogue ?? { activation: 0, leakyAlpha: 0 };
  if (sgemmActivation(ep.activation) && ep.prelu == null) {
    const bias: [number, number] = ep.bias ? [offsetOf(wb, ep.bias) >>> 2, ep.bias.shape[0]] : [0, 0];
    viaSgemm(wb, args, p, offsetOf(wb, out), { bias, act: ep.activation });
  } else {
    viaXnnpack(wb, args, p, out, {
      activation: ep.activation,
      biasId: ep.bias ? idOf(wb, ep.bias) : 0,
      preluId: ep.prelu ? idOf(wb, ep.prelu) : 0,
      leakyAlpha: ep.leakyAlpha,
    });
  }
  return out;
}

function plan(args: MatMulArgs): Plan {
  const { a, b, transposeA, transposeB, kernel } = args;
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
  return { m, k, n, batchA, batchB, outBatch };
}

/** op(X) of one batch slice starting at byte `at`: [rows, cols], stored transposed or not. */
function operand(at: number, transposed: boolean, rows: number, cols: number): Strided {
  return transposed ? transposedOf(at, rows) : rowMajor(at, cols);
}

function viaSgemm(wb: WasmBackend, args: MatMulArgs, p: Plan, outAt: number, ep: SgemmEpilogue): void {
  const { m, k, n } = p;
  const aAt = offsetOf(wb, args.a);
  const bAt = offsetOf(wb, args.b);
  const nb = sizeOf(p.outBatch);
  const w = operand(bAt, args.transposeB, k, n);
  if (sizeOf(p.batchB) === 1 && (nb === 1 || !args.transposeA)) {
    // B shared by every batch and A's rows contiguous: one GEMM over all rows of A ([B·M, K] × [K, N]).
    sgemm(wb, operand(aAt, args.transposeA, nb * m, k), w, outAt, nb * m, k, n, ep);
    return;
  }
  const aStep = sliceStep(p.batchA, p.outBatch, m * k);
  const bStep = sliceStep(p.batchB, p.outBatch, k * n);
  if (aStep !== undefined && bStep !== undefined) {
    // Same batch shape or one operand repeated: a batch of GEMMs with constant steps, split across threads.
    const sa = operand(aAt, args.transposeA, m, k);
    sgemmBatch(wb, sa, aStep, w, bStep, outAt, m, k, n, nb, ep);
    return;
  }
  forEachSlice(p, (s, ia, ib) => {
    const sa = operand(aAt + ia * m * k * 4, args.transposeA, m, k);
    const sb = operand(bAt + ib * k * n * 4, args.transposeB, k, n);
    sgemm(wb, sa, sb, outAt + s * m * n * 4, m, k, n, ep);
  });
}

/** Floats between consecutive slices of an operand: its slice size when its batch is the output's, 0 when it has
 * a single slice, undefined when it broadcasts only some dims. */
function sliceStep(batch: number[], outBatch: number[], size: number): number | undefined {
  if (sizeOf(batch) === 1) return 0;
  return sizeOf(batch) === sizeOf(outBatch) ? size : undefined;
}

/** The activations sgemm lacks: XNNPACK on untransposed copies, one GEMM per slice. */
function viaXnnpack(wb: WasmBackend, args: MatMulArgs, p: Plan, out: tf.TensorInfo, ep: Epilogue): void {
  const { m, k, n } = p;
  const temps: number[] = [];
  try {
    const aOff = untransposed(wb, args.a, args.transposeA, sizeOf(p.batchA), m, k, temps);
    const bOff = untransposed(wb, args.b, args.transposeB, sizeOf(p.batchB), k, n, temps);
    if (k === 0) {
      // XNNPACK cannot take K = 0: apply the epilogue to zeros through a K = 1 product with a zero column.
      const zeros = mallocF32(wb, m + n);
      temps.push(zeros);
      heap(wb).fill(0, zeros >>> 2, (zeros >>> 2) + m + n);
      forEachSlice(p, (s) => {
        const at = { offset: offsetOf(wb, out) + s * m * n * 4 };
        xnnGemm(wb, { offset: zeros }, { offset: zeros + m * 4 }, at, m, 1, n, ep);
      });
      return;
    }
    forEachSlice(p, (s, ia, ib) => {
      const aAt = { offset: aOff + ia * m * k * 4 };
      const bAt = { offset: bOff + ib * k * n * 4 };
      xnnGemm(wb, aAt, bAt, { offset: offsetOf(wb, out) + s * m * n * 4 }, m, k, n, ep);
    });
  } finally {
    for (const t of temps) wb.wasm._free(t);
  }
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
  if (!transposed || batch * rows * cols === 0) return offsetOf(wb, x);
  const p = mallocF32(wb, batch * rows * cols);
  temps.push(p);
  // x holds [batch, cols, rows]; write [batch, rows, cols].
  transposeInner(wb, { id: idOf(wb, x) }, { offset: p }, batch, cols, rows);
  return p;
}

/** Calls fn(outputSlice, aSlice, bSlice) for every output batch slice, with broadcasting of batch indices. */
function forEachSlice(p: Plan, fn: (s: number, ia: number, ib: number) => void): void {
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
    fn(s, ia, ib);
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
