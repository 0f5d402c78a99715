/**
 * `PeftlabReluGrad` (wasm, new kernel): dx = dy where y > 0 (and y < 6 with `cap6`), else 0 — the gradient of
 * ReLU / ReLU6 from the layer's output, as torch's threshold_backward / hardtanh_backward mask it. One SIMD pass.
 *
 * Why: composed from Greater, Less, LogicalAnd, Cast and Mul, it was ~1.4 s of a MobileNetV2-0.35 batch-32 step.
 */
import * as tf from "@tensorflow/tfjs";
import { activeNative } from "../addon/loader";
import { simdKernels } from "../wasm/loader";
import { asWasm, heap, offsetOf } from "./wasm_gemm";

export const RELU_GRAD_KERNEL = "PeftlabReluGrad";

interface Args {
  inputs: { dy: tf.TensorInfo; y: tf.TensorInfo };
  backend: unknown;
  attrs: { cap6: boolean };
}

function reluGrad(args: Args): tf.TensorInfo {
  const wb = asWasm(args.backend, RELU_GRAD_KERNEL);
  const { dy, y } = args.inputs;
  const out = wb.makeOutput([...dy.shape], "float32");
  const len = tf.util.sizeFromShape(dy.shape);
  const native = activeNative();
  if (len > 0 && native) {
    const [dxAt, dyAt, yAt] = [out, dy, y].map((t) => offsetOf(wb, t) >>> 2);
    native.reluGrad(heap(wb), dxAt, dyAt, yAt, len, args.attrs.cap6 ? 1 : 0);
  } else if (len > 0) {
    simdKernels(wb, RELU_GRAD_KERNEL).relu_grad(
      offsetOf(wb, out),
      offsetOf(wb, dy),
      offsetOf(wb, y),
      len,
      args.attrs.cap6 ? 1 : 0,
    );
  }
  return out;
}

/** KernelConfig adding PeftlabReluGrad to the wasm backend. */
export const reluGradConfig: tf.KernelConfig = {
  kernelName: RELU_GRAD_KERNEL,
  backendName: "wasm",
  kernelFunc: reluGrad as unknown as tf.KernelFunc,
};
