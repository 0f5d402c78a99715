/**
 * wasm `Identity` that shares the input's memory (reference-counted), as tfjs's cpu and webgl backends and the wasm
 * `Reshape` already do, instead of copying it.
 *
 * Why it matters: tfjs's autodiff tape keeps every saved op input as `keep(clone(x))`, and `clone` runs Identity. On
 * wasm each clone was a full copy, so training held a second copy of nearly every activation until the backward pass
 * ended: MobileNetV2-0.35 full fine-tuning at 224 peaked at ~200 MB of wasm heap per image (batch 16 crossed 2 GB,
 * batch 32 could not fit in wasm32's 4 GB). Tensors are immutable in tfjs (Variable.assign swaps the data id), so a
 * shared buffer is never written through the clone.
 */
import * as tf from "@tensorflow/tfjs";
import { asWasm } from "./wasm_gemm";

interface Args {
  inputs: { x: tf.TensorInfo };
  backend: unknown;
}

function identity(args: Args): tf.TensorInfo {
  const { x } = args.inputs;
  const wb = asWasm(args.backend, "Identity") as unknown as { incRef(dataId: object): void };
  wb.incRef(x.dataId);
  return { dataId: x.dataId, shape: [...x.shape], dtype: x.dtype };
}

/** KernelConfig replacing tfjs-backend-wasm's copying Identity. */
export const identityConfig: tf.KernelConfig = {
  kernelName: tf.Identity,
  backendName: "wasm",
  kernelFunc: identity as unknown as tf.KernelFunc,
};
