/**
 * The contract every backbone + classifier in peftlab implements, so PEFT, strategies, training and the CLI can treat
 * ViTs and CNNs alike (timm's forward_features / forward_head / reset_classifier split).
 */
import type * as tf from "@tensorflow/tfjs";
import type { Module } from "../nn/module";

/** A named group of parameter-name prefixes, from input side to output side (for gradual unfreezing, LLRD, ...). */
export interface Stage {
  /** Human name, e.g. "patch_embed", "blocks.3", "layer2", "features.denseblock1". */
  name: string;
  /** Parameter-name prefixes (dotted) that belong to the stage. */
  prefixes: string[];
}

/** An image classifier: NHWC float32 (already normalised) in, logits out. */
export interface ImageClassifier extends Module {
  /** Architecture family, e.g. "vit", "resnet", "densenet", "vgg", "alexnet", "mobilenetv2". */
  readonly arch: string;
  /** Number of output classes (0 when the head is Identity). */
  readonly numClasses: number;
  /** Width of the pre-logits feature vector. */
  readonly numFeatures: number;
  /** Dotted name of the classifier head module(s), e.g. "head", "fc", "classifier". */
  readonly headNames: string[];
  /** Pre-logits features: [B, H, W, 3] → [B, numFeatures]. */
  forwardFeatures(x: tf.Tensor): tf.Tensor;
  /** Logits from pre-logits features: [B, numFeatures] → [B, numClasses]. */
  forwardHead(features: tf.Tensor): tf.Tensor;
  /** Replaces the head with a freshly initialised one for `numClasses` (0 → Identity), like timm. */
  resetClassifier(numClasses: number, seed?: number): void;
  /** Stages from input to output; the head is the last stage. Defines "layers" for strategies and LLRD. */
  stages(): Stage[];
}

/** Runtime check that a Module implements ImageClassifier. */
export function isImageClassifier(m: unknown): m is ImageClassifier {
  const c = m as Partial<ImageClassifier>;
  return typeof c?.forwardFeatures === "function" && typeof c?.stages === "function" && Array.isArray(c?.headNames);
}
