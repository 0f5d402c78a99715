/**
 * LayerNorm over the last axis as ONE recorded op (tf.customGrad) that keeps x̂ and 1/σ for the backward pass.
 *
 * Why: tfjs's tape keeps every saved input of every elementary op (Sub, Square, Mean, Rsqrt, Mul, Add …) and the
 * gradient of every intermediate until the whole backward pass ends. Written with elementary ops a ViT LayerNorm
 * kept ~6 full-size [B, T, D] tensors plus their gradients; here the tape holds x̂ (full size) and 1/σ ([..., 1]).
 * γ and β are op inputs only when trainable: a frozen affine (LoRA) is closed over, so no dγ/dβ is computed.
 *
 * Gradients (PyTorch's layer_norm_backward): with g = dy·γ, dx = σ⁻¹·(g − mean(g) − x̂·mean(g·x̂)),
 * dγ = Σ dy·x̂, dβ = Σ dy (sums over every axis but the last).
 *
 * Where peftlab's native addon is in use (wasm backend, lib/backend/kernels/layer_norm.ts) the forward and dx are one
 * native kernel each and the tape keeps x, μ and 1/σ instead of x̂; elsewhere the composed ops below run.
 */
import * as tf from "@tensorflow/tfjs";
import { LAYER_NORM_GRAD_KERNEL, LAYER_NORM_KERNEL, nativeKernelReady } from "../backend/kernels";
import { recordingGradients } from "./gelu_op";

/** Which of LayerNorm's parameters the caller needs gradients for. */
export interface LayerNormGrads {
  gamma: boolean;
  beta: boolean;
}

/** (x − μ)/√(σ² + eps)·γ + β over the last axis, as one differentiable op. */
export function layerNormOp(
  x: tf.Tensor,
  gamma: tf.Tensor,
  beta: tf.Tensor,
  eps: number,
  grads: LayerNormGrads = { gamma: true, beta: true },
): tf.Tensor {
  const native = x.dtype === "float32" && gamma.rank === 1 && beta.rank === 1 && nativeKernelReady(LAYER_NORM_KERNEL);
  const ln: Ln = { gamma, beta, eps, grads };
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const xi = args[0] as tf.Tensor;
    const save = args[args.length - 1] as tf.GradSaveFunc;
    return native ? nativeForward(xi, ln, save) : composedForward(xi, ln, save);
  });
  const inputs = [x];
  if (grads.gamma) inputs.push(gamma);
  if (grads.beta) inputs.push(beta);
  return op(...inputs);
}

type Forward = { value: tf.Tensor; gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.Tensor[] };

/** The layer's parameters and which gradients are wanted. */
interface Ln {
  gamma: tf.Tensor;
  beta: tf.Tensor;
  eps: number;
  grads: LayerNormGrads;
}

/** dγ and dβ (sums over every axis but the last) when they are wanted. */
function affineGrads(dy: tf.Tensor, xhat: tf.Tensor, grads: LayerNormGrads): tf.Tensor[] {
  const lead = Array.from({ length: dy.rank - 1 }, (_, i) => i);
  const out: tf.Tensor[] = [];
  if (grads.gamma) out.push(tf.sum(tf.mul(dy, xhat), lead)); // [D]
  if (grads.beta) out.push(tf.sum(dy, lead)); // [D]
  return out;
}

function nativeForward(x: tf.Tensor, { gamma, beta, eps, grads }: Ln, save: tf.GradSaveFunc): Forward {
  const attrs = { eps } as unknown as tf.NamedAttrMap;
  const [y, mean, rstd] = tf.engine().runKernel(LAYER_NORM_KERNEL, { x, gamma, beta }, attrs) as tf.Tensor[]; // [..., D], 2 × [..., 1]
  if (recordingGradients()) save([x, mean, rstd]); // saving clones; with no tape there is no backward
  return {
    value: y,
    gradFunc: (dy, saved) =>
      tf.tidy(() => {
        const [xs, mu, rs] = saved;
        const inputs = { x: xs, mean: mu, rstd: rs, gamma, dy };
        const dx = tf.engine().runKernel(LAYER_NORM_GRAD_KERNEL, inputs, {}) as tf.Tensor; // [..., D]
        // dγ needs x̂; only full fine-tuning asks for it (LoRA closes over a frozen γ, β).
        const xhat = grads.gamma ? tf.mul(tf.sub(xs, mu), rs) : xs; // [..., D]
        return [dx, ...affineGrads(dy, xhat, grads)];
      }),
  };
}

function composedForward(xi: tf.Tensor, { gamma, beta, eps, grads }: Ln, save: tf.GradSaveFunc): Forward {
  // The same elementary ops as the plain version, so the forward is bit-identical to it.
  const { mean, variance } = tf.moments(xi, -1, true); // [..., 1]
  const rstd = tf.rsqrt(tf.add(variance, eps)); // [..., 1]
  const xhat = tf.mul(tf.sub(xi, mean), rstd); // [..., D]
  save([xhat, rstd]);
  return {
    value: tf.add(tf.mul(xhat, gamma), beta), // [..., D]
    gradFunc: (dy, saved) =>
      tf.tidy(() => {
        const [xh, rs] = saved;
        const d = xh.shape[xh.rank - 1]!;
        const g = tf.mul(dy, gamma); // [..., D]
        const meanG = tf.div(tf.sum(g, -1, true), d); // [..., 1]
        const meanGx = tf.div(tf.sum(tf.mul(g, xh), -1, true), d); // [..., 1]
        // Full-size passes are what cost here; the [..., 1] statistics are free.
        const inner = tf.sub(tf.sub(g, meanG), tf.mul(xh, meanGx)); // [..., D]
        return [tf.mul(inner, rs), ...affineGrads(dy, xh, grads)];
      }),
  };
}
