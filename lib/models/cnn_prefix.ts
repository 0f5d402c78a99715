/**
 * A frozen-prefix split for CNNs whose backbone is one `features` Sequential followed by global average pooling and
 * a `classifier` (MobileNetV2): everything before stage `firstTailStage` runs once per image (eval mode, BatchNorm
 * with its pretrained running statistics), and a `CnnTail` classifier holds the remaining stages and the head under
 * their original parameter names. Fine-tuning strategies then act on the tail exactly as on the whole model, but a
 * step costs only the tail. This is a CI-scale shortcut: it equals full fine-tuning only when the prefix would stay
 * frozen anyway, so notebooks label it.
 */
import * as tf from "@tensorflow/tfjs";
import { ConfigError } from "../errors";
import { Module } from "../nn/module";
import { Sequential } from "../nn/containers";
import type { ImageClassifier, Stage } from "./types";

/** The two halves of a split CNN. */
export interface CnnPrefixSplit {
  /** [B, H, W, 3] → the feature map entering the tail (no gradient intended). */
  prefix(x: tf.Tensor): tf.Tensor;
  /** The trainable part: tail stages + pooling + head, sharing weights with the original model. */
  tail: CnnTail;
}

/** The tail of a split CNN as an ImageClassifier; its parameters keep the full model's names. */
export class CnnTail extends Module implements ImageClassifier {
  readonly arch: string;
  constructor(
    private readonly base: ImageClassifier,
    /** Indices of `features` children that belong to the tail. */
    readonly tailIndices: number[],
    private readonly tailStages: Stage[],
  ) {
    super();
    this.arch = `${base.arch}-tail`;
    const seq = new Sequential();
    for (const i of tailIndices) seq.add(String(i), base.getSubmodule(`features.${i}`));
    this.registerModule("features", seq);
    this.registerModule("classifier", base.getSubmodule("classifier"));
  }
  get numClasses(): number {
    return this.base.numClasses;
  }
  get numFeatures(): number {
    return this.base.numFeatures;
  }
  get headNames(): string[] {
    return this.base.headNames;
  }
  forwardFeatures(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => tf.mean(this.getSubmodule("features").apply(x), [1, 2])); // [B, C]
  }
  forwardHead(features: tf.Tensor): tf.Tensor {
    return this.base.forwardHead(features); // [B, K]
  }
  forward(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => this.forwardHead(this.forwardFeatures(x)));
  }
  resetClassifier(numClasses: number, seed?: number): void {
    this.base.resetClassifier(numClasses, seed);
  }
  stages(): Stage[] {
    return this.tailStages;
  }
}

/**
 * Splits a MobileNetV2-like CNN before stage `firstTailStage` (a name from model.stages(), e.g. "features.14").
 * Throws a ConfigError for other architectures or an unknown stage.
 */
export function splitCnnAtStage(model: ImageClassifier, firstTailStage: string): CnnPrefixSplit {
  if (model.arch !== "mobilenetv2") {
    throw new ConfigError("Frozen-prefix splitting supports MobileNetV2-like CNNs only", {
      where: "splitCnnAtStage(model)",
      expected: 'arch "mobilenetv2" (features Sequential → mean pool → classifier)',
      got: model.arch,
      fix: "train the whole model (no prefix cache) for other architectures",
    });
  }
  const stages = model.stages();
  const cut = stages.findIndex((s) => s.name === firstTailStage);
  const m = /^features\.(\d+)$/.exec(firstTailStage);
  if (cut < 1 || !m) {
    throw new ConfigError("Unknown tail stage", {
      where: "splitCnnAtStage(firstTailStage)",
      expected: `one of ${stages
        .slice(1, -1)
        .map((s) => s.name)
        .join(", ")}`,
      got: firstTailStage,
    });
  }
  const first = Number(m[1]);
  const features = model.getSubmodule("features");
  const count = features.children().length;
  const tailIndices = Array.from({ length: count - first }, (_, i) => first + i);
  const tail = new CnnTail(model, tailIndices, stages.slice(cut));
  return {
    tail,
    prefix: (x) =>
      tf.tidy(() => {
        const was = model.training;
        model.eval();
        try {
          let y = x; // [B, H, W, 3]
          for (let i = 0; i < first; i++) y = features.getSubmodule(String(i)).apply(y);
          return y; // [B, h, w, c]
        } finally {
          model.train(was);
        }
      }),
  };
}
