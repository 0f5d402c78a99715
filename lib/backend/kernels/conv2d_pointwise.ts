/**
 * wasm `Conv2D` and `FusedConv2D` for 1×1 stride-1 NHWC convolutions, the pointwise convs of MobileNetV2,
 * ResNet's bottlenecks and DenseNet's transitions: x [B, H, W, Cin] · w [Cin, Cout] is one GEMM over B·H·W rows, so
 * it runs on peftlab's GEMM (native addon, all cores; else the wasm GEMM) with bias and ReLU/ReLU6 in the epilogue.
 * Every other convolution goes back to the kernel tfjs-backend-wasm registered (XNNPACK).
 *
 * Why: tfjs-backend-wasm runs Conv2D on XNNPACK on one thread; MobileNetV2-0.35's 1×1 convs at batch 32 ran at
 * ~20 GFLOP/s there (`npx tsx scratch/prof_mnv2.ts`), half of its inference time.
 */
import * as tf from "@tensorflow/tfjs";
import { originalSetup, runOriginal } from "./originals";
import { ACTIVATION_CODE, asWasm, type WasmBackend } from "./wasm_gemm";
import { wasmMatMul } from "./wasm_mat_mul";

interface ConvAttrs {
  strides: number | [number, number];
  pad: "valid" | "same" | number | number[][] | string;
  dataFormat?: string;
  dilations?: number | [number, number];
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

function conv2D(args: Args): tf.TensorInfo {
  return isPointwise(args)
    ? pointwise(asWasm(args.backend, tf.Conv2D), args, tf.Conv2D)
    : runOriginal(tf.Conv2D, "wasm", args);
}

function fusedConv2D(args: Args): tf.TensorInfo {
  const name = tf.FusedConv2D;
  return isPointwise(args) ? pointwise(asWasm(args.backend, name), args, name) : runOriginal(name, "wasm", args);
}

/** KernelConfig replacing tfjs-backend-wasm's Conv2D (1×1 stride 1 only; the rest is passed through). */
export const conv2DPointwiseConfig: tf.KernelConfig = {
  kernelName: tf.Conv2D,
  backendName: "wasm",
  kernelFunc: conv2D as unknown as tf.KernelFunc,
  setupFunc: originalSetup(tf.Conv2D, "wasm"),
};

/** KernelConfig replacing tfjs-backend-wasm's FusedConv2D (1×1 stride 1 only; the rest is passed through). */
export const fusedConv2DPointwiseConfig: tf.KernelConfig = {
  kernelName: tf.FusedConv2D,
  backendName: "wasm",
  kernelFunc: fusedConv2D as unknown as tf.KernelFunc,
  setupFunc: originalSetup(tf.FusedConv2D, "wasm"),
};
