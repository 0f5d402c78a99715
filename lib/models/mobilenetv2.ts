/**
 * MobileNetV2 (Sandler et al. 2018) in torchvision's structure and names: `features.0.{0,1}` (conv-bn-relu6 stem),
 * inverted-residual blocks `features.N.conv.{0.0,0.1,1.0,1.1,2,3}` (the t=1 block has no expand conv:
 * `conv.{0.0,0.1,1,2}`), the last 1×1 conv `features.{last}.{0,1}`, and the head `classifier.1` after dropout.
 *
 * Two padding conventions, chosen by config and not by checkpoint:
 * - "torch": symmetric (k−1)/2 zero padding, as torchvision.
 * - "keras": TensorFlow's "same" padding, which is what Keras's `correct_pad` + ZeroPadding2D produce: a stride-2 3×3
 *   conv on an even-sized input pads one row/column at the bottom/right only. Keras also uses BN eps 1e-3 and momentum
 *   0.999 (torch momentum 0.001): set `bnEps` / `bnMomentum`.
 * Channel rounding follows torchvision's _make_divisible(c·width, 8); Keras rounds int(c·width) instead, which gives
 * the same channels for every published width (0.35, 0.5, 0.75, 1.0, 1.3, 1.4). The last conv keeps 1280 channels for
 * width ≤ 1, in both.
 */
import * as tf from "@tensorflow/tfjs";
import { Activation, BatchNorm2d, Conv2d, type Conv2dOptions, Dropout } from "../nn/layers";
import { Sequential } from "../nn/containers";
import type { FoldedActivation } from "../nn/conv_bn_fold";
import { Module } from "../nn/module";
import { SeedSequence } from "../nn/init";
import { ConfigError } from "../errors";
import { checkPositiveInt, CnnClassifier, initTorchvision, makeHead } from "./cnn_common";
import type { Stage } from "./types";

/** Padding convention of the convs. */
export type MobileNetPadding = "torch" | "keras";

/** One row of the inverted-residual setting: expansion t, output channels c, repeats n, first stride s. */
export type InvertedResidualRow = [t: number, c: number, n: number, s: number];

/** The paper's (and torchvision's / Keras's) setting. */
export const MOBILENETV2_SETTING: InvertedResidualRow[] = [
  [1, 16, 1, 1],
  [6, 24, 2, 2],
  [6, 32, 3, 2],
  [6, 64, 4, 2],
  [6, 96, 3, 1],
  [6, 160, 3, 2],
  [6, 320, 1, 1],
];

/** MobileNetV2 options; defaults are torchvision's mobilenet_v2. */
export interface MobileNetV2Options {
  /** Width multiplier (alpha). Default 1. */
  widthMult?: number;
  /** Output classes; 0 gives an Identity head. Default 1000. */
  numClasses?: number;
  /** Channel rounding divisor. Default 8. */
  roundNearest?: number;
  /** Default MOBILENETV2_SETTING. */
  invertedResidualSetting?: InvertedResidualRow[];
  /** Channels of the last 1×1 conv at width ≤ 1 (scaled up for width > 1). Default 1280. */
  lastChannel?: number;
  /** Dropout before the head. Default 0.2. */
  dropout?: number;
  /** "torch" (symmetric) or "keras" (TF "same") padding. Default "torch". */
  padding?: MobileNetPadding;
  /** BatchNorm eps: torch 1e-5 (default), Keras 1e-3. */
  bnEps?: number;
  /** BatchNorm momentum in torch's sense: torch 0.1 (default), Keras 0.001 (Keras's 0.999). */
  bnMomentum?: number;
  inChans?: number;
  seed?: number;
}

/** The JSON form. */
export interface MobileNetV2Json {
  width_mult?: number;
  num_classes?: number;
  round_nearest?: number;
  last_channel?: number;
  dropout?: number;
  padding?: MobileNetPadding;
  bn_eps?: number;
  bn_momentum?: number;
  in_chans?: number;
}

/** Converts the JSON form to options. */
export function mobilenetv2OptionsFromJson(j: MobileNetV2Json): MobileNetV2Options {
  return {
    widthMult: j.width_mult,
    numClasses: j.num_classes,
    roundNearest: j.round_nearest,
    lastChannel: j.last_channel,
    dropout: j.dropout,
    padding: j.padding,
    bnEps: j.bn_eps,
    bnMomentum: j.bn_momentum,
    inChans: j.in_chans,
  };
}

/** Rounds v to a multiple of `divisor`, never below it and never more than 10% below v (torchvision / Keras). */
export function makeDivisible(v: number, divisor: number, minValue = divisor): number {
  let n = Math.max(minValue, Math.floor((v + divisor / 2) / divisor) * divisor);
  if (n < 0.9 * v) n += divisor;
  return n;
}

