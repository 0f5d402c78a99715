/**
 * Low-level access to tfjs-backend-wasm's module, shared by peftlab's wasm kernels (not a kernel itself), and the
 * GEMM they all use.
 *
 * `sgemm` is peftlab's packed SIMD GEMM (lib/backend/wasm/sgemm.c) on tfjs's own heap: any strides, so transposed
 * operands need no copy, a fused bias + ReLU/ReLU6 epilogue, and large products split by rows across two threads.
 * It replaced XNNPACK (45 vs 25 GFLOP/s per core with the FMA build; see lib/backend/wasm/loader.ts). Where peftlab's native
 * addon is active (lib/backend/addon/loader.ts: AVX2 + FMA, its own thread pool), `sgemmBatch` hands it every GEMM instead.
 *
 * XNNPACK stays for the epilogues sgemm lacks (PReLU, leaky ReLU, sigmoid, ELU): `xnnGemm`. tfjs-backend-wasm
 * reaches it only for a 2D, untransposed, batch-1 matmul. Its C side knows tensors only by an integer id
 * registered with `register_tensor(id, size, offset)`, and `dispose_data(id)` never frees memory, so we register
 * *views* (ids pointing into the middle of an existing buffer) and call the exported `_FusedMatMul` on
 * [1,M,K]×[1,K,N] views, which always takes the XNNPACK path.
 */
import * as tf from "@tensorflow/tfjs";
import { BackendError } from "../../errors";
import { postWorker, splitRows, splitSlices } from "./gemm_threads";
import { activeNative } from "../addon/loader";
import { simdKernels } from "../wasm/loader";

/** The parts of the Emscripten module of tfjs-backend-wasm that the fast kernels call. */
export interface WasmModule {
  HEAPF32: Float32Array;
  HEAP32: Int32Array;
  HEAPF64: Float64Array;
  _malloc(bytes: number): number;
  _free(ptr: number): void;
  /** (aId, aShapePtr, aRank, bId, bShapePtr, bRank, tA, tB, act, biasId, preluId, leakyAlpha, outId) */
  __FusedMatMul(...args: number[]): void;
  /** (xId, xShapePtr, rank, dtype, outId, permPtr, permLen) */
  _Transpose(...args: number[]): void;
  tfjs: { registerTensor(id: number, size: number, offset: number): void; disposeData(id: number): void };
}

interface TensorData {
  id: number;
  memoryOffset: number;
  shape: number[];
  dtype: string;
}

/** The parts of tfjs-backend-wasm's BackendWasm that the fast kernels use. */
export interface WasmBackend {
  wasm: WasmModule;
  dataIdNextNumber: number;
  dataIdMap: { get(dataId: object): TensorData | undefined };
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  disposeData(dataId: object, force?: boolean): boolean;
}

/** tfjs's FusableActivation enum in cc/fusable_activations.h. */
export const ACTIVATION_CODE: Record<string, number> = {
  linear: 0,
  relu: 1,
  relu6: 2,
  prelu: 3,
  leakyrelu: 4,
  sigmoid: 5,
  elu: 6,
};

/** Fused epilogue of an XNNPACK GEMM: bias and activation, exactly as tfjs's `_FusedMatMul` applies them. */
export interface Epilogue {
  biasId: number;
  activation: number;
  preluId: number;
  leakyAlpha: number;
}

export const NO_EPILOGUE: Epilogue = { biasId: 0, activation: 0, preluId: 0, leakyAlpha: 0 };

/** Checks that `backend` is tfjs-backend-wasm's BackendWasm and returns it typed. */
export function asWasm(backend: unknown, where: string): WasmBackend {
  const b = backend as Partial<WasmBackend>;
  const w = b?.wasm as Partial<WasmModule> | undefined;
  if (!w || typeof w.__FusedMatMul !== "function" || typeof w._Transpose !== "function" || !b.dataIdMap) {
    throw new BackendError("peftlab's wasm kernel ran on a backend that is not tfjs-backend-wasm 4.x", {
      where,
      expected: "a BackendWasm with exported _FusedMatMul and _Transpose",
      got: String((backend as object | undefined)?.constructor?.name),
      fix: "register the override only for the 'wasm' backend, or pin @tensorflow/tfjs-backend-wasm to 4.22",
    });
  }
  return backend as WasmBackend;
}

/** Byte offset in the wasm heap of a tensor's data. */
export function offsetOf(b: WasmBackend, t: tf.TensorInfo): number {
  return (b.dataIdMap.get(t.dataId) as TensorData).memoryOffset;
}

/** The C-side id of a tensor. */
export function idOf(b: WasmBackend, t: tf.TensorInfo): number {
  return (b.dataIdMap.get(t.dataId) as TensorData).id;
}

/** A float32 view of the heap; re-read after every malloc because the heap may have grown. */
export function heap(b: WasmBackend): Float32Array {
  return b.wasm.HEAPF32;
}

