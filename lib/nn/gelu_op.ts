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
import { GELU_ERF_KERNEL } from "../backend/kernels";

const LN_INV_SQRT_2PI = -0.5 * Math.log(2 * Math.PI); // ln(1/√(2π))

/** Whether ops now run under a gradient tape (tf.grad / variableGrads); the forward then prepares the backward. */
export function recordingGradients(): boolean {
  return tf.engine().state.gradientDepth > 0;
}

/**
 * GELU(x) = x·Φ(x), and GELU'(x) when `withGrad`. Where the backend has peftlab's fused kernel (wasm: SIMD, cpu:
 * one JS loop; lib/backend/kernels/gelu_erf.ts) this is one pass; otherwise (tfjs-node, overrides off) the composed
 * ops below, bit-identical to the plain ½x·(1 + erf(x/√2)) (×½ is exact).
 */
export function geluErfForward(x: tf.Tensor, withGrad = false): { y: tf.Tensor; dydx?: tf.Tensor } {
  if (x.dtype === "float32" && tf.getKernel(GELU_ERF_KERNEL, tf.getBackend()) !== undefined) {
    const attrs = { withGrad } as unknown as tf.NamedAttrMap;
    const out = tf.engine().runKernel(GELU_ERF_KERNEL, { x }, attrs) as tf.Tensor | tf.Tensor[];
    const [y, dydx] = Array.isArray(out) ? out : [out];
    return withGrad ? { y, dydx } : { y };
  }
  return geluErfComposed(x, withGrad);
}

/**
 * The composed-op GELU (the fallback, and the reference the fused kernel is tested against). Elementwise passes
 * over [N, 4D] dominate, so constants are folded: c·exp(−x²/2) is exp(ln c − u²) with u = x/√2.
 */
export function geluErfComposed(x: tf.Tensor, withGrad = false): { y: tf.Tensor; dydx?: tf.Tensor } {
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
