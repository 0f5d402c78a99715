/**
 * `PeftlabChannelAffine` (wasm, new kernel): out = p·a + r, or with b: out = p·a + q·(b − m) + r, per channel of
 * NHWC data seen as [rows, C], in one SIMD pass. Inputs {a, p, r, b?, m?, q?} (p, r, m, q are [C]).
 *
 * Why: BatchNorm's forward (x·s + shift) and its input gradient were 2–6 elementwise passes with full-size
 * intermediates (lib/nn/batch_norm.ts uses this kernel when the backend has it).
 */
import * as tf from "@tensorflow/tfjs";
import { activeNative } from "../addon/loader";
import { simdKernels } from "../wasm/loader";
import { asWasm, heap, offsetOf } from "./wasm_gemm";

export const CHANNEL_AFFINE_KERNEL = "PeftlabChannelAffine";

interface Args {
  inputs: {
    a: tf.TensorInfo;
    p: tf.TensorInfo;
    r: tf.TensorInfo;
    b?: tf.TensorInfo;
    m?: tf.TensorInfo;
    q?: tf.TensorInfo;
  };
  backend: unknown;
}

function channelAffine(args: Args): tf.TensorInfo {
  const wb = asWasm(args.backend, CHANNEL_AFFINE_KERNEL);
  const { a, p, r, b, m, q } = args.inputs;
  const c = a.shape[a.shape.length - 1];
  const out = wb.makeOutput([...a.shape], "float32");
  const rows = tf.util.sizeFromShape(a.shape) / Math.max(c, 1);
  if (rows * c === 0) return out;
  const native = activeNative();
  if (native) {
    const at = (t?: tf.TensorInfo) => (t ? offsetOf(wb, t) >>> 2 : -1);
    native.channelAffine(heap(wb), at(out), at(a), at(p), at(b), at(m), at(q), at(r), rows, c);
    return out;
  }
  const ptr = (t?: tf.TensorInfo) => (t ? offsetOf(wb, t) : 0);
  simdKernels(wb, CHANNEL_AFFINE_KERNEL).channel_affine(
    offsetOf(wb, out),
    offsetOf(wb, a),
    offsetOf(wb, p),
    ptr(b),
    ptr(m),
    ptr(q),
    offsetOf(wb, r),
    rows,
    c,
  );
  return out;
}

/** KernelConfig adding PeftlabChannelAffine to the wasm backend. */
export const channelAffineConfig: tf.KernelConfig = {
  kernelName: CHANNEL_AFFINE_KERNEL,
  backendName: "wasm",
  kernelFunc: channelAffine as unknown as tf.KernelFunc,
};
