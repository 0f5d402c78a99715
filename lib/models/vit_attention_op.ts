/**
 * Multi-head self-attention from a fused qkv projection, [B, T, 3·D] → [B, T, D] with heads merged, as ONE recorded
 * op with a hand-written backward.
 *
 * Why: the elementary-op version recorded ~10 nodes per block (split, 3 reshape+transposes, the q scale, two
 * BatchMatMuls, softmax, the merge transpose), and the tape kept their inputs plus a gradient for each until the end
 * of the backward pass. Here the tape keeps q·scale, k, v (one qkv's worth) and the probabilities P, or with
 * `recompute` only q·scale, k, v (P is rebuilt from them in the backward: one more q·kᵀ, FlashAttention-style).
 *
 * Layout: one rank-4 transpose in ([B, T, 3·H, Dh] → [B, 3·H, T, Dh]) and one out; every product is a BatchMatMul over
 * B·H contiguous [T, Dh] slices. With S = (q·scale)·kᵀ, P = softmax(S), O = P·v:
 * dv = Pᵀ·dO, dP = dO·vᵀ, dS = P ⊙ (dP − rowsum(dP ⊙ P)), dq = dS·k·scale, dk = dSᵀ·(q·scale).
 *
 * Where peftlab's native addon is in use (wasm backend, lib/backend/kernels/fused_attention.ts) the same maths runs
 * as one kernel each way on strided views of qkv, dy and dqkv, with no layout copies; the tape keeps qkv and P
 * (only qkv with `recompute`), and P is not formed as a tensor at all when no gradient is being recorded.
 */
import * as tf from "@tensorflow/tfjs";
import { ATTENTION_GRAD_KERNEL, ATTENTION_KERNEL, nativeKernelReady } from "../backend/kernels";
import { ShapeError } from "../errors";
import { recordingGradients } from "../nn/gelu_op";

/** Options of attentionQkvOp. */
export interface AttentionOpOptions {
  /** Keep only q, k, v on the tape and recompute the probabilities in the backward (less memory, one more matmul). */
  recompute?: boolean;
}

/** softmax(q·kᵀ·scale)·v per head from qkv [B, T, 3·D] (timm's q | k | v blocks, each H heads); returns [B, T, D]. */
export function attentionQkvOp(qkv: tf.Tensor, heads: number, scale: number, o: AttentionOpOptions = {}): tf.Tensor {
  const [b, t, d3] = qkv.shape as number[];
  if (qkv.rank !== 3 || d3 % (3 * heads) !== 0) {
    throw new ShapeError("attentionQkvOp: qkv must be [B, T, 3·D] with D divisible by heads", {
      where: "attentionQkvOp(qkv)",
      expected: `rank 3 with last dim a multiple of ${3 * heads}`,
      got: `[${qkv.shape}]`,
      fix: "pass the output of the fused qkv Linear, before any reshape",
    });
  }
  if (qkv.dtype === "float32" && scale > 0 && Number.isFinite(scale) && nativeKernelReady(ATTENTION_KERNEL)) {
    return nativeAttention(qkv, heads, scale, o);
  }
  const d = d3 / 3;
  const dh = d / heads;
  const bh = b * heads;
  const merge = (x: tf.Tensor) => tf.transpose(x.reshape([b, heads, t, dh]), [0, 2, 1, 3]).reshape([b, t, d]); // [B, T, D]
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const x = args[0] as tf.Tensor;
    const save = args[1] as tf.GradSaveFunc;
    const [qs, k, v] = splitHeads(x, b, t, heads, dh, scale); // 3 × [B·H, T, Dh]
    const p = tf.softmax(tf.matMul(qs, k, false, true)); // [B·H, T, T]
    save(o.recompute ? [qs, k, v] : [qs, k, v, p]);
    return {
      value: merge(tf.matMul(p, v)), // [B, T, D]
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) =>
        tf.tidy(() => {
          const [qsS, kS, vS] = saved;
          const pS = saved[3] ?? tf.softmax(tf.matMul(qsS, kS, false, true)); // [B·H, T, T]
          const dO = tf.transpose(dy.reshape([b, t, heads, dh]), [0, 2, 1, 3]).reshape([bh, t, dh]); // [B·H, T, Dh]
          const dv = tf.matMul(pS, dO, true, false); // [B·H, T, Dh]
          const dp = tf.matMul(dO, vS, false, true); // [B·H, T, T]
          const ds = tf.mul(pS, tf.sub(dp, tf.sum(tf.mul(dp, pS), -1, true))); // [B·H, T, T]
          const dq = tf.mul(tf.matMul(ds, kS), scale); // [B·H, T, Dh]
          const dk = tf.matMul(ds, qsS, true, false); // [B·H, T, Dh]
          return [mergeHeads([dq, dk, dv], b, t, heads, dh)]; // [B, T, 3·D]
        }),
    };
  });
  return op(qkv);
}

