/**
 * wasm `Multiply` that sends same-shape float32 products of 65536 elements or more to the native addon (AVX2, all
 * cores) and hands everything else (broadcasting, other dtypes, small tensors, no addon) back to
 * tfjs-backend-wasm's own kernel.
 *
 * Why: the backward pass of GELU is dy·GELU'(x) over the ViT MLP's [B·T, 4D] activation, and tfjs-wasm's Multiply runs
 * it on one thread at ~0.55 G elements/s: ~105 ms of a ViT-S/16 batch-16 LoRA step on this machine.
 */
import * as tf from "@tensorflow/tfjs";
import { activeNative } from "../addon/loader";
import { originalSetup, runOriginal } from "./originals";
import { asWasm, heap, offsetOf } from "./wasm_gemm";

/** Products smaller than this stay on tfjs-wasm's kernel (the addon's own threshold for splitting work). */
export const NATIVE_MUL_MIN = 1 << 16;

interface Args {
  inputs: { a: tf.TensorInfo; b: tf.TensorInfo };
  backend: unknown;
}

/** Whether the product goes to the native addon (when it is in use). */
export function nativeMultiplies(a: tf.TensorInfo, b: tf.TensorInfo): boolean {
  return (
    a.dtype === "float32" &&
    b.dtype === "float32" &&
    tf.util.arraysEqual(a.shape, b.shape) &&
    tf.util.sizeFromShape(a.shape) >= NATIVE_MUL_MIN
  );
}

function multiply(args: Args): tf.TensorInfo {
  const { a, b } = args.inputs;
  const native = activeNative();
  if (native && nativeMultiplies(a, b)) {
    const wb = asWasm(args.backend, tf.Multiply);
    const out = wb.makeOutput([...a.shape], "float32");
    const at = (t: tf.TensorInfo) => offsetOf(wb, t) >>> 2;
    native.mul(heap(wb), at(a), at(b), at(out), tf.util.sizeFromShape(a.shape));
    return out;
  }
  return runOriginal(tf.Multiply, "wasm", args);
}

/** KernelConfig replacing tfjs-backend-wasm's Multiply (large same-shape float32 products only). */
export const multiplyConfig: tf.KernelConfig = {
  kernelName: tf.Multiply,
  backendName: "wasm",
  kernelFunc: multiply as unknown as tf.KernelFunc,
  setupFunc: originalSetup(tf.Multiply, "wasm"),
};
