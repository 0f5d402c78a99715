/**
 * DenseNet (Huang et al. 2017) in torchvision's structure and names: `features.{conv0,norm0,relu0,pool0}`,
 * `features.denseblockI.denselayerJ.{norm1,conv1,norm2,conv2}`, `features.transitionI.{norm,conv}`, `features.norm5`,
 * `classifier`; a final ReLU and global average pool give the pre-logits features. NHWC inside, so the dense
 * concatenation runs over the last axis in the same order torch concatenates channels.
 */
import * as tf from "@tensorflow/tfjs";
import { Activation, AvgPool2d, BatchNorm2d, Conv2d, Dropout, MaxPool2d } from "../nn/layers";
import { Sequential } from "../nn/containers";
import { Module } from "../nn/module";
import { SeedSequence } from "../nn/init";
import { ConfigError } from "../errors";
import { checkIntList, checkPositiveInt, CnnClassifier, initTorchvision, makeHead } from "./cnn_common";
import type { Stage } from "./types";

/** DenseNet options; defaults are densenet121's. */
export interface DenseNetOptions {
  /** Channels each dense layer adds (k). Default 32. */
  growthRate?: number;
  /** Dense layers per block. Default [6, 12, 24, 16]. */
  blockConfig?: number[];
  /** Channels out of the stem. Default 64. */
  numInitFeatures?: number;
  /** Bottleneck multiplier: the 1×1 conv outputs bnSize·k channels. Default 4. */
  bnSize?: number;
  /** Dropout after each dense layer (training only). Default 0. */
  dropRate?: number;
  /** Output classes; 0 gives an Identity head. Default 1000. */
  numClasses?: number;
  /** Input channels. Default 3. */
  inChans?: number;
  seed?: number;
}

/** The manifest / JSON form (torchvision's argument names). */
export interface DenseNetJson {
  growth_rate?: number;
  block_config?: number[];
  num_init_features?: number;
  bn_size?: number;
  drop_rate?: number;
  num_classes?: number;
  in_chans?: number;
}

/** Converts the JSON form to options. */
export function densenetOptionsFromJson(j: DenseNetJson): DenseNetOptions {
  return {
    growthRate: j.growth_rate,
    blockConfig: j.block_config,
    numInitFeatures: j.num_init_features,
    bnSize: j.bn_size,
    dropRate: j.drop_rate,
    numClasses: j.num_classes,
    inChans: j.in_chans,
  };
}

/** BN-ReLU-Conv1×1 (to bnSize·k) then BN-ReLU-Conv3×3 (to k): the k new channels of one dense layer. */
export class DenseLayer extends Module {
  constructor(inC: number, growth: number, bnSize: number, dropRate: number, seeds: SeedSequence) {
    super();
    const mid = bnSize * growth;
    this.registerModule("norm1", new BatchNorm2d(inC));
    this.registerModule("relu1", new Activation("relu"));
    this.registerModule("conv1", new Conv2d(inC, mid, 1, { bias: false, seeds }));
    this.registerModule("norm2", new BatchNorm2d(mid));
    this.registerModule("relu2", new Activation("relu"));
    this.registerModule("conv2", new Conv2d(mid, growth, 3, { padding: 1, bias: false, seeds }));
    // torchvision calls F.dropout; a Dropout child holds no parameters, so names and state dicts are unchanged.
    if (dropRate > 0) this.registerModule("dropout", new Dropout(dropRate, seeds.next()));
  }
  forward(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      let y = x; // [B, H, W, inC]
      for (const [, m] of this.children()) y = m.apply(y);
      return y; // [B, H, W, k]
    });
  }
}

/** Dense layers whose inputs are the concatenation of the block input and every earlier layer's output. */
export class DenseBlock extends Module {
  readonly numLayers: number;
  constructor(numLayers: number, inC: number, growth: number, bnSize: number, dropRate: number, seeds: SeedSequence) {
    super();
    this.numLayers = numLayers;
    for (let i = 0; i < numLayers; i++) {
      this.registerModule(`denselayer${i + 1}`, new DenseLayer(inC + i * growth, growth, bnSize, dropRate, seeds));
    }
  }
  forward(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      let acc = x; // [B, H, W, inC + i·k]
      for (let i = 1; i <= this.numLayers; i++) {
        acc = tf.concat([acc, this.getSubmodule(`denselayer${i}`).apply(acc)], 3);
      }
      return acc; // [B, H, W, inC + n·k]
    });
  }
}

