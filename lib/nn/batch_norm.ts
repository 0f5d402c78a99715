/**
 * BatchNorm over NHWC channels as ONE differentiable op (tf.customGrad), so that training keeps O(1) full-size tensors
 * per layer instead of one per elementary op.
 *
 * Why: tfjs's tape keeps every saved input of every recorded op, and the gradient of every intermediate output, until
 * the whole backward pass ends. Written with elementary ops, a training BatchNorm records Sub, Square, Mean, Mul and
 * Add over the full [B, H, W, C] activation (about five saved tensors plus five gradients per layer): MobileNetV2 at
 * 224 needed ~200 MB of wasm heap per image, so batch 16 crossed 2 GB and batch 32 could not fit in wasm32's 4 GB.
 * Here the tape holds the input x (only when γ/β or the batch statistics need it) and one gradient.
 *
 * Gradients are PyTorch's (cudnn / native_batch_norm_backward):
 * - training: x̂ = (x − μ)·σ⁻¹, dx = γσ⁻¹/N · (N·dy − Σdy − x̂·Σ(dy·x̂)), dγ = Σ(dy·x̂), dβ = Σdy;
 * - eval (running stats are constants): dx = dy·γσ⁻¹, dγ = Σ(dy·x̂), dβ = Σdy.
 *
 * On wasm the statistics, the affine maps and the training dx are peftlab's per-channel SIMD kernels
 * (PeftlabChannelSums / PeftlabChannelAffine: one pass each, float64 sums); elsewhere the composed ops run.
 */
import * as tf from "@tensorflow/tfjs";
import { CHANNEL_AFFINE_KERNEL, CHANNEL_SUMS_KERNEL } from "../backend/kernels";

const AXES = [0, 1, 2];

/** Whether the backend has peftlab's per-channel kernels (wasm); otherwise the composed ops below run. */
function fused(x: tf.Tensor): boolean {
  const b = tf.getBackend();
  return (
    x.dtype === "float32" &&
    tf.getKernel(CHANNEL_SUMS_KERNEL, b) !== undefined &&
    tf.getKernel(CHANNEL_AFFINE_KERNEL, b) !== undefined
  );
}

/** Per-channel sums over [B, H, W, C]: Σx (mode 0), Σ(x − m)² (mode 1), Σy·(x − m) (mode 2); one pass, float64 sums. */
function channelSums(x: tf.Tensor, mode: 0 | 1 | 2, m?: tf.Tensor, y?: tf.Tensor): tf.Tensor1D {
  const inputs: tf.NamedTensorMap = { x };
  if (m) inputs.m = m;
  if (y) inputs.y = y;
  return tf.engine().runKernel(CHANNEL_SUMS_KERNEL, inputs, { mode } as unknown as tf.NamedAttrMap) as tf.Tensor1D;
}

/** p·a + r, or p·a + q·(b − m) + r, per channel of [B, H, W, C], in one pass. */
function channelAffine(
  a: tf.Tensor,
  p: tf.Tensor,
  r: tf.Tensor,
  b?: tf.Tensor,
  m?: tf.Tensor,
  q?: tf.Tensor,
): tf.Tensor {
  const inputs: tf.NamedTensorMap = { a, p, r };
  if (b && m && q) Object.assign(inputs, { b, m, q });
  return tf.engine().runKernel(CHANNEL_AFFINE_KERNEL, inputs, {}) as tf.Tensor;
}

/** What batchNorm2d returns: the output and, in training, the batch statistics (biased variance; caller disposes). */
export interface BatchNormResult {
  y: tf.Tensor;
  batchMean?: tf.Tensor1D;
  batchVar?: tf.Tensor1D;
}

/**
 * y = (x − μ)/√(σ² + eps)·γ + β over the channel axis of NHWC `x`, with batch statistics when `training`, else the
 * given running ones. `affineTrainable: false` (frozen γ/β, e.g. LoRA) lets eval mode save nothing full-size.
 */
export function batchNorm2d(
  x: tf.Tensor,
  gamma: tf.Tensor1D,
  beta: tf.Tensor1D,
  o: { training: boolean; eps: number; runningMean: tf.Tensor; runningVar: tf.Tensor; affineTrainable: boolean },
): BatchNormResult {
  if (o.training) return train(x, gamma, beta, o.eps);
  return { y: o.affineTrainable ? evalAffine(x, gamma, beta, o) : evalFrozen(x, gamma, beta, o) };
}

