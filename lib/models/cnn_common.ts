/**
 * What the torchvision CNNs share: an ImageClassifier base with a swappable Linear head, torchvision's weight
 * initialisation, and a state-dict loader that accepts torchvision checkpoints as they are written in the wild.
 */
import * as tf from "@tensorflow/tfjs";
import { ConfigError, ShapeError } from "../errors";
import { hostTensor, sizeOf, type StateDict } from "../io/host_tensor";
import { Conv2d, Identity, Linear } from "../nn/layers";
import { torchShapeOf } from "../nn/layout";
import { type LoadResult, Module } from "../nn/module";
import { normal, SeedSequence } from "../nn/init";
import type { ImageClassifier, Stage } from "./types";

/** Base of peftlab's torchvision CNNs: forward = forwardHead(forwardFeatures(x)); the head is one Linear (or Identity). */
export abstract class CnnClassifier extends Module implements ImageClassifier {
  abstract readonly arch: string;
  private _numClasses: number;

  protected constructor(
    numClasses: number,
    readonly numFeatures: number,
    /** Dotted path of the Linear head, e.g. "fc", "classifier", "classifier.6". */
    readonly headPath: string,
  ) {
    super();
    checkNumClasses(numClasses, "numClasses");
    this._numClasses = numClasses;
  }

  get numClasses(): number {
    return this._numClasses;
  }

  get headNames(): string[] {
    return [this.headPath];
  }

  /** Pre-logits features: [B, H, W, C] → [B, numFeatures]. */
  abstract forwardFeatures(x: tf.Tensor): tf.Tensor;

  /** Stages from stem to head. */
  abstract stages(): Stage[];

  forward(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => this.forwardHead(this.forwardFeatures(x))); // [B, numClasses]
  }

  /** Logits from pre-logits features. */
  forwardHead(features: tf.Tensor): tf.Tensor {
    return this.getSubmodule(this.headPath).apply(features); // [B, numClasses]
  }

  /** Swaps the head for a freshly initialised Linear(numFeatures, numClasses), or Identity for 0 (timm semantics). */
  resetClassifier(numClasses: number, seed?: number): void {
    checkNumClasses(numClasses, "resetClassifier(numClasses)");
    const head =
      numClasses > 0 ? new Linear(this.numFeatures, numClasses, { seeds: new SeedSequence(seed) }) : new Identity();
    head.training = this.training;
    const old = this.setSubmodule(this.headPath, head);
    old.dispose();
    this._numClasses = numClasses;
  }

  /** Checks that the input is an NHWC batch with `inChans` channels. */
  protected checkInput(x: tf.Tensor, inChans: number): void {
    if (x.rank !== 4 || x.shape[3] !== inChans) {
      throw new ShapeError(`${this.typeName} expects NHWC images`, {
        where: `${this.typeName}.forwardFeatures`,
        expected: `[B, H, W, ${inChans}]`,
        got: `[${x.shape.join(", ")}]`,
        fix: "transpose NCHW inputs with tf.transpose(x, [0, 2, 3, 1])",
      });
    }
  }
}

/** The head module for a classifier: Linear(inF, numClasses), or Identity when numClasses is 0. */
export function makeHead(inFeatures: number, numClasses: number, seeds: SeedSequence): Module {
  return numClasses > 0 ? new Linear(inFeatures, numClasses, { seeds }) : new Identity();
}

function checkNumClasses(n: number, where: string): void {
  if (!Number.isInteger(n) || n < 0) {
    throw new ConfigError("numClasses must be a non-negative integer", {
      where,
      expected: "0 (Identity head, features out) or a positive integer",
      got: String(n),
    });
  }
}

/** Checks a positive-integer config field. */
export function checkPositiveInt(v: number, where: string): void {
  if (!Number.isInteger(v) || v <= 0) {
    throw new ConfigError("Expected a positive integer", { where, expected: "integer ≥ 1", got: String(v) });
  }
}

/** Checks a list of positive integers (stage depths, widths). */
export function checkIntList(v: readonly number[], where: string, length?: number): void {
  if (!Array.isArray(v) || v.length === 0 || (length !== undefined && v.length !== length)) {
    throw new ConfigError("Expected a non-empty list of positive integers", {
      where,
      expected: length === undefined ? "a non-empty list" : `${length} entries`,
      got: JSON.stringify(v),
    });
  }
  v.forEach((x, i) => checkPositiveInt(x, `${where}[${i}]`));
}

/** How torchvision initialises a model from scratch (its `__init__` loops over modules). */
export interface TorchvisionInit {
  /** kaiming_normal_ mode for convs: ResNet, VGG and MobileNetV2 use fan_out, DenseNet fan_in. */
  convMode: "fan_in" | "fan_out";
  /** Linear weights ~ N(0, std) when set (VGG, MobileNetV2: 0.01); otherwise PyTorch's default uniform. */
  linearStd?: number;
  /** Zero the Linear biases (DenseNet, VGG, MobileNetV2). */
  zeroLinearBias?: boolean;
}

/** Re-initialises convs (kaiming normal, relu gain, bias 0) and optionally Linears, as torchvision's constructors do. */
export function initTorchvision(model: Module, init: TorchvisionInit, seeds: SeedSequence): void {
  for (const [, m] of model.namedModules()) {
    if (m instanceof Conv2d) {
      const [out, inPerGroup, kh, kw] = torchShapeOf(m.weight.shape, m.weight.layout);
      const fan = init.convMode === "fan_out" ? out * kh * kw : inPerGroup * kh * kw;
      assignFresh(m.weight.variable, normal(m.weight.shape, Math.sqrt(2 / fan), seeds));
      if (m.bias) assignFresh(m.bias.variable, tf.zeros(m.bias.shape));
    } else if (m instanceof Linear) {
      if (init.linearStd !== undefined) assignFresh(m.weight.variable, normal(m.weight.shape, init.linearStd, seeds));
      if (m.bias && init.zeroLinearBias) assignFresh(m.bias.variable, tf.zeros(m.bias.shape));
    }
  }
}

function assignFresh(v: tf.Variable, t: tf.Tensor): void {
  v.assign(t);
  t.dispose();
}

/**
 * Loads a torchvision-named state dict. torch writes BatchNorm's `num_batches_tracked` as a 0-d tensor, but some
 * writers (including the reference fixtures) store it as shape [1]; both mean the same counter, so a one-element
 * counter is reshaped to the model's 0-d buffer before the usual strict, shape-checked load.
 */
export function loadTorchvisionStateDict(model: Module, sd: StateDict, opts: { strict?: boolean } = {}): LoadResult {
  return model.loadStateDict(normaliseBatchCounters(sd), opts);
}

/** Pure: reshapes one-element `*.num_batches_tracked` tensors to 0-d, leaving every other entry as is. */
export function normaliseBatchCounters(sd: StateDict): StateDict {
  const out: StateDict = new Map();
  for (const [k, h] of sd) {
    const isCounter = k === "num_batches_tracked" || k.endsWith(".num_batches_tracked");
    out.set(k, isCounter && h.shape.length > 0 && sizeOf(h.shape) === 1 ? hostTensor(h.data, [], h.dtype) : h);
  }
  return out;
}

/** Parameter-name prefixes of `names` that exist in `model` (stages list only modules that hold parameters). */
export function withParams(model: Module, names: string[]): string[] {
  const params = model.namedParameters().map(([n]) => n);
  return names.filter((p) => params.some((n) => n === p || n.startsWith(p + ".")));
}
