/**
 * VGG (Simonyan & Zisserman 2015) from a torchvision cfg list (channel counts and "M" for max-pool), with or without
 * batch norm, in torchvision's names: `features.N`, `avgpool` (adaptive, 7×7), `classifier.{0,3,6}`. The flatten
 * before the classifier runs in torch's NCHW order, so `classifier.0.weight` loads unchanged.
 */
import * as tf from "@tensorflow/tfjs";
import { Activation, AdaptiveAvgPool2d, BatchNorm2d, Conv2d, Dropout, Flatten, Linear, MaxPool2d } from "../nn/layers";
import { Sequential } from "../nn/containers";
import type { Module } from "../nn/module";
import { SeedSequence } from "../nn/init";
import { ConfigError } from "../errors";
import { checkIntList, checkPositiveInt, CnnClassifier, initTorchvision, makeHead, withParams } from "./cnn_common";
import type { Stage } from "./types";

/** One entry of a VGG cfg: output channels of a 3×3 conv, or "M" for a 2×2 max-pool. */
export type VggCfgItem = number | "M";

/** torchvision's cfgs: A = vgg11, B = vgg13, D = vgg16, E = vgg19. */
export const VGG_CFGS: Record<"A" | "B" | "D" | "E", VggCfgItem[]> = {
  A: [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
  B: [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
  D: [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
  E: [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M"],
};

/** VGG options. */
export interface VggOptions {
  cfg: VggCfgItem[];
  /** Conv → BatchNorm → ReLU (vggNN_bn). Default false. */
  batchNorm?: boolean;
  /** Width of the two hidden classifier layers. Default 4096. */
  classifierHidden?: number;
  /** Dropout in the classifier. Default 0.5. */
  dropout?: number;
  /** Adaptive average pool output size before the classifier. Default [7, 7]. */
  adaptiveAvgpool?: [number, number];
  /** Output classes; 0 gives an Identity head. Default 1000. */
  numClasses?: number;
  inChans?: number;
  seed?: number;
}

/** The manifest / JSON form. */
export interface VggJson {
  cfg: VggCfgItem[];
  batch_norm?: boolean;
  classifier_hidden?: number;
  dropout?: number;
  adaptive_avgpool?: [number, number];
  num_classes?: number;
  in_chans?: number;
}

/** Converts the JSON form to options. */
export function vggOptionsFromJson(j: VggJson): VggOptions {
  return {
    cfg: j.cfg,
    batchNorm: j.batch_norm,
    classifierHidden: j.classifier_hidden,
    dropout: j.dropout,
    adaptiveAvgpool: j.adaptive_avgpool,
    numClasses: j.num_classes,
    inChans: j.in_chans,
  };
}

/** torchvision's VGG on NHWC input; pre-logits features are the output of classifier.5 (width classifierHidden). */
export class Vgg extends CnnClassifier {
  readonly arch = "vgg";
  readonly inChans: number;
  /** Indices into `features` of each conv group, split at every "M" (the pool closes the group). */
  private readonly groups: number[][];
  private readonly flatten = new Flatten(true);
  constructor(readonly options: VggOptions) {
    const o = validate(options);
    super(o.numClasses, o.classifierHidden, "classifier.6");
    this.inChans = o.inChans;
    const seeds = new SeedSequence(o.seed);
    const layers: Module[] = [];
    this.groups = [[]];
    let ch = o.inChans;
    const group = (m: Module) => {
      this.groups[this.groups.length - 1].push(layers.length);
      layers.push(m);
    };
    for (const v of o.cfg) {
      if (v === "M") {
        group(new MaxPool2d(2, 2));
        this.groups.push([]);
        continue;
      }
      group(new Conv2d(ch, v, 3, { padding: 1, seeds }));
      if (o.batchNorm) group(new BatchNorm2d(v));
      group(new Activation("relu"));
      ch = v;
    }
    const [ph, pw] = o.adaptiveAvgpool;
    const h = o.classifierHidden;
    this.registerModule("features", new Sequential(...layers));
    this.registerModule("avgpool", new AdaptiveAvgPool2d([ph, pw]));
    this.registerModule(
      "classifier",
      new Sequential(
        new Linear(ch * ph * pw, h, { seeds }),
        new Activation("relu"),
        new Dropout(o.dropout, seeds.next()),
        new Linear(h, h, { seeds }),
        new Activation("relu"),
        new Dropout(o.dropout, seeds.next()),
        makeHead(h, o.numClasses, seeds),
      ),
    );
    initTorchvision(this, { convMode: "fan_out", linearStd: 0.01, zeroLinearBias: true }, seeds);
  }

  forwardFeatures(x: tf.Tensor): tf.Tensor {
    this.checkInput(x, this.inChans);
    return tf.tidy(() => {
      let y = this.getSubmodule("avgpool").apply(this.getSubmodule("features").apply(x)); // [B, 7, 7, C]
      y = this.flatten.apply(y); // [B, C·7·7] in torch's (C, H, W) order
      for (const [name, m] of this.getSubmodule("classifier").children()) {
        if (name !== "6") y = m.apply(y); // classifier.0 … classifier.5
      }
      return y; // [B, classifierHidden]
    });
  }

  stages(): Stage[] {
    const out: Stage[] = [];
    this.groups.forEach((idx) => {
      const prefixes = withParams(
        this,
        idx.map((i) => `features.${i}`),
      );
      if (prefixes.length) out.push({ name: `features.${idx[0]}-${idx[idx.length - 1]}`, prefixes });
    });
    out.push({ name: "classifier.pre_logits", prefixes: ["classifier.0", "classifier.3"] });
    out.push({ name: "classifier.6", prefixes: ["classifier.6"] });
    return out;
  }
}

function validate(o: VggOptions) {
  if (!Array.isArray(o.cfg) || o.cfg.length === 0 || !o.cfg.some((v) => v !== "M")) {
    throw new ConfigError("VGG cfg must list at least one conv", {
      where: "VggOptions.cfg",
      expected: 'e.g. [64, "M", 128, "M"]',
      got: JSON.stringify(o.cfg),
    });
  }
  o.cfg.forEach((v, i) => {
    if (v !== "M") checkPositiveInt(v, `VggOptions.cfg[${i}]`);
  });
  const r = {
    cfg: o.cfg,
    batchNorm: o.batchNorm ?? false,
    classifierHidden: o.classifierHidden ?? 4096,
    dropout: o.dropout ?? 0.5,
    adaptiveAvgpool: o.adaptiveAvgpool ?? ([7, 7] as [number, number]),
    numClasses: o.numClasses ?? 1000,
    inChans: o.inChans ?? 3,
    seed: o.seed,
  };
  checkPositiveInt(r.classifierHidden, "VggOptions.classifierHidden");
  checkIntList(r.adaptiveAvgpool, "VggOptions.adaptiveAvgpool", 2);
  checkPositiveInt(r.inChans, "VggOptions.inChans");
  return r;
}

/** torchvision vgg11 / vgg11_bn. */
export const vgg11 = (o: Partial<VggOptions> = {}) => new Vgg({ cfg: VGG_CFGS.A, ...o });
/** torchvision vgg13 / vgg13_bn. */
export const vgg13 = (o: Partial<VggOptions> = {}) => new Vgg({ cfg: VGG_CFGS.B, ...o });
/** torchvision vgg16 / vgg16_bn. */
export const vgg16 = (o: Partial<VggOptions> = {}) => new Vgg({ cfg: VGG_CFGS.D, ...o });
/** torchvision vgg19 / vgg19_bn. */
export const vgg19 = (o: Partial<VggOptions> = {}) => new Vgg({ cfg: VGG_CFGS.E, ...o });
