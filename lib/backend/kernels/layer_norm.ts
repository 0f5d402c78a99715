/**
 * `PeftlabLayerNorm` and `PeftlabLayerNormGrad`: LayerNorm over the last axis, forward and input gradient, on the
 * native addon (lib/backend/addon/layer_norm_avx2.c). Native-only (see native_only.ts): lib/nn/layer_norm_op.ts
 * composes tfjs ops where the addon is not in use.
 *
 * Why: composed, a ViT LayerNorm is ~10 elementwise passes over [B·T, D] forward and backward: ~250 ms of a
 * ViT-S/16 batch-16 LoRA step and ~110 ms of its inference on this machine. Each row here is read twice.
 *
 * Forward: x [..., D], γ [D], β [D] → y [..., D], mean [..., 1], rstd [..., 1] (rstd = 1/√(var + eps), biased var).
 * Gradient: x, mean, rstd, γ, dy → dx = rstd·(g − mean(g) − x̂·mean(g·x̂)), g = dy·γ, x̂ = (x − mean)·rstd.
 */
import * as tf from "@tensorflow/tfjs";
import { expectShape, floatsAt, nativeWasm } from "./native_only";

/** The kernels' names in tfjs's registry. */
export const LAYER_NORM_KERNEL = "PeftlabLayerNorm";
export const LAYER_NORM_GRAD_KERNEL = "PeftlabLayerNormGrad";

type T = tf.TensorInfo;

/** rows and D of x [..., D], after checking a vector of D against it. */
function rowsOf(name: string, x: T, vec: T, vecName: string): { rows: number; d: number } {
  const d = x.shape[x.shape.length - 1] ?? 0;
  expectShape(x.shape.length >= 1, name, "x", "[..., D]", x);
  expectShape(vec.shape.length === 1 && vec.shape[0] === d, name, vecName, `[${d}]`, vec);
  return { rows: d === 0 ? 0 : tf.util.sizeFromShape(x.shape) / d, d };
}

function forward(args: { inputs: { x: T; gamma: T; beta: T }; backend: unknown; attrs: { eps: number } }): T[] {
  const { wb, native } = nativeWasm(args.backend, LAYER_NORM_KERNEL);
  const { x, gamma, beta } = args.inputs;
  const { rows, d } = rowsOf(LAYER_NORM_KERNEL, x, gamma, "gamma");
  expectShape(beta.shape.length === 1 && beta.shape[0] === d, LAYER_NORM_KERNEL, "beta", `[${d}]`, beta);
  const stat = [...x.shape.slice(0, -1), 1];
  const y = wb.makeOutput([...x.shape], "float32");
  const mean = wb.makeOutput(stat, "float32");
  const rstd = wb.makeOutput(stat, "float32");
  if (rows > 0) {
    const { h, at } = floatsAt(wb, x, gamma, beta, y, mean, rstd);
    native.layerNorm(h, at[0], at[1], at[2], at[3], at[4], at[5], rows, d, args.attrs.eps);
  }
  return [y, mean, rstd];
}

function backward(args: { inputs: { x: T; mean: T; rstd: T; gamma: T; dy: T }; backend: unknown }): T {
  const { wb, native } = nativeWasm(args.backend, LAYER_NORM_GRAD_KERNEL);
  const { x, mean, rstd, gamma, dy } = args.inputs;
  const { rows } = rowsOf(LAYER_NORM_GRAD_KERNEL, x, gamma, "gamma");
  const sameRows = (t: T) => tf.util.sizeFromShape(t.shape) === rows;
  expectShape(sameRows(mean), LAYER_NORM_GRAD_KERNEL, "mean", `${rows} values`, mean);
  expectShape(sameRows(rstd), LAYER_NORM_GRAD_KERNEL, "rstd", `${rows} values`, rstd);
  expectShape(tf.util.arraysEqual(dy.shape, x.shape), LAYER_NORM_GRAD_KERNEL, "dy", `[${x.shape}]`, dy);
  const dx = wb.makeOutput([...x.shape], "float32");
  if (rows > 0) {
    const { h, at } = floatsAt(wb, x, mean, rstd, gamma, dy, dx);
    native.layerNormGrad(h, at[0], at[1], at[2], at[3], at[4], at[5], rows, gamma.shape[0]);
  }
  return dx;
}

/** KernelConfig adding PeftlabLayerNorm to the wasm backend (runs only while the native addon is active). */
export const layerNormConfig: tf.KernelConfig = {
  kernelName: LAYER_NORM_KERNEL,
  backendName: "wasm",
  kernelFunc: forward as unknown as tf.KernelFunc,
};

/** KernelConfig adding PeftlabLayerNormGrad to the wasm backend (runs only while the native addon is active). */
export const layerNormGradConfig: tf.KernelConfig = {
  kernelName: LAYER_NORM_GRAD_KERNEL,
  backendName: "wasm",
  kernelFunc: backward as unknown as tf.KernelFunc,
};