/** Registers a C-side tensor id over `size` floats at byte `offset`, without owning the memory. */
export function registerView(b: WasmBackend, offset: number, size: number): number {
  const id = b.dataIdNextNumber++;
  b.wasm.tfjs.registerTensor(id, size, offset);
  return id;
}

/** Forgets a view id; also drops any XNNPACK operator cached on it (weights packed from that memory). */
export function releaseView(b: WasmBackend, id: number): void {
  b.wasm.tfjs.disposeData(id);
}

const scratch = new WeakMap<WasmModule, number>();

/** Writes small int32 arrays (shapes, perms) into a per-module scratch area; returns their byte pointers. */
function writeInts(b: WasmBackend, ...arrays: number[][]): number[] {
  let base = scratch.get(b.wasm);
  if (base === undefined) {
    base = b.wasm._malloc(256);
    scratch.set(b.wasm, base);
  }
  const ptrs: number[] = [];
  let at = base >>> 2;
  for (const arr of arrays) {
    ptrs.push(at * 4);
    b.wasm.HEAP32.set(arr, at);
    at += arr.length;
  }
  return ptrs;
}

/**
 * One operand of an XNNPACK GEMM: an existing C-side id (whole tensor; XNNPACK caches weights packed from it), or a
 * byte offset to view.
 */
export type Operand = { id: number; offset?: number } | { offset: number };

function opId(b: WasmBackend, o: Operand, size: number, temps: number[]): number {
  if ("id" in o) return o.id;
  const id = registerView(b, o.offset, size);
  temps.push(id);
  return id;
}

/** A matrix operand of sgemm: element (r, c) is the float at byte offset `at` + 4·(r·rs + c·cs). */
export interface Strided {
  at: number;
  rs: number;
  cs: number;
}

/** A row-major [rows, cols] matrix at byte offset `at`. */
export function rowMajor(at: number, cols: number): Strided {
  return { at, rs: cols, cs: 1 };
}

/** The transpose of a row-major [cols, rows] matrix at byte offset `at`, read as [rows, cols] with no copy. */
export function transposedOf(at: number, rows: number): Strided {
  return { at, rs: 1, cs: rows };
}

/** sgemm's fused epilogue: bias (float offset and length: 0 none, 1 one value for all, N per column), then act. */
export interface SgemmEpilogue {
  bias: [number, number];
  /** 0 linear, 1 ReLU, 2 ReLU6 (tfjs's FusableActivation codes). */
  act: number;
}

export const PLAIN: SgemmEpilogue = { bias: [0, 0], act: 0 };

/** Activation codes sgemm applies itself; the others go through XNNPACK (`xnnGemm`). */
export function sgemmActivation(code: number): boolean {
  return code === 0 || code === 1 || code === 2;
}

const work = new WeakMap<WasmModule, { at: number; floats: number }>();

/** A per-module scratch area of at least `floats` float32s for sgemm (kept and grown, never shrunk). */
function workspace(b: WasmBackend, floats: number): number {
  const w = work.get(b.wasm);
  if (w && w.floats >= floats) return w.at;
  if (w) b.wasm._free(w.at);
  const grown = Math.max(floats, Math.ceil((w?.floats ?? 0) * 1.5));
  const at = mallocF32(b, grown);
  work.set(b.wasm, { at, floats: grown });
  return at;
}

/**
 * out[M,N] (row-major at byte offset `outAt`) = op(A)[M,K]·op(B)[K,N] (+ bias) (act), through peftlab's packed
 * SIMD GEMM; large products have their bottom rows computed by the GEMM worker (gemm_threads.ts), bit-identically.
 */
export function sgemm(
  b: WasmBackend,
  a: Strided,
  w: Strided,
  outAt: number,
  m: number,
  k: number,
  n: number,
  ep: SgemmEpilogue = PLAIN,
): void {
  sgemmBatch(b, a, 0, w, 0, outAt, m, k, n, 1, ep);
}

/**
 * `count` GEMMs of the same shape: slice s reads A at a.at + 4·s·aStep and B at w.at + 4·s·wStep (steps in
 * floats; 0 repeats an operand) and writes out[s] = [m, n] at outAt + 4·s·m·n. The GEMM worker takes the bottom
 * rows of one large GEMM, or the second half of a large batch (attention's per-head products).
 */
