/**
 * `PeftlabGeluErf`: a new kernel (tfjs has no GELU kernel) computing the exact GELU y = x·Φ(x) and, with
 * `withGrad`, its derivative GELU'(x) = Φ(x) + x·φ(x), in one pass over x. Outputs: [y] or [y, dydx].
 *
 * Why: the composed op (Mul, Erf, Add, Mul, and Square, Sub, Exp, Mul, Add for the derivative) made ~8 passes over
 * the ViT MLP's [B·T, 4D] activation, and tfjs-backend-wasm's Erf and Exp are scalar: ~1 s of a ViT-S/16 batch-16
 * LoRA step. lib/nn/gelu_op.ts uses this kernel when the active backend has it and the composed ops otherwise.
 *
 * Maths (both backends): Φ from erfc(|x|/√2) by Abramowitz & Stegun 7.1.26 (|error| ≤ 1.5e-7, the formula
 * tfjs-backend-cpu's own Erf uses), taking erfc/2 directly for x < 0 so the left tail does not cancel.
 */
import * as tf from "@tensorflow/tfjs";
import { asCpu, valuesOf } from "./cpu_data";
import { simdKernels } from "../wasm/loader";
import { activeNative } from "../addon/loader";
import { asWasm, heap, offsetOf } from "./wasm_gemm";

/** The kernel's name in tfjs's registry. */
export const GELU_ERF_KERNEL = "PeftlabGeluErf";

/** Attributes of PeftlabGeluErf. */
export interface GeluErfAttrs {
  /** Also output GELU'(x). */
  withGrad: boolean;
}

interface Args {
  inputs: { x: tf.TensorInfo };
  backend: unknown;
  attrs: GeluErfAttrs;
}

function onWasm(args: Args): tf.TensorInfo[] {
  const wb = asWasm(args.backend, GELU_ERF_KERNEL);
  const { x } = args.inputs;
  const y = wb.makeOutput([...x.shape], "float32");
  const g = args.attrs.withGrad ? wb.makeOutput([...x.shape], "float32") : undefined;
  const len = tf.util.sizeFromShape(x.shape);
  const native = activeNative();
  if (len > 0 && native) {
    const gAt = g ? offsetOf(wb, g) >>> 2 : -1;
    native.geluErf(heap(wb), offsetOf(wb, x) >>> 2, offsetOf(wb, y) >>> 2, gAt, len);
  } else if (len > 0) {
    simdKernels(wb, GELU_ERF_KERNEL).gelu_erf(offsetOf(wb, x), offsetOf(wb, y), g ? offsetOf(wb, g) : 0, len);
  }
  return g ? [y, g] : [y];
}

const P = 0.3275911;
const A = [0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429];
const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);

/** GELU and GELU' of a Float32Array in float64 arithmetic (the same formula as the SIMD kernel). */
export function geluErfValues(x: Float32Array, y: Float32Array, g?: Float32Array): void {
  for (let i = 0; i < x.length; i++) {
    const v = x[i];
    const z = Math.abs(v) * Math.SQRT1_2;
    const t = 1 / (1 + P * z);
    const e = Math.exp(-z * z); // e^(−x²/2)
    const halfErfc = 0.5 * t * (A[0] + t * (A[1] + t * (A[2] + t * (A[3] + t * A[4])))) * e;
    const cdf = v < 0 ? halfErfc : 1 - halfErfc; // Φ(x)
    y[i] = v * cdf;
    if (g) g[i] = cdf + v * e * INV_SQRT_2PI;
  }
}

function onCpu(args: Args): tf.TensorInfo[] {
  const cb = asCpu(args.backend, GELU_ERF_KERNEL);
  const { x } = args.inputs;
  const xs = valuesOf(cb, x);
  const y = new Float32Array(xs.length);
  const g = args.attrs.withGrad ? new Float32Array(xs.length) : undefined;
  geluErfValues(xs, y, g);
  const out = [cb.makeTensorInfo([...x.shape], "float32", y)];
  if (g) out.push(cb.makeTensorInfo([...x.shape], "float32", g));
  return out;
}

/** KernelConfig adding PeftlabGeluErf to the wasm backend (SIMD). */
export const geluErfConfig: tf.KernelConfig = {
  kernelName: GELU_ERF_KERNEL,
  backendName: "wasm",
  kernelFunc: onWasm as unknown as tf.KernelFunc,
};

/** KernelConfig adding PeftlabGeluErf to the cpu backend. */
export const geluErfCpuConfig: tf.KernelConfig = {
  kernelName: GELU_ERF_KERNEL,
  backendName: "cpu",
  kernelFunc: onCpu as unknown as tf.KernelFunc,
};
