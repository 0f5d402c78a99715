/**
 * Dense layers as recorded ops that compute only the gradients somebody asked for: a Linear and a whole
 * fc1 → exact GELU → fc2 MLP.
 *
 * Why: tf.fused.matMul is a customGrad op whose backward always computes dA, dB and dbias, so a frozen weight (LoRA,
 * linear probing) still cost one full matmul (dW = xᵀ·dy) per layer and kept x on the tape for it. Here frozen
 * weights and biases are closed over instead of passed as op inputs: no dW, no db, and x is saved only when dW needs
 * it. The MLP as one op also keeps just the fc1 output (GELU's input) instead of three activations of width 4·D plus
 * their gradients; GELU'(h) is formed in the forward from the same erf (see gelu_op.ts).
 */
import * as tf from "@tensorflow/tfjs";
import { geluErfForward, recordingGradients } from "./gelu_op";
import type { Linear } from "./layers";

/** A Linear's tensors and which of them need gradients. */
export interface DenseParams {
  w: tf.Tensor2D; // [in, out]
  b?: tf.Tensor1D; // [out]
  trainW: boolean;
  trainB: boolean;
}

/** DenseParams of a Linear module, trainability from its parameters. */
export function denseOf(l: Linear): DenseParams {
  return {
    w: l.weight.variable as tf.Tensor2D,
    b: l.bias?.variable as tf.Tensor1D | undefined,
    trainW: l.weight.trainable,
    trainB: !!l.bias?.trainable,
  };
}

/** The op inputs a dense layer contributes: its trainable tensors only. */
function trainables(p: DenseParams): tf.Tensor[] {
  const out: tf.Tensor[] = [];
  if (p.trainW) out.push(p.w);
  if (p.b && p.trainB) out.push(p.b);
  return out;
}

/** x·W + b on [N, in]. */
function dense(x2: tf.Tensor2D, p: DenseParams): tf.Tensor2D {
  return tf.fused.matMul({ a: x2, b: p.w, bias: p.b }) as tf.Tensor2D; // [N, out]
}

/** Gradients of a dense layer from dy [N, out]: [dx] then dW, db where trainable. `x2` is needed only for dW. */
function denseBackward(dy: tf.Tensor2D, p: DenseParams, x2?: tf.Tensor2D): { dx: tf.Tensor2D; params: tf.Tensor[] } {
  const params: tf.Tensor[] = [];
  if (p.trainW) params.push(tf.matMul(x2!, dy, true, false)); // [in, out]
  if (p.b && p.trainB) params.push(tf.sum(dy, 0)); // [out]
  return { dx: tf.matMul(dy, p.w, false, true), params }; // [N, in]
}

/** y = x·W + b over the last axis, with gradients only for x and the trainable parameters. */
export function linearOp(x: tf.Tensor, p: DenseParams): tf.Tensor {
  const inF = p.w.shape[0];
  const outF = p.w.shape[1];
  const lead = x.shape.slice(0, -1);
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const x2 = (args[0] as tf.Tensor).reshape([-1, inF]) as tf.Tensor2D; // [N, in]
    const save = args[args.length - 1] as tf.GradSaveFunc;
    save(p.trainW ? [x2] : []);
    return {
      value: dense(x2, p).reshape([...lead, outF]), // [..., out]
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) =>
        tf.tidy(() => {
          const g = denseBackward(dy.reshape([-1, outF]) as tf.Tensor2D, p, saved[0] as tf.Tensor2D);
          return [g.dx.reshape(x.shape), ...g.params];
        }),
    };
  });
  return op(x, ...trainables(p));
}

/** fc2(GELU(fc1(x))) with exact GELU as one op; it keeps GELU'(fc1(x)), plus x or GELU's output if fc1 / fc2 train. */
export function mlpGeluOp(x: tf.Tensor, fc1: DenseParams, fc2: DenseParams): tf.Tensor {
  const inF = fc1.w.shape[0];
  const outF = fc2.w.shape[1];
  const lead = x.shape.slice(0, -1);
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const x2 = (args[0] as tf.Tensor).reshape([-1, inF]) as tf.Tensor2D; // [N, in]
    const save = args[args.length - 1] as tf.GradSaveFunc;
    const h = dense(x2, fc1); // [N, hidden]
    const { y: a, dydx } = geluErfForward(h, recordingGradients()); // [N, hidden]
    // GELU'(h) is formed here from the forward's erf (lib/nn/gelu_op.ts); x only for dW1, GELU(h) only for dW2.
    const none = () => tf.zeros([0]); // a saved slot a frozen layer does not need
    if (dydx) save([dydx, fc1.trainW ? x2 : none(), fc2.trainW ? a : none()]);
    return {
      value: dense(a as tf.Tensor2D, fc2).reshape([...lead, outF]), // [..., out]
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) =>
        tf.tidy(() => {
          const [dGelu, xs, acts] = saved as tf.Tensor2D[];
          const dy2 = dy.reshape([-1, outF]) as tf.Tensor2D; // [N, out]
          const g2 = denseBackward(dy2, fc2, acts);
          const dh = tf.mul(g2.dx, dGelu) as tf.Tensor2D; // [N, hidden]
          const g1 = denseBackward(dh, fc1, xs);
          return [g1.dx.reshape(x.shape), ...g1.params, ...g2.params];
        }),
    };
  });
  return op(x, ...trainables(fc1), ...trainables(fc2));
}