/** attentionQkvOp on the native kernels: the forward keeps P only while gradients are being recorded. */
function nativeAttention(qkv: tf.Tensor, heads: number, scale: number, o: AttentionOpOptions): tf.Tensor {
  const run = (x: tf.Tensor, keepProbs: boolean) =>
    tf.engine().runKernel(ATTENTION_KERNEL, { qkv: x }, {
      heads,
      scale,
      keepProbs,
    } as unknown as tf.NamedAttrMap) as tf.Tensor[];
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const x = args[0] as tf.Tensor;
    const save = args[1] as tf.GradSaveFunc;
    const recording = recordingGradients();
    const [out, probs] = run(x, recording && !o.recompute); // [B, T, D], [B·H, T, T]
    // Saving clones; with no tape there is no backward to save for.
    if (recording) save(probs ? [x, probs] : [x]);
    return {
      value: out,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) =>
        tf.tidy(() => {
          const p = saved[1] ?? run(saved[0], true)[1]; // [B·H, T, T]
          const inputs = { qkv: saved[0], probs: p, dy };
          return [tf.engine().runKernel(ATTENTION_GRAD_KERNEL, inputs, { heads, scale }) as tf.Tensor]; // [B, T, 3·D]
        }),
    };
  });
  return op(qkv);
}

/**
 * qkv [B, T, 3·D] → q·scale, k, v, each [B·H, T, Dh]. Only rank-4 transposes: tfjs-wasm's generic rank-5 Transpose
 * took ~470 ms for one ViT-S qkv at batch 16, its rank-4 path ~17 ms (timm's permute(2, 0, 3, 1, 4) is rank 5).
 */
function splitHeads(qkv: tf.Tensor, b: number, t: number, heads: number, dh: number, scale: number): tf.Tensor[] {
  const x = tf.transpose(qkv.reshape([b, t, 3 * heads, dh]), [0, 2, 1, 3]); // [B, 3·H, T, Dh]
  // Per image, q, k and v are now three contiguous runs of H·T·Dh floats: the split copies whole runs.
  const [q, k, v] = tf.split(x.reshape([b, 3, heads * t * dh]), 3, 1).map((p) => p.reshape([b * heads, t, dh]));
  // Scale q, not the scores: Dh elements per token instead of T.
  return [tf.mul(q, scale), k, v];
}

/** The inverse of splitHeads' layout change: 3 × [B·H, T, Dh] → [B, T, 3·D]. */
function mergeHeads(parts: tf.Tensor[], b: number, t: number, heads: number, dh: number): tf.Tensor {
  const cat = tf.concat(
    parts.map((p) => p.reshape([b, 1, heads * t * dh])),
    1,
  ); // [B, 3, H·T·Dh]
  return tf.transpose(cat.reshape([b, 3 * heads, t, dh]), [0, 2, 1, 3]).reshape([b, t, 3 * heads * dh]);
}
