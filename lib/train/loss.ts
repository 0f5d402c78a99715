/** Losses with PyTorch's definitions: cross-entropy (label smoothing, class weights) and BCE-with-logits. */
import * as tf from "@tensorflow/tfjs";
import { ShapeError } from "../errors";

/** Cross-entropy options (torch.nn.functional.cross_entropy). */
export interface CrossEntropyOptions {
  labelSmoothing?: number;
  /** Per-class weights [K]. */
  classWeights?: number[];
}

/**
 * Mean cross-entropy of logits [B, K] against int labels [B], as PyTorch computes it:
 * weighted mean = Σ w_y·ℓ / Σ w_y; with smoothing ε, ℓ = (1−ε)·nll + ε·(−Σ_c w_c log p_c)/K.
 */
export function crossEntropy(logits: tf.Tensor, labels: tf.Tensor, opts: CrossEntropyOptions = {}): tf.Scalar {
  const [b, k] = logits.shape;
  if (logits.rank !== 2 || labels.rank !== 1 || labels.shape[0] !== b) {
    throw new ShapeError("crossEntropy expects logits [B, K] and labels [B]", {
      expected: `[B, K] and [B]`,
      got: `[${logits.shape}] and [${labels.shape}]`,
    });
  }
  return tf.tidy(() => {
    const logp = tf.logSoftmax(logits); // [B, K]
    const onehot = tf.oneHot(labels.toInt(), k); // [B, K]
    const w = opts.classWeights ? tf.tensor1d(opts.classWeights) : undefined;
    const wy = w ? tf.sum(tf.mul(onehot, w), 1) : tf.onesLike(labels).toFloat(); // [B]
    const nll = tf.neg(tf.sum(tf.mul(onehot, logp), 1)); // [B]
    const eps = opts.labelSmoothing ?? 0;
    let per = tf.mul(nll, wy);
    if (eps > 0) {
      const smooth = tf.neg(tf.sum(w ? tf.mul(logp, w) : logp, 1)); // [B]
      per = tf.add(tf.mul(per, 1 - eps), tf.mul(smooth, eps / k));
    }
    return tf.div(tf.sum(per), tf.sum(wy)) as tf.Scalar;
  });
}

/** Mean BCE-with-logits over all elements, numerically stable (max(x,0) − x·y + log(1+e^−|x|)); optional pos_weight [L]. */
export function bceWithLogits(logits: tf.Tensor, targets: tf.Tensor, posWeight?: number[]): tf.Scalar {
  if (!sameShape(logits.shape, targets.shape)) {
    throw new ShapeError("bceWithLogits expects logits and targets of the same shape", {
      expected: `[${logits.shape}]`,
      got: `[${targets.shape}]`,
      fix: "for a single-logit binary head, reshape labels to [B, 1] as float",
    });
  }
  return tf.tidy(() => {
    const y = targets.toFloat();
    if (!posWeight) {
      const l = tf.add(tf.sub(tf.relu(logits), tf.mul(logits, y)), tf.log1p(tf.exp(tf.neg(tf.abs(logits)))));
      return tf.mean(l) as tf.Scalar;
    }
    // PyTorch: (1 − y)·x + (1 + (pw − 1)·y)·softplus(−x)
    const pw = tf.tensor1d(posWeight);
    const lw = tf.add(1, tf.mul(tf.sub(pw, 1), y));
    const softplusNeg = tf.add(tf.relu(tf.neg(logits)), tf.log1p(tf.exp(tf.neg(tf.abs(logits)))));
    return tf.mean(tf.add(tf.mul(tf.sub(1, y), logits), tf.mul(lw, softplusNeg))) as tf.Scalar;
  });
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}