/** A Conv2d that pads like TensorFlow's "same" (extra row/column at the bottom/right), then convolves "valid". */
export class SamePadConv2d extends Conv2d {
  constructor(inC: number, outC: number, k: number, opts: Omit<Conv2dOptions, "padding"> = {}) {
    super(inC, outC, k, { ...opts, padding: 0 });
  }
  override forward(x: tf.Tensor): tf.Tensor {
    const [, h, w] = x.shape;
    const ph = samePads(h, this.kernelSize, this.stride, this.dilation);
    const pw = samePads(w, this.kernelSize, this.stride, this.dilation);
    if (ph[0] + ph[1] + pw[0] + pw[1] === 0) return super.forward(x);
    return tf.tidy(() => super.forward(tf.pad(x, [[0, 0], ph, pw, [0, 0]]))); // [B, H', W', out]
  }
  override forwardWith(x: tf.Tensor, w: tf.Tensor4D, bias: tf.Tensor1D, activation: FoldedActivation): tf.Tensor {
    const [, h, wd] = x.shape;
    const ph = samePads(h, this.kernelSize, this.stride, this.dilation);
    const pw = samePads(wd, this.kernelSize, this.stride, this.dilation);
    if (ph[0] + ph[1] + pw[0] + pw[1] === 0) return super.forwardWith(x, w, bias, activation);
    return tf.tidy(() => super.forwardWith(tf.pad(x, [[0, 0], ph, pw, [0, 0]]), w, bias, activation)); // [B, H', W', out]
  }
}

/** TF "same" padding (before, after) along one axis. */
function samePads(size: number, k: number, stride: number, dilation: number): [number, number] {
  const eff = (k - 1) * dilation + 1;
  const total = Math.max(size % stride === 0 ? eff - stride : eff - (size % stride), 0);
  const before = Math.floor(total / 2);
  return [before, total - before];
}

interface BuildCtx {
  padding: MobileNetPadding;
  bn: { eps: number; momentum: number };
  seeds: SeedSequence;
}

function conv(c: BuildCtx, inC: number, outC: number, k: number, stride = 1, groups = 1): Conv2d {
  const opts = { stride, groups, bias: false, seeds: c.seeds };
  return c.padding === "keras"
    ? new SamePadConv2d(inC, outC, k, opts)
    : new Conv2d(inC, outC, k, { ...opts, padding: (k - 1) >> 1 });
}

/** torchvision's Conv2dNormActivation with ReLU6: children 0 (conv), 1 (bn), 2 (relu6). */
function convBnRelu6(c: BuildCtx, inC: number, outC: number, k: number, stride = 1, groups = 1): Sequential {
  return new Sequential(conv(c, inC, outC, k, stride, groups), new BatchNorm2d(outC, c.bn), new Activation("relu6"));
}

/** Expand 1×1 (skipped when t = 1), depthwise 3×3, linear project 1×1; residual when shapes allow. */
export class InvertedResidual extends Module {
  readonly useResidual: boolean;
  constructor(c: BuildCtx, inC: number, outC: number, stride: number, expandRatio: number) {
    super();
    const hidden = Math.round(inC * expandRatio);
    this.useResidual = stride === 1 && inC === outC;
    const layers: Module[] = [];
    if (expandRatio !== 1) layers.push(convBnRelu6(c, inC, hidden, 1));
    layers.push(convBnRelu6(c, hidden, hidden, 3, stride, hidden));
    layers.push(conv(c, hidden, outC, 1), new BatchNorm2d(outC, c.bn));
    this.registerModule("conv", new Sequential(...layers));
  }
  forward(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      const y = this.getSubmodule("conv").apply(x); // [B, H/s, W/s, out]
      return this.useResidual ? tf.add(x, y) : y;
    });
  }
}

