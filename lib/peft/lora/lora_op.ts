/**
 * A LoRA Linear, y = x·W + b + (x·A)·(B⊙mask)·scaling, as ONE recorded op.
 *
 * Why: written with tf.fused.matMul + matMul + mul + add, the tape kept x for the base matmul and again for A's,
 * x·A, the branch output and four gradients, and fused.matMul's backward computed dW for the frozen base weight
 * anyway (one more full matmul per layer). Here frozen tensors (W, b as LoRA leaves them) are closed over, not op
 * inputs, so their gradients are never formed; the tape keeps x once. The layer runs as one GEMM with the adapter
 * folded into the weight on the fly (see mergedWeight).
 *
 * Gradients, with Bs = (B⊙mask)·scaling and g = dy·Bsᵀ ([N, r]): dx = dy·(W + A·Bs)ᵀ, dA = xᵀ·g,
 * dB = ((x·A)ᵀ·dy)·scaling ⊙ mask, dW = xᵀ·dy, db = Σ dy.
 */
import * as tf from "@tensorflow/tfjs";

/** The tensors of a LoRA Linear and which of them train. */
export interface LoraLinearParams {
  w: tf.Tensor2D; // [in, out]
  b?: tf.Tensor1D; // [out]
  a: tf.Tensor2D; // [in, r]
  bLora: tf.Tensor2D; // [r, out]
  /** {0, 1} mask on B (fused-qkv slicing), or undefined. */
  mask?: tf.Tensor;
  scaling: number;
  train: { w: boolean; b: boolean; a: boolean; bLora: boolean };
}

/** base(x) + B(A(x))·scaling over the last axis of x, as one differentiable op. */
export function loraLinearOp(x: tf.Tensor, p: LoraLinearParams): tf.Tensor {
  const [inF, outF] = p.w.shape;
  const lead = x.shape.slice(0, -1);
  const t = p.train;
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const x2 = (args[0] as tf.Tensor).reshape([-1, inF]) as tf.Tensor2D; // [N, in]
    const save = args[args.length - 1] as tf.GradSaveFunc;
    // x only for dA / dB / dW (x·A is recomputed for dB: N·in·r flops); a fully frozen layer keeps nothing.
    save([t.a || t.bLora || t.w ? x2 : tf.zeros([0])]);
    return {
      value: tf.fused.matMul({ a: x2, b: mergedWeight(p), bias: p.b }).reshape([...lead, outF]), // [..., out]
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) =>
        tf.tidy(() => {
          const xs = saved[0] as tf.Tensor2D;
          const dy2 = dy.reshape([-1, outF]) as tf.Tensor2D; // [N, out]
          const out: tf.Tensor[] = [tf.matMul(dy2, mergedWeight(p), false, true).reshape(x.shape)]; // dx
          if (t.w) out.push(tf.matMul(xs, dy2, true, false)); // [in, out]
          if (p.b && t.b) out.push(tf.sum(dy2, 0)); // [out]
          if (t.a) out.push(tf.matMul(xs, tf.matMul(dy2, scaledB(p), false, true), true, false)); // [in, r]
          if (t.bLora) {
            const db = tf.mul(tf.matMul(tf.matMul(xs, p.a), dy2, true, false), p.scaling); // [r, out]
            out.push(p.mask ? tf.mul(db, p.mask) : db);
          }
          return out;
        }),
    };
  });
  const inputs: tf.Tensor[] = [x];
  if (t.w) inputs.push(p.w);
  if (p.b && t.b) inputs.push(p.b);
  if (t.a) inputs.push(p.a);
  if (t.bLora) inputs.push(p.bLora);
  return op(...inputs);
}

/**
 * W + A·(B⊙mask)·scaling, formed per call: one [in, r]×[r, out] product (r ≪ N) so that the layer is ONE GEMM over
 * the N tokens, forward and backward (dx = dy·(W + A·Bs)ᵀ), instead of the base GEMM plus two thin rank-r GEMMs and
 * an add over [N, out]. The unmerged adapter then runs as fast as a merged one.
 */
function mergedWeight(p: LoraLinearParams): tf.Tensor2D {
  return tf.tidy(() => tf.add(p.w, tf.matMul(p.a, scaledB(p)))) as tf.Tensor2D; // [in, out]
}

/** (B⊙mask)·scaling: scaling the [r, out] factor is cheaper than the [N, out] product. */
function scaledB(p: LoraLinearParams): tf.Tensor2D {
  return tf.tidy(() => tf.mul(p.mask ? tf.mul(p.bLora, p.mask) : p.bLora, p.scaling)) as tf.Tensor2D;
}
