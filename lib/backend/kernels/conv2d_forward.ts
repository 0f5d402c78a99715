/**
 * wasm `Conv2D` and `FusedConv2D` on peftlab's GEMM:
 * - 1×1 stride-1 NHWC convs (MobileNetV2's pointwise convs, ResNet's bottlenecks, DenseNet's transitions):
 *   x [B, H, W, Cin] · w [Cin, Cout] is one GEMM over B·H·W rows, on the native addon or the wasm GEMM, with bias and
 *   ReLU/ReLU6 (or XNNPACK's other activations) in the epilogue;
 * - every other NHWC float32 conv with linear/ReLU/ReLU6, while the native addon is in use: im2col + GEMM on all cores
 *   (lib/backend/addon/conv_glue.c).
 * The rest (other activations off the 1×1 path, no addon) goes back to the kernel tfjs-backend-wasm registered.
 *
 * Why: tfjs-backend-wasm runs Conv2D on XNNPACK on one thread (~20 GFLOP/s here): half of MobileNetV2-0.35's
 * inference time (`npx tsx scratch/prof_mnv2.ts`) and nearly all of ResNet-18's.
 */
import * as tf from "@tensorflow/tfjs";
import { activeNative } from "../addon/loader";
import { originalSetup, runOriginal } from "./originals";
import { ACTIVATION_CODE, asWasm, heap, offsetOf, type WasmBackend } from "./wasm_gemm";
import { wasmMatMul } from "./wasm_mat_mul";

interface ConvAttrs {
  strides: number | [number, number];
  pad: "valid" | "same" | number | number[][] | string;
  dataFormat?: string;
  dilations?: number | [number, number];
  dimRoundingMode?: "floor" | "round" | "ceil";
  activation?: string;
  leakyreluAlpha?: number;
}

interface Args {
  inputs: { x: tf.TensorInfo; filter: tf.TensorInfo; bias?: tf.TensorInfo; preluActivationWeights?: tf.TensorInfo };
  backend: unknown;
  attrs: ConvAttrs;
}

const ones = (v: number | number[] | undefined) => v === undefined || [v].flat().every((e) => e === 1);
const noPad = (p: ConvAttrs["pad"]) =>
  p === "valid" || p === "same" || p === 0 || (Array.isArray(p) && p.flat().every((e) => e === 0));

/** Whether the call is a 1×1, stride-1, undilated, unpadded NHWC float32 conv this file computes as a GEMM. */
export function isPointwise(args: Args): boolean {
  const { x, filter, bias, preluActivationWeights: prelu } = args.inputs;
  const a = args.attrs;
  const cout = filter.shape[3];
  const vec = (t?: tf.TensorInfo) => t == null || (t.shape.length === 1 && (t.shape[0] === cout || t.shape[0] === 1));
  return (
    x.shape.length === 4 &&
    x.dtype === "float32" &&
    filter.shape[0] === 1 &&
    filter.shape[1] === 1 &&
    (a.dataFormat ?? "NHWC") === "NHWC" &&
    ones(a.strides) &&
    ones(a.dilations) &&
    noPad(a.pad) &&
    (a.activation ?? "linear") in ACTIVATION_CODE &&
    vec(bias) &&
    vec(prelu)
  );
}

function pointwise(wb: WasmBackend, args: Args, kernel: string): tf.TensorInfo {
  const { x, filter, bias, preluActivationWeights: prelu } = args.inputs;
  const [b, h, w, cin] = x.shape;
  const cout = filter.shape[3];
  const rows: tf.TensorInfo = { dataId: x.dataId, shape: [b * h * w, cin], dtype: "float32" }; // [B·H·W, Cin] view
  const weights: tf.TensorInfo = { dataId: filter.dataId, shape: [cin, cout], dtype: "float32" }; // [Cin, Cout] view
  const epilogue = {
    activation: ACTIVATION_CODE[args.attrs.activation ?? "linear"],
    bias,
    prelu,
    leakyAlpha: args.attrs.leakyreluAlpha ?? 0,
  };
  const out = wasmMatMul(wb, { a: rows, b: weights, transposeA: false, transposeB: false, kernel, epilogue });
  return { dataId: out.dataId, shape: [b, h, w, cout], dtype: "float32" }; // [B, H, W, Cout]
}

const NATIVE_ACT: Record<string, number> = { linear: 0, relu: 1, relu6: 2 };

/** Whether the native addon's im2col + GEMM conv takes the call (when the addon is in use). */
export function nativeConv(args: Args): boolean {
  const { x, filter, bias, preluActivationWeights } = args.inputs;
  return (
    x.shape.length === 4 &&
    x.dtype === "float32" &&
    (args.attrs.dataFormat ?? "NHWC") === "NHWC" &&
    (args.attrs.activation ?? "linear") in NATIVE_ACT &&
    preluActivationWeights == null &&
    (bias == null || (bias.shape.length === 1 && bias.shape[0] === filter.shape[3])) &&
    filter.shape[0] * filter.shape[1] * filter.shape[2] > 0
  );
}

function im2colGemm(args: Args, kernel: string): tf.TensorInfo {
  const wb = asWasm(args.backend, kernel);
  const native = activeNative();
  const { x, filter, bias } = args.inputs;
  const a = args.attrs;
  const g = tf.backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    filter.shape as [number, number, number, number],
    a.strides,
    a.dilations ?? 1,
    a.pad as "same",
    a.dimRoundingMode,
  );
  const out = wb.makeOutput(g.outShape, "float32");
  const at = (t: tf.TensorInfo) => offsetOf(wb, t) >>> 2;
  native?.conv2d(
    heap(wb),
    at(x),
    at(filter),
    bias ? at(bias) : -1,
    at(out),
    g.batchSize,
    g.inHeight,
    g.inWidth,
    g.inChannels,
    g.filterHeight,
    g.filterWidth,
    g.strideHeight,
    g.strideWidth,
    g.dilationHeight,
    g.dilationWidth,
    g.padInfo.top,
    g.padInfo.left,
    g.outHeight,
    g.outWidth,
    g.outChannels,
    NATIVE_ACT[a.activation ?? "linear"],
  );
  return out;
}

function forward(args: Args, kernel: string): tf.TensorInfo {
  if (isPointwise(args)) return pointwise(asWasm(args.backend, kernel), args, kernel);
  if (activeNative() && nativeConv(args)) return im2colGemm(args, kernel);
  return runOriginal(kernel, "wasm", args);
}

function conv2D(args: Args): tf.TensorInfo {
  return forward(args, tf.Conv2D);
}

function fusedConv2D(args: Args): tf.TensorInfo {
  return forward(args, tf.FusedConv2D);
}

/** KernelConfig replacing tfjs-backend-wasm's Conv2D (see the cases above; the rest is passed through). */
export const conv2DForwardConfig: tf.KernelConfig = {
  kernelName: tf.Conv2D,
  backendName: "wasm",
  kernelFunc: conv2D as unknown as tf.KernelFunc,
  setupFunc: originalSetup(tf.Conv2D, "wasm"),
};

/** KernelConfig replacing tfjs-backend-wasm's FusedConv2D (see the cases above; the rest is passed through). */
export const fusedConv2DForwardConfig: tf.KernelConfig = {
  kernelName: tf.FusedConv2D,
  backendName: "wasm",
  kernelFunc: fusedConv2D as unknown as tf.KernelFunc,
  setupFunc: originalSetup(tf.FusedConv2D, "wasm"),
};
