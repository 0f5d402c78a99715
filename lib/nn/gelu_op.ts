/**
 * Exact (erf) GELU as ONE recorded op that keeps only its input.
 *
 * Why: the elementary-op version (Mul, Erf, Add, Mul) records four nodes over the full [B, T, 4D] MLP activation,
 * each keeping its inputs and, in the backward pass, its own gradient: in a ViT MLP that is the largest tensor of the
 * block. Here the tape keeps x; the derivative is recomputed: GELU'(x) = ½(1 + erf(x/√2)) + x·φ(x), φ the normal pdf.
 */
import * as tf from "@tensorflow/tfjs";

const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);

/** ½·x·(1 + erf(x/√2)), computed with the same ops (and so the same values) as the plain version. */
export function geluErfForward(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.mul(tf.mul(0.5, x), tf.add(1, tf.erf(tf.mul(x, Math.SQRT1_2)))));
}

/** dy·GELU'(x) for exact GELU. */
export function geluErfBackward(dy: tf.Tensor, x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const cdf = tf.mul(tf.add(1, tf.erf(tf.mul(x, Math.SQRT1_2))), 0.5); // Φ(x)
    const pdf = tf.mul(tf.exp(tf.mul(tf.square(x), -0.5)), INV_SQRT_2PI); // φ(x)
    return tf.mul(dy, tf.add(cdf, tf.mul(x, pdf)));
  });
}

/** Exact GELU with a gradient that saves only x. */
export function geluErfOp(x: tf.Tensor): tf.Tensor {
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const xi = args[0] as tf.Tensor;
    const save = args[1] as tf.GradSaveFunc;
    save([xi]);
    return {
      value: geluErfForward(xi),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => geluErfBackward(dy, saved[0]),
    };
  });
  return op(x);
}
