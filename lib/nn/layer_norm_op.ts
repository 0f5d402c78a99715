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
 */
import * as tf from "@tensorflow/tfjs";

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
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const xi = args[0] as tf.Tensor;
    const save = args[args.length - 1] as tf.GradSaveFunc;
    // The same elementary ops as the plain version, so the forward is bit-identical to it.
    const { mean, variance } = tf.moments(xi, -1, true); // [..., 1]
    const rstd = tf.rsqrt(tf.add(variance, eps)); // [..., 1]
    const xhat = tf.mul(tf.sub(xi, mean), rstd); // [..., D]
    save([xhat, rstd]);
    return {
      value: tf.add(tf.mul(xhat, gamma), beta), // [..., D]
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) =>
        tf.tidy(() => {
          const [xh, rs] = saved;
          const d = xh.shape[xh.rank - 1]!;
          const lead = Array.from({ length: xh.rank - 1 }, (_, i) => i);
          const g = tf.mul(dy, gamma); // [..., D]
          const meanG = tf.div(tf.sum(g, -1, true), d); // [..., 1]
          const meanGx = tf.div(tf.sum(tf.mul(g, xh), -1, true), d); // [..., 1]
          // Full-size passes are what cost here; the [..., 1] statistics are free.
          const inner = tf.sub(tf.sub(g, meanG), tf.mul(xh, meanGx)); // [..., D]
          const out: tf.Tensor[] = [tf.mul(inner, rs)];
          if (grads.gamma) out.push(tf.sum(tf.mul(dy, xh), lead));
          if (grads.beta) out.push(tf.sum(dy, lead));
          return out;
        }),
    };
  });
  const inputs = [x];
  if (grads.gamma) inputs.push(gamma);
  if (grads.beta) inputs.push(beta);
  return op(...inputs);
}
