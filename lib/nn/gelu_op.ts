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

const LN_INV_SQRT_2PI = -0.5 * Math.log(2 * Math.PI); // ln(1/√(2π))

/** Whether ops now run under a gradient tape (tf.grad / variableGrads); the forward then prepares the backward. */
export function recordingGradients(): boolean {
  return tf.engine().state.gradientDepth > 0;
}

/**
 * GELU(x) = x·Φ(x) with Φ(x) = (1 + erf(x/√2))·½, bit-identical to the plain ½x·(1 + erf(x/√2)) (×½ is exact), and
 * GELU'(x) when `withGrad`. Elementwise passes over [N, 4D] dominate here, so constants are folded: c·exp(−x²/2) is
 * exp(ln c − u²) with u = x/√2 (already formed for erf).
 */
export function geluErfForward(x: tf.Tensor, withGrad = false): { y: tf.Tensor; dydx?: tf.Tensor } {
  const u = tf.mul(x, Math.SQRT1_2);
  const cdf = tf.mul(tf.add(1, tf.erf(u)), 0.5); // Φ(x)
  const y = tf.mul(x, cdf);
  if (!withGrad) return { y };
  const xPdf = tf.mul(x, tf.exp(tf.sub(LN_INV_SQRT_2PI, tf.square(u)))); // x·φ(x)
  return { y, dydx: tf.add(cdf, xPdf) };
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
