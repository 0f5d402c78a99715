/**
 * Exact (erf) GELU as ONE recorded op that keeps a single tensor the size of its input.
 *
 * Why: the elementary-op version (Mul, Erf, Add, Mul) records four nodes over the full [B, T, 4D] MLP activation,
 * each keeping its inputs and, in the backward pass, its own gradient: in a ViT MLP that is the largest tensor of the
 * block. Here, while gradients are being recorded, the forward also forms GELU'(x) = Φ(x) + x·φ(x) from the same erf
 * (Φ(x) = ½(1 + erf(x/√2)), φ the normal pdf) and the tape keeps only that, so the backward is one multiply: wasm's
 * Erf is the slowest elementwise kernel (~20 ns per element), and recomputing it in the backward cost a second one.
 */
import * as tf from "@tensorflow/tfjs";

const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);

/** Whether ops now run under a gradient tape (tf.grad / variableGrads); the forward then prepares the backward. */
export function recordingGradients(): boolean {
  return tf.engine().state.gradientDepth > 0;
}

/** GELU(x) = ½·x·(1 + erf(x/√2)) with the plain version's ops (so the same values), and GELU'(x) when `withGrad`. */
export function geluErfForward(x: tf.Tensor, withGrad = false): { y: tf.Tensor; dydx?: tf.Tensor } {
  const e = tf.erf(tf.mul(x, Math.SQRT1_2));
  const y = tf.mul(tf.mul(0.5, x), tf.add(1, e));
  if (!withGrad) return { y };
  const cdf = tf.mul(tf.add(1, e), 0.5); // Φ(x)
  const pdf = tf.mul(tf.exp(tf.mul(tf.square(x), -0.5)), INV_SQRT_2PI); // φ(x)
  return { y, dydx: tf.add(cdf, tf.mul(x, pdf)) };
}

/** Exact GELU whose tape keeps GELU'(x) only (one input-sized tensor). */
export function geluErfOp(x: tf.Tensor): tf.Tensor {
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const xi = args[0] as tf.Tensor;
    const save = args[1] as tf.GradSaveFunc;
    const { y, dydx } = geluErfForward(xi, recordingGradients());
    if (dydx) save([dydx]);
    return {
      value: y,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.mul(dy, saved[0]),
    };
  });
  return op(x);
}