function train(x: tf.Tensor, gamma: tf.Tensor1D, beta: tf.Tensor1D, eps: number): BatchNormResult {
  let batchMean: tf.Tensor1D | undefined;
  let batchVar: tf.Tensor1D | undefined;
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [xi, g, b] = args as tf.Tensor[];
    const save = args[3] as tf.GradSaveFunc;
    const fast = fused(xi);
    const m = fast ? fusedMoments(xi) : tf.moments(xi, AXES); // [C], [C]
    // The forward runs inside tfjs's tidy: keep the statistics for the running-stat update (the caller disposes).
    batchMean = tf.keep(m.mean) as tf.Tensor1D;
    batchVar = tf.keep(m.variance) as tf.Tensor1D;
    const inv = tf.rsqrt(tf.add(m.variance, eps)); // [C]
    const s = tf.mul(g, inv); // [C]
    const shift = tf.sub(b, tf.mul(m.mean, s)); // [C]
    const value = fast ? channelAffine(xi, s, shift) : tf.add(tf.mul(xi, s), shift); // [B, H, W, C]
    save([xi, g, m.mean, inv]);
    return {
      value,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) =>
        tf.tidy(() => {
          const [xs, gs, mean, invStd] = saved;
          const n = xs.size / xs.shape[3]!;
          if (fast) return fusedTrainGrad(dy, xs, gs, mean, invStd, n);
          const xhat = tf.mul(tf.sub(xs, mean), invStd); // [B, H, W, C]
          const sumDy = tf.sum(dy, AXES); // [C]
          const sumDyXhat = tf.sum(tf.mul(dy, xhat), AXES); // [C]
          const inner = tf.sub(tf.sub(tf.mul(dy, n), sumDy), tf.mul(xhat, sumDyXhat)); // [B, H, W, C]
          const dx = tf.mul(inner, tf.div(tf.mul(gs, invStd), n));
          return [dx, sumDyXhat, sumDy];
        }),
    };
  });
  const y = op(x, gamma, beta);
  return { y, batchMean, batchVar };
}

/** Batch mean and biased variance in two passes over x (float64 sums). */
function fusedMoments(x: tf.Tensor): { mean: tf.Tensor1D; variance: tf.Tensor1D } {
  const n = x.size / x.shape[3]!;
  const mean = tf.div(channelSums(x, 0), n) as tf.Tensor1D; // [C]
  return { mean, variance: tf.div(channelSums(x, 1, mean), n) as tf.Tensor1D };
}

/**
 * The training gradient with per-channel kernels: dx = γσ⁻¹·dy − k·Σdy − k·Σ(dy·x̂)·σ⁻¹·(x − μ), k = γσ⁻¹/N, which
 * is the formula above expanded so that dx is one pass over dy and x.
 */
function fusedTrainGrad(
  dy: tf.Tensor,
  x: tf.Tensor,
  g: tf.Tensor,
  mean: tf.Tensor,
  inv: tf.Tensor,
  n: number,
): tf.Tensor[] {
  const sumDy = channelSums(dy, 0); // [C]
  const sumDyXhat = tf.mul(channelSums(x, 2, mean, dy), inv); // [C]
  const p = tf.mul(g, inv); // γσ⁻¹ [C]
  const k = tf.div(p, n); // [C]
  const q = tf.neg(tf.mul(tf.mul(k, sumDyXhat), inv)); // [C]
  const r = tf.neg(tf.mul(k, sumDy)); // [C]
  return [channelAffine(dy, p, r, x, mean, q), sumDyXhat, sumDy];
}

/** Eval with trainable γ/β: saves x for dγ. */
function evalAffine(
  x: tf.Tensor,
  gamma: tf.Tensor1D,
  beta: tf.Tensor1D,
  o: { eps: number; runningMean: tf.Tensor; runningVar: tf.Tensor },
): tf.Tensor {
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [xi, g, b] = args as tf.Tensor[];
    const save = args[3] as tf.GradSaveFunc;
    const inv = tf.rsqrt(tf.add(o.runningVar, o.eps)); // [C]
    const s = tf.mul(g, inv); // [C]
    const shift = tf.sub(b, tf.mul(o.runningMean, s)); // [C]
    const fast = fused(xi);
    const value = fast ? channelAffine(xi, s, shift) : tf.add(tf.mul(xi, s), shift); // [B, H, W, C]
    save([xi, s, inv]);
    return {
      value,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) =>
        tf.tidy(() => {
          const [xs, ss, invStd] = saved;
          if (fast) {
            const dgamma = tf.mul(channelSums(xs, 2, o.runningMean, dy), invStd); // [C]
            return [channelAffine(dy, ss, tf.zerosLike(ss)), dgamma, channelSums(dy, 0)];
          }
          const xhat = tf.mul(tf.sub(xs, o.runningMean), invStd); // [B, H, W, C]
          return [tf.mul(dy, ss), tf.sum(tf.mul(dy, xhat), AXES), tf.sum(dy, AXES)];
        }),
    };
  });
  return op(x, gamma, beta);
}

/** Eval with frozen γ/β: a per-channel affine map whose gradient needs only the scale. */
function evalFrozen(
  x: tf.Tensor,
  gamma: tf.Tensor1D,
  beta: tf.Tensor1D,
  o: { eps: number; runningMean: tf.Tensor; runningVar: tf.Tensor },
): tf.Tensor {
  const s = tf.mul(gamma, tf.rsqrt(tf.add(o.runningVar, o.eps))); // [C]
  const shift = tf.sub(beta, tf.mul(o.runningMean, s)); // [C]
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const xi = args[0] as tf.Tensor;
    const save = args[1] as tf.GradSaveFunc;
    save([s]);
    return {
      value: fused(xi) ? channelAffine(xi, s, shift) : tf.add(tf.mul(xi, s), shift), // [B, H, W, C]
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => [tf.mul(dy, saved[0])],
    };
  });
  return op(x);
}
