/**
 * wasm `DepthwiseConv2dNative` and `FusedDepthwiseConv2D` on the native addon (AVX2, all cores) for the common case:
 * NHWC float32, channel multiplier 1, no dilation, filters up to 5×5, no bias or a [C] bias, linear/ReLU/ReLU6.
 * Everything else, and every call when the addon is not in use, goes to tfjs-backend-wasm's own kernel (XNNPACK).
 *
 * Why: XNNPACK runs them on one thread; after the 1×1 convs moved to the GEMM and BatchNorm was folded they were
 * ~40 % of MobileNetV2-0.35's inference at batch 32 on this machine (`npx tsx scratch/prof_mnv2.ts`).
 */
import * as tf from "@tensorflow/tfjs";
import { activeNative } from "../addon/loader";
import { originalSetup, runOriginal } from "./originals";
import { asWasm, heap, offsetOf } from "./wasm_gemm";

const ACT: Record<string, number> = { linear: 0, relu: 1, relu6: 2 };

interface Args {
  inputs: { x: tf.TensorInfo; filter: tf.TensorInfo; bias?: tf.TensorInfo; preluActivationWeights?: tf.TensorInfo };
  backend: unknown;
  attrs: {
    strides: number | [number, number];
    pad: "valid" | "same" | number | tf.backend_util.ExplicitPadding;
    dataFormat?: string;
    dilations?: number | [number, number];
    dimRoundingMode?: "floor" | "round" | "ceil";
    activation?: string;
  };
}

/** Whether the call is one the native kernel computes (when the addon is in use). */
export function nativeDepthwise(args: Args): boolean {
  const { x, filter, bias, preluActivationWeights } = args.inputs;
  const a = args.attrs;
  const c = x.shape[3];
  const ones = (v?: number | number[]) => v === undefined || [v].flat().every((e) => e === 1);
  return (
    x.shape.length === 4 &&
    x.dtype === "float32" &&
    filter.shape[3] === 1 &&
    filter.shape[0] * filter.shape[1] <= 25 &&
    (a.dataFormat ?? "NHWC") === "NHWC" &&
    ones(a.dilations) &&
    (a.activation ?? "linear") in ACT &&
    preluActivationWeights == null &&
    (bias == null || (bias.shape.length === 1 && bias.shape[0] === c))
  );
}

function depthwise(args: Args, kernel: string): tf.TensorInfo {
  const native = activeNative();
  if (!native || !nativeDepthwise(args)) return runOriginal(kernel, "wasm", args);
  const wb = asWasm(args.backend, kernel);
  const { x, filter, bias } = args.inputs;
  const { strides, pad, dilations, dimRoundingMode } = args.attrs;
  const info = tf.backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    filter.shape as [number, number, number, number],
    strides,
    dilations ?? 1,
    pad,
    dimRoundingMode,
    true,
  );
  const out = wb.makeOutput(info.outShape, "float32");
  const at = (t: tf.TensorInfo) => offsetOf(wb, t) >>> 2;
  native.depthwiseConv(
    heap(wb),
    at(x),
    at(filter),
    bias ? at(bias) : -1,
    at(out),
    info.batchSize,
    info.inHeight,
    info.inWidth,
    info.inChannels,
    info.filterHeight,
    info.filterWidth,
    info.strideHeight,
    info.strideWidth,
    info.padInfo.top,
    info.padInfo.left,
    info.outHeight,
    info.outWidth,
    ACT[args.attrs.activation ?? "linear"],
  );
  return out;
}

/** KernelConfig replacing tfjs-backend-wasm's DepthwiseConv2dNative (the common case; the rest passed through). */
export const depthwiseConv2dNativeConfig: tf.KernelConfig = {
  kernelName: tf.DepthwiseConv2dNative,
  backendName: "wasm",
  kernelFunc: ((args: Args) => depthwise(args, tf.DepthwiseConv2dNative)) as unknown as tf.KernelFunc,
  setupFunc: originalSetup(tf.DepthwiseConv2dNative, "wasm"),
};

/** KernelConfig replacing tfjs-backend-wasm's FusedDepthwiseConv2D (the common case; the rest passed through). */
export const fusedDepthwiseConv2DConfig: tf.KernelConfig = {
  kernelName: tf.FusedDepthwiseConv2D,
  backendName: "wasm",
  kernelFunc: ((args: Args) => depthwise(args, tf.FusedDepthwiseConv2D)) as unknown as tf.KernelFunc,
  setupFunc: originalSetup(tf.FusedDepthwiseConv2D, "wasm"),
};
