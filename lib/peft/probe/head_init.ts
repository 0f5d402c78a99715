/**
 * A classifier head initialised from a fitted linear probe: the vision-only analogue of CLIP-LoRA's classifier
 * initialised from text embeddings (Zanella & Ben Ayed 2024, the code seed 000 builds on), and the "LP" of LP-FT
 * (Kumar et al., ICLR 2022: fine-tune from the linear-probe head, so the early gradients do not distort the features
 * through a random head). Called on the model before a strategy's setup, so peft's modules_to_save original is the
 * probe head.
 */
import * as tf from "@tensorflow/tfjs";
import { ConfigError, ShapeError } from "../../errors";
import type { ImageClassifier } from "../../models/types";
import { Linear } from "../../nn/layers";
import type { LogRegModel } from "./logreg";

/**
 * The probe as head weights in tfjs layout: `weight` [d, out] row-major, `bias` [out]. Multinomial: column k is the
 * probe's row for class k. Binary (one logistic vector z = w·x + b): a 1-output head gets z; a 2-output softmax head
 * gets logits (−z/2, z/2), whose softmax is (1 − σ(z), σ(z)), the probe's probabilities exactly.
 */
export function probeHeadWeights(probe: LogRegModel, out: number): { weight: Float32Array; bias: Float32Array } {
  const { d, W, b } = probe;
  const K = probe.classes.length;
  const labelsOk = probe.classes.every((c, i) => c === i);
  const outOk = probe.binary ? out === 1 || out === 2 : out === K;
  if (!labelsOk || !outOk) {
    throw new ConfigError("The probe's classes do not match the head's outputs", {
      where: "probeHeadWeights",
      expected: probe.binary ? "classes [0, 1] and a head of 1 or 2 outputs" : `classes 0..${out - 1} (${out} outputs)`,
      got: `classes [${probe.classes.join(", ")}], head of ${out} outputs`,
      fix: "fit the probe on labels 0..K−1 with every class present (e.g. a k-shot subset of every class)",
    });
  }
  const weight = new Float32Array(d * out); // [d, out]
  const bias = new Float32Array(out);
  if (probe.binary) {
    const sign = out === 1 ? [1] : [-0.5, 0.5];
    sign.forEach((s, k) => {
      for (let j = 0; j < d; j++) weight[j * out + k] = s * W[j];
      bias[k] = s * b[0];
    });
  } else {
    for (let k = 0; k < K; k++) {
      for (let j = 0; j < d; j++) weight[j * out + k] = W[k * d + j];
      bias[k] = b[k];
    }
  }
  return { weight, bias };
}

/**
 * Sets the model's classifier head (its first `headNames` entry, a Linear) to the fitted probe, in place. The probe
 * must have been fitted on the features that feed this head (the model's pooled pre-logits, e.g. `hostFeatures` of
 * the same backbone with no head); with LoRA's B at zero the model then predicts what the probe predicts.
 */
export function initHeadFromProbe(model: ImageClassifier, probe: LogRegModel): void {
  const name = model.headNames[0];
  const head = name === undefined ? undefined : model.getSubmodule(name);
  if (!(head instanceof Linear)) {
    throw new ConfigError("The model has no Linear classifier head to initialise", {
      where: `initHeadFromProbe (${model.constructor.name}.${name ?? "<no head>"})`,
      expected: "a Linear head (a model made with numClasses > 0)",
      got: head ? head.constructor.name : "no head",
      fix: "create the model with the task's number of classes",
    });
  }
  if (head.inFeatures !== probe.d) {
    throw new ShapeError("The probe's feature size differs from the head's input", {
      where: `initHeadFromProbe (${name})`,
      expected: `${head.inFeatures} features (the head's input)`,
      got: `${probe.d}`,
      fix: "fit the probe on this backbone's pooled features",
    });
  }
  const { weight, bias } = probeHeadWeights(probe, head.outFeatures);
  if (!head.bias && bias.some((v) => v !== 0)) {
    throw new ConfigError("The head has no bias but the probe has an intercept", {
      where: `initHeadFromProbe (${name})`,
      expected: "a head with a bias",
      got: "bias: false",
    });
  }
  const w = tf.tensor2d(weight, [probe.d, head.outFeatures]); // [d, out]
  head.weight.assign(w);
  w.dispose();
  if (head.bias) {
    const bt = tf.tensor1d(bias); // [out]
    head.bias.assign(bt);
    bt.dispose();
  }
}