/** torchvision's MobileNetV2 on NHWC input (Keras-compatible with padding "keras", bnEps 1e-3). */
export class MobileNetV2 extends CnnClassifier {
  readonly arch = "mobilenetv2";
  readonly inChans: number;
  /** Index of the last 1×1 conv in `features`. */
  readonly lastIndex: number;
  constructor(readonly options: MobileNetV2Options = {}) {
    const o = validate(options);
    const lastChannel = makeDivisible(o.lastChannel * Math.max(1, o.widthMult), o.roundNearest);
    super(o.numClasses, lastChannel, "classifier.1");
    this.inChans = o.inChans;
    const c: BuildCtx = {
      padding: o.padding,
      bn: { eps: o.bnEps, momentum: o.bnMomentum },
      seeds: new SeedSequence(o.seed),
    };
    let inC = makeDivisible(32 * o.widthMult, o.roundNearest);
    const features: Module[] = [convBnRelu6(c, o.inChans, inC, 3, 2)];
    for (const [t, ch, n, s] of o.invertedResidualSetting) {
      const outC = makeDivisible(ch * o.widthMult, o.roundNearest);
      for (let i = 0; i < n; i++) {
        features.push(new InvertedResidual(c, inC, outC, i === 0 ? s : 1, t));
        inC = outC;
      }
    }
    features.push(convBnRelu6(c, inC, lastChannel, 1));
    this.lastIndex = features.length - 1;
    this.registerModule("features", new Sequential(...features));
    this.registerModule(
      "classifier",
      new Sequential(new Dropout(o.dropout, c.seeds.next()), makeHead(lastChannel, o.numClasses, c.seeds)),
    );
    initTorchvision(this, { convMode: "fan_out", linearStd: 0.01, zeroLinearBias: true }, c.seeds);
  }

  forwardFeatures(x: tf.Tensor): tf.Tensor {
    this.checkInput(x, this.inChans);
    return tf.tidy(() => tf.mean(this.getSubmodule("features").apply(x), [1, 2])); // [B, lastChannel]
  }

  /** Dropout (classifier.0) then the head (classifier.1). */
  override forwardHead(features: tf.Tensor): tf.Tensor {
    return tf.tidy(() => super.forwardHead(this.getSubmodule("classifier.0").apply(features)));
  }

  stages(): Stage[] {
    const out: Stage[] = [{ name: "stem", prefixes: ["features.0"] }];
    // One stage per inverted-residual block, then the last 1×1 conv.
    for (let i = 1; i <= this.lastIndex; i++) out.push({ name: `features.${i}`, prefixes: [`features.${i}`] });
    out.push({ name: "classifier.1", prefixes: ["classifier.1"] });
    return out;
  }
}

function validate(o: MobileNetV2Options) {
  const r = {
    widthMult: o.widthMult ?? 1,
    numClasses: o.numClasses ?? 1000,
    roundNearest: o.roundNearest ?? 8,
    invertedResidualSetting: o.invertedResidualSetting ?? MOBILENETV2_SETTING,
    lastChannel: o.lastChannel ?? 1280,
    dropout: o.dropout ?? 0.2,
    padding: o.padding ?? "torch",
    bnEps: o.bnEps ?? 1e-5,
    bnMomentum: o.bnMomentum ?? 0.1,
    inChans: o.inChans ?? 3,
    seed: o.seed,
  };
  if (!(r.widthMult > 0)) {
    throw new ConfigError("widthMult must be positive", {
      where: "MobileNetV2Options.widthMult",
      expected: "> 0",
      got: String(r.widthMult),
    });
  }
  if (r.padding !== "torch" && r.padding !== "keras") {
    throw new ConfigError("Unknown padding convention", {
      where: "MobileNetV2Options.padding",
      expected: '"torch" or "keras"',
      got: JSON.stringify(r.padding),
    });
  }
  if (!(r.bnEps > 0) || !(r.bnMomentum >= 0 && r.bnMomentum <= 1)) {
    throw new ConfigError("BatchNorm settings out of range", {
      where: "MobileNetV2Options.bnEps / bnMomentum",
      expected: "eps > 0, 0 ≤ momentum ≤ 1 (torch's sense: Keras momentum 0.999 is 0.001 here)",
      got: `eps ${r.bnEps}, momentum ${r.bnMomentum}`,
    });
  }
  if (!Array.isArray(r.invertedResidualSetting) || r.invertedResidualSetting.some((row) => row.length !== 4)) {
    throw new ConfigError("invertedResidualSetting must be rows of [t, c, n, s]", {
      where: "MobileNetV2Options.invertedResidualSetting",
      expected: "a non-empty list of 4-element rows",
      got: JSON.stringify(r.invertedResidualSetting),
    });
  }
  r.invertedResidualSetting.forEach((row, i) =>
    row.forEach((v, j) => checkPositiveInt(v, `invertedResidualSetting[${i}][${j}]`)),
  );
  checkPositiveInt(r.roundNearest, "MobileNetV2Options.roundNearest");
  checkPositiveInt(r.lastChannel, "MobileNetV2Options.lastChannel");
  checkPositiveInt(r.inChans, "MobileNetV2Options.inChans");
  return r;
}

/** torchvision mobilenet_v2 (width 1.0 unless given). */
export const mobilenetV2 = (o: MobileNetV2Options = {}) => new MobileNetV2(o);
