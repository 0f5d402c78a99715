/**
 * Low-level access to tfjs-backend-wasm's module, shared by peftlab's wasm kernels (not a kernel itself).
 *
 * Why this exists: the wasm backend reaches XNNPACK's fast GEMM only for a 2D, untransposed, batch-1 matmul
 * (`xnn_matmul` in batch_mat_mul_impl.cc); every other case falls into a scalar triple loop at ~1 GFLOP/s. The C
 * side knows tensors only by an integer id registered with `register_tensor(id, size, offset)`, and
 * `dispose_data(id)` never frees memory. So we register *views* (ids pointing into the middle of an existing
 * buffer), and call the exported `_FusedMatMul` on [1,M,K]×[1,K,N] views, which always takes the XNNPACK path.
 */
import * as tf from "@tensorflow/tfjs";
import { BackendError } from "../../errors";
import { postWorkerRows, splitRows } from "./gemm_threads";

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

/** Fused epilogue of a GEMM: bias and activation, exactly as tfjs's `_FusedMatMul` applies them. */
export interface Epilogue {
  biasId: number;
  activation: number;
  preluId: number;
  leakyAlpha: number;
  /** Float offset and length of the bias / PReLU weights, which a split GEMM copies to its worker. */
  biasAt?: [number, number];
  preluAt?: [number, number];
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
 * One operand of a GEMM: an existing C-side id (whole tensor; XNNPACK caches weights packed from it), or a byte
 * offset to view. A GEMM can be split across threads only when every operand has its offset.
 */
export type Operand = { id: number; offset?: number } | { offset: number };

/** A whole tensor as a GEMM operand: its id and its byte offset. */
export function whole(b: WasmBackend, t: tf.TensorInfo): { id: number; offset: number } {
  return { id: idOf(b, t), offset: offsetOf(b, t) };
}

function opId(b: WasmBackend, o: Operand, size: number, temps: number[]): number {
  if ("id" in o) return o.id;
  const id = registerView(b, o.offset, size);
  temps.push(id);
  return id;
}

/**
 * out[M,N] = a[M,K] · w[K,N] (+ epilogue) through XNNPACK. Pass `w` as `{id}` of a whole long-lived tensor so
 * XNNPACK keeps its packed copy across calls (weights in inference); views are repacked every call.
 */
export function gemm(
  b: WasmBackend,
  a: Operand,
  w: Operand,
  out: Operand,
  m: number,
  k: number,
  n: number,
  ep: Epilogue = NO_EPILOGUE,
): void {
  const mainRows = splitRows(m, k, n);
  if (mainRows !== undefined && a.offset !== undefined && w.offset !== undefined && out.offset !== undefined) {
    if ((ep.biasId === 0 || ep.biasAt) && (ep.preluId === 0 || ep.preluAt)) {
      const finish = postWorkerRows(
        {
          heap: () => heap(b),
          a: a.offset >>> 2,
          w: w.offset >>> 2,
          out: out.offset >>> 2,
          m,
          k,
          n,
          activation: ep.activation,
          leakyAlpha: ep.leakyAlpha,
          bias: ep.biasId ? (ep.biasAt as [number, number]) : [0, 0],
          prelu: ep.preluId ? (ep.preluAt as [number, number]) : [0, 0],
        },
        mainRows,
      );
      // The top rows here, keeping `w` by id so XNNPACK's packed weights are still cached.
      gemmWhole(b, { offset: a.offset }, w, { offset: out.offset }, mainRows, k, n, ep);
      finish();
      return;
    }
  }
  gemmWhole(b, a, w, out, m, k, n, ep);
}

/** One XNNPACK GEMM on this thread. */
function gemmWhole(
  b: WasmBackend,
  a: Operand,
  w: Operand,
  out: Operand,
  m: number,
  k: number,
  n: number,
  ep: Epilogue,
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
