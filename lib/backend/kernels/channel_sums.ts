/**
 * `PeftlabChannelSums` (wasm, new kernel): per-channel sums over NHWC data seen as [rows, C], accumulated blockwise
 * in float64 by one SIMD pass. Inputs {x, y?, m?}, attr `mode`: 0 → Σx, 1 → Σ(x − m)², 2 → Σy·(x − m). Output [C].
 *
 * Why: BatchNorm's statistics and backward reductions were tf.moments / Sum over Sub, Square and Mul passes that each
 * wrote a full-size tensor (lib/nn/batch_norm.ts uses this kernel when the backend has it).
 */
import * as tf from "@tensorflow/tfjs";
import { activeNative } from "../addon/loader";
import { simdKernels } from "../wasm/loader";
import { asWasm, heap, offsetOf } from "./wasm_gemm";

export const CHANNEL_SUMS_KERNEL = "PeftlabChannelSums";

interface Args {
  inputs: { x: tf.TensorInfo; y?: tf.TensorInfo; m?: tf.TensorInfo };
  backend: unknown;
  attrs: { mode: number };
}

function channelSums(args: Args): tf.TensorInfo {
  const wb = asWasm(args.backend, CHANNEL_SUMS_KERNEL);
  const { x, y, m } = args.inputs;
  const c = x.shape[x.shape.length - 1];
  const rows = tf.util.sizeFromShape(x.shape) / Math.max(c, 1);
  const out = wb.makeOutput([c], "float32");
  const native = activeNative();
  if (native) {
    const at = (t?: tf.TensorInfo) => (t ? offsetOf(wb, t) >>> 2 : -1);
    native.channelSums(heap(wb), at(x), at(y), at(m), args.attrs.mode, rows, c, at(out));
    return out;
  }
  const scratch = wb.wasm._malloc(Math.max(8, c * 12 + 8)) >>> 0; // C floats, then C doubles (8-aligned)
  try {
    const acc = (scratch + c * 4 + 7) & ~7;
    const k = simdKernels(wb, CHANNEL_SUMS_KERNEL);
    const ptr = (t?: tf.TensorInfo) => (t ? offsetOf(wb, t) : 0);
    k.channel_sums(offsetOf(wb, x), ptr(y), ptr(m), args.attrs.mode, rows, c, scratch, acc);
    k.f64_to_f32(acc, offsetOf(wb, out), c);
  } finally {
    wb.wasm._free(scratch);
  }
  return out;
}

/** KernelConfig adding PeftlabChannelSums to the wasm backend. */
export const channelSumsConfig: tf.KernelConfig = {
  kernelName: CHANNEL_SUMS_KERNEL,
  backendName: "wasm",
  kernelFunc: channelSums as unknown as tf.KernelFunc,
};
