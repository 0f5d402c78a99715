/**
 * wasm `Slice` that reads its input in place. tfjs-backend-wasm's Slice starts with `backend.readSync(x)`, which
 * copies the *whole* input out of the heap before copying the slice: ~4 ms for one third of a ViT-S qkv at batch
 * 16, and its SplitV (one Slice per output) copied the input once per output (~25 ms instead of ~1.5 ms).
 * Here the slice is copied straight from a heap view, one contiguous run at a time. Strings (JS arrays beside the heap) use the same run walk.
 */
import * as tf from "@tensorflow/tfjs";
import { asWasm } from "./wasm_gemm";

const NAME = "Slice";

/** A typed view of a tensor's data on the wasm heap (what tfjs's own kernels call typedArrayFromHeap). */
export type HeapView = Float32Array | Int32Array | Uint8Array;

/** The parts of tfjs-backend-wasm's BackendWasm that Slice and SplitV use. */
export interface ViewBackend {
  typedArrayFromHeap(t: tf.TensorInfo): HeapView;
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  dataIdMap: { get(dataId: object): { stringBytes?: Uint8Array[] } };
}

/**
 * Calls `run(from, len, to)` for each contiguous run of the block `begin`..`begin + size` of a row-major tensor of
 * shape `shape`, `to` counting densely from `dstAt`; returns the end of the last run. Trailing axes taken whole are
 * merged into one run, so a split along an outer axis is a few long runs.
 */
export function forEachRun(
  shape: number[],
  begin: number[],
  size: number[],
  run: (from: number, len: number, to: number) => void,
  dstAt = 0,
): number {
  let rank = shape.length;
  let inner = 1;
  while (rank > 0 && begin[rank - 1] === 0 && size[rank - 1] === shape[rank - 1]) inner *= shape[--rank];
  if (rank === 0) {
    run(0, inner, dstAt);
    return dstAt + inner;
  }
  // Axis rank-1 is partial: its runs are size[rank-1]·inner long.
  const strides = new Array<number>(rank);
  let s = inner;
  for (let a = rank - 1; a >= 0; a--) {
    strides[a] = s;
    s *= shape[a];
  }
  const len = size[rank - 1] * inner;
  const outer = size.slice(0, rank - 1);
  if (len === 0 || outer.some((n) => n === 0)) return dstAt;
  const idx = new Array<number>(rank - 1).fill(0);
  let at = dstAt;
  for (;;) {
    let from = begin[rank - 1] * strides[rank - 1];
    for (let a = 0; a < rank - 1; a++) from += (begin[a] + idx[a]) * strides[a];
    run(from, len, at);
    at += len;
    // Odometer over the outer axes.
    let a = rank - 2;
    while (a >= 0 && ++idx[a] === outer[a]) idx[a--] = 0;
    if (a < 0) return at;
  }
}

/** Copies the block `begin`..`begin + size` of `src` (shape `shape`) densely into `dst` at `dstAt`. */
export function copyBlock(
  src: HeapView,
  shape: number[],
  begin: number[],
  size: number[],
  dst: HeapView,
  dstAt = 0,
): number {
  return forEachRun(shape, begin, size, (from, len, to) => dst.set(src.subarray(from, from + len), to), dstAt);
}

interface Args {
  inputs: { x: tf.TensorInfo };
  backend: unknown;
  attrs: { begin: number | number[]; size: number | number[] };
}

function slice(args: Args): tf.TensorInfo {
  const { x } = args.inputs;
  const wb = asWasm(args.backend, NAME) as unknown as ViewBackend;
  const [begin, size] = tf.slice_util.parseSliceParams(x as tf.Tensor, args.attrs.begin, args.attrs.size);
  const out = wb.makeOutput(size, x.dtype);
  if (x.dtype === "string") {
    // Strings live as JS byte arrays beside the heap.
    const src = wb.dataIdMap.get(x.dataId).stringBytes ?? [];
    const dst: Uint8Array[] = new Array<Uint8Array>(tf.util.sizeFromShape(size));
    forEachRun([...x.shape], begin, size, (from, len, to) => {
      for (let i = 0; i < len; i++) dst[to + i] = src[from + i];
    });
    wb.dataIdMap.get(out.dataId).stringBytes = dst;
    return out;
  }
  if (tf.util.sizeFromShape(size) > 0)
    copyBlock(wb.typedArrayFromHeap(x), [...x.shape], begin, size, wb.typedArrayFromHeap(out));
  return out;
}

/** KernelConfig replacing tfjs-backend-wasm's Slice. */
export const sliceConfig: tf.KernelConfig = {
  kernelName: NAME,
  backendName: "wasm",
  kernelFunc: slice as unknown as tf.KernelFunc,
};
