/**
 * wasm `SplitV` that copies each output straight from the input's heap view. tfjs-backend-wasm's SplitV runs its
 * Slice once per output, and that Slice first copies the whole input out of the heap (see slice.ts): splitting a
 * ViT-S qkv [16, 3, 75648] into q, k, v took ~25 ms, three runs per image of memcpy now ~1.5 ms.
 */
import * as tf from "@tensorflow/tfjs";
import { copyBlock, type ViewBackend } from "./slice";
import { asWasm } from "./wasm_gemm";

const NAME = "SplitV";

interface Args {
  inputs: { x: tf.TensorInfo };
  backend: unknown;
  attrs: { numOrSizeSplits: number | number[]; axis: number | number[] };
}

function splitV(args: Args): tf.TensorInfo[] {
  const { x } = args.inputs;
  const wb = asWasm(args.backend, NAME) as unknown as ViewBackend;
  const axis = tf.util.parseAxisParam(args.attrs.axis, x.shape)[0];
  const sizes = tf.backend_util.prepareSplitSize(x as tf.Tensor, args.attrs.numOrSizeSplits, axis);
  const begin = new Array<number>(x.shape.length).fill(0);
  return sizes.map((s) => {
    const size = [...x.shape];
    size[axis] = s;
    const out = wb.makeOutput(size, x.dtype);
    // Views are taken after makeOutput: a malloc may have grown (and so replaced) the heap buffer.
    if (tf.util.sizeFromShape(size) > 0)
      copyBlock(wb.typedArrayFromHeap(x), [...x.shape], begin, size, wb.typedArrayFromHeap(out));
    begin[axis] += s;
    return out;
  });
}

/** KernelConfig replacing tfjs-backend-wasm's SplitV. */
export const splitVConfig: tf.KernelConfig = {
  kernelName: NAME,
  backendName: "wasm",
  kernelFunc: splitV as unknown as tf.KernelFunc,
};
