/**
 * L2-SP and L1-SP (Li, Grandvalet & Davoine, ICML 2018): full fine-tuning with a penalty pulling the backbone towards
 * its pretrained values, plus an L2 penalty on the (new) head:
 * - L2-SP: (α/2)·Σ_backbone ‖w − w⁰‖² + (β/2)·Σ_head ‖w‖²
 * - L1-SP: α·Σ_backbone |w − w⁰|₁ + (β/2)·Σ_head ‖w‖²
 * w⁰ is captured at setup (after the pretrained weights are loaded). Every backbone parameter counts (weights, biases,
 * norm scales), as in Li et al.; use weight decay 0 in the optimiser, since β already regularises the head.
 */
import * as tf from "@tensorflow/tfjs";
import { addNChunked } from "../../nn/add_n";
import type { ImageClassifier } from "../../models/types";
import { checkHp, groupsOf, isHead, setTrainable } from "./common";
import type { Strategy } from "./types";

/** SP settings (Li et al.'s common values α = β = 0.01). */
export interface SpOptions {
  alpha?: number;
  beta?: number;
}

function sp(kind: "L2" | "L1", opts: SpOptions): Strategy {
  const alpha = opts.alpha ?? 0.01;
  const beta = opts.beta ?? 0.01;
  const name = `${kind}-SP`;
  checkHp(name, "alpha", alpha >= 0, "≥ 0", alpha);
  checkHp(name, "beta", beta >= 0, "≥ 0", beta);
  const anchors = new Map<string, tf.Tensor>();
  return {
    name,
    source: "Li, Grandvalet & Davoine, Explicit Inductive Bias for Transfer Learning with CNNs, ICML 2018",
    hyperparameters: { alpha, beta },
    setup(model, ctx) {
      setTrainable(model, () => true);
      for (const t of anchors.values()) t.dispose();
      anchors.clear();
      for (const [n, p] of model.namedParameters()) if (!isHead(model, n)) anchors.set(n, tf.keep(p.variable.clone()));
      return groupsOf("all", model.namedParameters(), ctx);
    },
    onEpochStart: () => undefined,
    penalty(model: ImageClassifier) {
      return tf.tidy(() => {
        const terms: tf.Scalar[] = [];
        for (const [n, p] of model.namedParameters()) {
          if (!p.trainable) continue;
          if (isHead(model, n)) {
            terms.push(tf.mul(beta / 2, tf.sum(tf.square(p.variable))));
          } else {
            const d = tf.sub(p.variable, anchors.get(n)!);
            terms.push(kind === "L2" ? tf.mul(alpha / 2, tf.sum(tf.square(d))) : tf.mul(alpha, tf.sum(tf.abs(d))));
          }
        }
        return (terms.length ? addNChunked(terms) : tf.scalar(0)) as tf.Scalar;
      });
    },
    lrMultipliers: () => null,
  };
}

/** L2-SP: FT with (α/2)‖w − w⁰‖² on the backbone and (β/2)‖w‖² on the head. */
export function l2sp(opts: SpOptions = {}): Strategy {
  return sp("L2", opts);
}

/** L1-SP: FT with α|w − w⁰|₁ on the backbone and (β/2)‖w‖² on the head. */
export function l1sp(opts: SpOptions = {}): Strategy {
  return sp("L1", opts);
}