export function sgemmBatch(
  b: WasmBackend,
  a: Strided,
  aStep: number,
  w: Strided,
  wStep: number,
  outAt: number,
  m: number,
  k: number,
  n: number,
  count: number,
  ep: SgemmEpilogue = PLAIN,
): void {
  if (m === 0 || n === 0 || count === 0) return;
  if (k === 0) return epilogueOnly(b, outAt, m * count, n, ep);
  const native = activeNative();
  if (native) {
    const [biasAt, biasLen] = ep.bias;
    native.sgemmBatch(
      heap(b),
      a.at >>> 2,
      a.rs,
      a.cs,
      aStep,
      w.at >>> 2,
      w.rs,
      w.cs,
      wStep,
      outAt >>> 2,
      m,
      k,
      n,
      count,
      biasAt,
      biasLen,
      ep.act,
    );
    return;
  }
  const floats = (s: Strided): Strided => ({ at: s.at >>> 2, rs: s.rs, cs: s.cs });
  const job = {
    heap: () => heap(b),
    a: floats(a),
    aStep,
    w: floats(w),
    wStep,
    out: outAt >>> 2,
    m,
    k,
    n,
    count,
    ...ep,
  };
  if (count === 1) {
    const mainRows = splitRows(m, k, n);
    const finish = mainRows === undefined ? null : postWorker(job, "rows", mainRows);
    sgemmHere(b, a, w, outAt, mainRows ?? m, k, n, ep);
    finish?.();
    return;
  }
  const mine = splitSlices(count, m, k, n) ?? count;
  const finish = mine < count ? postWorker(job, "slices", mine) : null;
  for (let s = 0; s < mine; s++) {
    const sa = { ...a, at: a.at + s * aStep * 4 };
    const sw = { ...w, at: w.at + s * wStep * 4 };
    sgemmHere(b, sa, sw, outAt + s * m * n * 4, m, k, n, ep);
  }
  finish?.();
}

function sgemmHere(
  b: WasmBackend,
  a: Strided,
  w: Strided,
  outAt: number,
  m: number,
  k: number,
  n: number,
  ep: SgemmEpilogue,
): void {
  const simd = simdKernels(b, "sgemm");
  const scratchAt = workspace(b, simd.sgemm_work_floats(k, n));
  const [biasAt, biasLen] = ep.bias;
  simd.sgemm(
    a.at,
    a.rs,
    a.cs,
    w.at,
    w.rs,
    w.cs,
    outAt,
    m,
    k,
    n,
    biasLen ? biasAt * 4 : 0,
    biasLen === 1 ? 0 : 1,
    ep.act,
    scratchAt,
  );
}

/** K = 0: every output is the epilogue of an empty sum. */
function epilogueOnly(b: WasmBackend, outAt: number, m: number, n: number, ep: SgemmEpilogue): void {
  const h = heap(b);
  const o = outAt >>> 2;
  const [biasAt, biasLen] = ep.bias;
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let v = biasLen ? h[biasAt + (biasLen === 1 ? 0 : j)] : 0;
      if (ep.act >= 1 && v < 0) v = 0;
      if (ep.act === 2 && v > 6) v = 6;
      h[o + i * n + j] = v;
    }
  }
}

/**
 * out[M,N] = a[M,K] · w[K,N] (+ epilogue) through XNNPACK on this thread, for the activations sgemm lacks. Pass
 * `w` as `{id}` of a whole long-lived tensor so XNNPACK keeps its packed copy across calls; views are repacked.
 */
export function xnnGemm(
  b: WasmBackend,
  a: Operand,
  w: Operand,
  out: Operand,
  m: number,
  k: number,
  n: number,
  ep: Epilogue = NO_EPILOGUE,
): void {
  const temps: number[] = [];
  const aId = opId(b, a, m * k, temps);
  const wId = opId(b, w, k * n, temps);
  const outId = opId(b, out, m * n, temps);
  const [aShape, wShape] = writeInts(b, [1, m, k], [1, k, n]);
  b.wasm.__FusedMatMul(
    aId,
    aShape,
    3,
    wId,
    wShape,
    3,
    0,
    0,
    ep.activation,
    ep.biasId,
    ep.preluId,
    ep.leakyAlpha,
    outId,
  );
  for (const id of temps) releaseView(b, id);
}

/** out[batch, cols, rows] = transpose of x[batch, rows, cols] (float32), both given by id or byte offset. */
export function transposeInner(
  b: WasmBackend,
  x: Operand,
  out: Operand,
  batch: number,
  rows: number,
  cols: number,
): void {
  const size = batch * rows * cols;
  const temps: number[] = [];
  const xId = opId(b, x, size, temps);
  const outId = opId(b, out, size, temps);
  if (batch === 1) {
    const [shape, perm] = writeInts(b, [rows, cols], [1, 0]);
    b.wasm._Transpose(xId, shape, 2, 0, outId, perm, 2);
  } else {
    const [shape, perm] = writeInts(b, [batch, rows, cols], [0, 2, 1]);
    b.wasm._Transpose(xId, shape, 3, 0, outId, perm, 3);
  }
  for (const id of temps) releaseView(b, id);
}

/** Allocates `floats` float32s on the wasm heap (caller frees with `b.wasm._free`). */
export function mallocF32(b: WasmBackend, floats: number): number {
  return b.wasm._malloc(Math.max(4, floats * 4)) >>> 0;
}