/** torchvision's DenseNet on NHWC input. */
export class DenseNet extends CnnClassifier {
  readonly arch = "densenet";
  readonly inChans: number;
  readonly numBlocks: number;
  readonly features: Sequential;
  constructor(readonly options: DenseNetOptions = {}) {
    const o = validate(options);
    let c = o.numInitFeatures;
    o.blockConfig.forEach((n, i) => {
      c += n * o.growthRate;
      if (i !== o.blockConfig.length - 1) c = Math.floor(c / 2);
    });
    super(o.numClasses, c, "classifier");
    this.inChans = o.inChans;
    this.numBlocks = o.blockConfig.length;
    const seeds = new SeedSequence(o.seed);
    const f = new Sequential()
      .add("conv0", new Conv2d(o.inChans, o.numInitFeatures, 7, { stride: 2, padding: 3, bias: false, seeds }))
      .add("norm0", new BatchNorm2d(o.numInitFeatures))
      .add("relu0", new Activation("relu"))
      .add("pool0", new MaxPool2d(3, 2, 1));
    let ch = o.numInitFeatures;
    o.blockConfig.forEach((n, i) => {
      f.add(`denseblock${i + 1}`, new DenseBlock(n, ch, o.growthRate, o.bnSize, o.dropRate, seeds));
      ch += n * o.growthRate;
      if (i !== o.blockConfig.length - 1) {
        const out = Math.floor(ch / 2);
        const t = new Sequential()
          .add("norm", new BatchNorm2d(ch))
          .add("relu", new Activation("relu"))
          .add("conv", new Conv2d(ch, out, 1, { bias: false, seeds }))
          .add("pool", new AvgPool2d(2, 2));
        f.add(`transition${i + 1}`, t);
        ch = out;
      }
    });
    f.add("norm5", new BatchNorm2d(ch));
    this.features = this.registerModule("features", f);
    this.registerModule("classifier", makeHead(ch, o.numClasses, seeds));
    initTorchvision(this, { convMode: "fan_in", zeroLinearBias: true }, seeds);
  }

  forwardFeatures(x: tf.Tensor): tf.Tensor {
    this.checkInput(x, this.inChans);
    return tf.tidy(() => {
      const y = tf.relu(this.getSubmodule("features").apply(x)); // [B, H/32, W/32, C]
      return tf.mean(y, [1, 2]); // [B, numFeatures]
    });
  }

  stages(): Stage[] {
    const out: Stage[] = [{ name: "stem", prefixes: ["features.conv0", "features.norm0"] }];
    for (let i = 1; i <= this.numBlocks; i++) {
      const prefixes = [`features.denseblock${i}`];
      if (i < this.numBlocks) prefixes.push(`features.transition${i}`);
      out.push({ name: `features.denseblock${i}`, prefixes });
    }
    out.push({ name: "features.norm5", prefixes: ["features.norm5"] });
    out.push({ name: "classifier", prefixes: ["classifier"] });
    return out;
  }
}

function validate(o: DenseNetOptions) {
  const r = {
    growthRate: o.growthRate ?? 32,
    blockConfig: o.blockConfig ?? [6, 12, 24, 16],
    numInitFeatures: o.numInitFeatures ?? 64,
    bnSize: o.bnSize ?? 4,
    dropRate: o.dropRate ?? 0,
    numClasses: o.numClasses ?? 1000,
    inChans: o.inChans ?? 3,
    seed: o.seed,
  };
  checkPositiveInt(r.growthRate, "DenseNetOptions.growthRate");
  checkIntList(r.blockConfig, "DenseNetOptions.blockConfig");
  checkPositiveInt(r.numInitFeatures, "DenseNetOptions.numInitFeatures");
  checkPositiveInt(r.bnSize, "DenseNetOptions.bnSize");
  checkPositiveInt(r.inChans, "DenseNetOptions.inChans");
  if (!(r.dropRate >= 0 && r.dropRate < 1)) {
    throw new ConfigError("dropRate out of range", {
      where: "DenseNetOptions.dropRate",
      expected: "0 ≤ p < 1",
      got: String(r.dropRate),
    });
  }
  return r;
}

/** torchvision densenet121. */
export const densenet121 = (o: DenseNetOptions = {}) =>
  new DenseNet({ growthRate: 32, blockConfig: [6, 12, 24, 16], numInitFeatures: 64, ...o });
/** torchvision densenet169. */
export const densenet169 = (o: DenseNetOptions = {}) =>
  new DenseNet({ growthRate: 32, blockConfig: [6, 12, 32, 32], numInitFeatures: 64, ...o });
/** torchvision densenet201. */
export const densenet201 = (o: DenseNetOptions = {}) =>
  new DenseNet({ growthRate: 32, blockConfig: [6, 12, 48, 32], numInitFeatures: 64, ...o });
