/**
 * Scaled dot-product attention built so every matmul lands on a fast kernel (peftlab's wasm BatchMatMul runs
 * the (batch, head) slices through peftlab's packed GEMM, half of them on the GEMM worker), with as few layout
 * copies as the maths allows.
 *
 * Gradients come from tfjs's autodiff: the backward of q·kᵀ and p·v are again BatchMatMuls (NN, NT, TN), all
 * of which the override handles, and softmax's backward is elementwise. A custom gradient would compute the
 * same products, so none is used.
 */
import * as tf from "@tensorflow/tfjs";
import { ShapeError } from "../errors";

/**
 * softmax(q·kᵀ·scale)·v for q, k, v of shape [B, H, T, Dh] (any equal leading dims); returns [B, H, T, Dh].
 * `scale` is usually 1/√Dh.
 */
export function scaledDotProductAttention(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, scale: number): tf.Tensor {
  checkQkv(q, k, v);
  return tf.tidy(() => {
    // Scale q, not the scores: Dh (64) elements per token instead of T (197).
    const qs = tf.mul(q, tf.scalar(scale)); // [B, H, T, Dh]
    const scores = tf.matMul(qs, k, false, true); // [B, H, T, T]
    const p = tf.softmax(scores); // [B, H, T, T]
    return tf.matMul(p, v); // [B, H, T, Dh]
  });
}

/**
 * Multi-head self-attention core from a fused qkv projection: qkv [B, T, 3·D] (timm's layout: q, k, v blocks,
 * each split into `heads` heads) → [B, T, D]. One transpose in, one out; scale defaults to 1/√(D/heads).
 */
export function attentionFromQkv(qkv: tf.Tensor, heads: number, scale?: number): tf.Tensor {
  const [b, t, d3] = qkv.shape;
  if (qkv.rank !== 3 || d3 % (3 * heads) !== 0) {
    throw new ShapeError("attentionFromQkv: qkv must be [B, T, 3·D] with D divisible by heads", {
      where: "attentionFromQkv(qkv)",
      expected: `rank 3 with last dim a multiple of ${3 * heads}`,
      got: `[${qkv.shape}]`,
      fix: "pass the output of the fused qkv Linear, before any reshape",
    });
  }
  const dh = d3 / 3 / heads;
  return tf.tidy(() => {
    // Rank-4 transpose, then whole-run splits: tfjs-wasm's rank-5 Transpose is ~30× slower than its rank-4 one.
    const x = tf.transpose(tf.reshape(qkv, [b, t, 3 * heads, dh]), [0, 2, 1, 3]); // [B, 3·H, T, Dh]
    const [q, k, v] = tf.split(tf.reshape(x, [b, 3, heads * t * dh]), 3, 1).map((p) => p.reshape([b, heads, t, dh]));
    const o = scaledDotProductAttention(q, k, v, scale ?? 1 / Math.sqrt(dh)); // [B, H, T, Dh]
    return tf.reshape(tf.transpose(o, [0, 2, 1, 3]), [b, t, heads * dh]); // [B, T, D]
  });
}

function checkQkv(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor): void {
  const lead = (t: tf.Tensor) => t.shape.slice(0, -2).join(",");
  const r = q.rank;
  const ok =
    r >= 2 &&
    k.rank === r &&
    v.rank === r &&
    lead(q) === lead(k) &&
    lead(k) === lead(v) &&
    q.shape[r - 1] === k.shape[r - 1] &&
    k.shape[r - 2] === v.shape[r - 2];
  if (!ok) {
    throw new ShapeError("scaledDotProductAttention: q, k, v shapes do not fit", {
      where: "scaledDotProductAttention(q, k, v)",
      expected: "q [..., Tq, Dh], k [..., Tk, Dh], v [..., Tk, Dv] with equal leading dims",
      got: `q [${q.shape}], k [${k.shape}], v [${v.shape}]`,
      fix: "reshape to [B, H, T, Dh] (e.g. with attentionFromQkv) before calling",
    });
  }
}
