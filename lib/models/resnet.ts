/**
 * ResNet (He et al. 2016) in torchvision's structure and parameter names (`conv1`, `bn1`, `layer1.0.conv1`,
 * `layer2.0.downsample.{0,1}`, `fc`), computing on NHWC. Bottleneck blocks put the stride on the 3×3 conv
 * (torchvision's "v1.5"). Any number of stages, widths and depths, so resnet18/34/50 and small test models alike.
 */
import * as tf from "@tensorflow/tfjs";
import { Activation, BatchNorm2d, Conv2d, MaxPool2d } from "../nn/layers";
import { runChain, Sequential } from "../nn/containers";
import { Module } from "../nn/module";
import { SeedSequence } from "../nn/init";
import { checkIntList, checkPositiveInt, CnnClassifier, initTorchvision, makeHead } from "./cnn_common";
import type { Stage } from "./types";
import { ConfigError } from "../errors";

/** ResNet options (camelCase runtime config). */
export interface ResNetOptions {
  /** "basic" (resnet18/34) or "bottleneck" (resnet50/101/152). */
  block: "basic" | "bottleneck";
  /** Blocks per stage, e.g. [2, 2, 2, 2] for resnet18. */
  layers: number[];
  /** Planes per stage (before the bottleneck's ×4 expansion); the stem has widths[0] channels. Default [64, 128, 256, 512]. */
  widths?: number[];
  /** Output classes; 0 gives an Identity head. Default 1000. */
  numClasses?: number;
  /** Input channels. Default 3. */
  inChans?: number;
  /** Grouped 3×3 convs in bottlenecks (ResNeXt). Default 1. */
  groups?: number;
  /** Bottleneck width per group (wide_resnet uses 128). Default 64. */
  widthPerGroup?: number;
  /** Seed for the from-scratch initialisation. */
  seed?: number;
}

/** The manifest / JSON form (snake_case, as in shared/fixtures/reference/manifest.json). */
export interface ResNetJson {
  block: "basic" | "bottleneck";
  layers: number[];
  widths?: number[];
  num_classes?: number;
  in_chans?: number;
  groups?: number;
  width_per_group?: number;
}

/** Converts the JSON form to options. */
export function resnetOptionsFromJson(j: ResNetJson): ResNetOptions {
  return {
    block: j.block,
    layers: j.layers,
    widths: j.widths,
    numClasses: j.num_classes,
    inChans: j.in_chans,
    groups: j.groups,
    widthPerGroup: j.width_per_group,
  };
}

interface BlockArgs {
  inplanes: number;
  planes: number;
  stride: number;
  groups: number;
  widthPerGroup: number;
  seeds: SeedSequence;
}

/** Two 3×3 convs with an identity (or 1×1 projection) shortcut. */
export class BasicBlock extends Module {
  static readonly expansion = 1;
  readonly conv1;
  readonly bn1;
  readonly relu;
  readonly conv2;
  readonly bn2;
  readonly downsample?: Module;
  constructor(a: BlockArgs) {
    super();
    const s = a.seeds;
    this.conv1 = this.registerModule(
      "conv1",
      new Conv2d(a.inplanes, a.planes, 3, { stride: a.stride, padding: 1, bias: false, seeds: s }),
    );
    this.bn1 = this.registerModule("bn1", new BatchNorm2d(a.planes));
    this.relu = this.registerModule("relu", new Activation("relu"));
    this.conv2 = this.registerModule("conv2", new Conv2d(a.planes, a.planes, 3, { padding: 1, bias: false, seeds: s }));
    this.bn2 = this.registerModule("bn2", new BatchNorm2d(a.planes));
    if (a.stride !== 1 || a.inplanes !== a.planes) {
      this.downsample = this.registerModule("downsample", projection(a.inplanes, a.planes, a.stride, s));
    }
  }
  forward(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      const c = (n: string) => this.getSubmodule(n);
      // runChain folds conv → BN → ReLU into one fused conv at inference.
      let y = runChain([c("conv1"), c("bn1"), c("relu")], x); // [B, H/s, W/s, planes]
      y = runChain([c("conv2"), c("bn2")], y); // [B, H/s, W/s, planes]
      const identity = this.downsample ? c("downsample").apply(x) : x;
      return tf.relu(tf.add(y, identity));
    });
  }
}

/** 1×1 reduce, 3×3 (strided, grouped), 1×1 expand ×4, with an identity (or projection) shortcut. */
export class Bottleneck extends Module {
  static readonly expansion = 4;
  readonly downsample?: Module;
  constructor(a: BlockArgs) {
    super();
    const s = a.seeds;
    const width = Math.floor(a.planes * (a.widthPerGroup / 64)) * a.groups;
    const out = a.planes * Bottleneck.expansion;
    this.registerModule("conv1", new Conv2d(a.inplanes, width, 1, { bias: false, seeds: s }));
    this.registerModule("bn1", new BatchNorm2d(width));
    this.registerModule(
      "conv2",
      new Conv2d(width, width, 3, { stride: a.stride, padding: 1, groups: a.groups, bias: false, seeds: s }),
    );
    this.registerModule("bn2", new BatchNorm2d(width));
    this.registerModule("conv3", new Conv2d(width, out, 1, { bias: false, seeds: s }));
    this.registerModule("bn3", new BatchNorm2d(out));
    this.registerModule("relu", new Activation("relu"));
    if (a.stride !== 1 || a.inplanes !== out) {
      this.downsample = this.registerModule("downsample", projection(a.inplanes, out, a.stride, s));
    }
  }
  forward(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      const c = (n: string) => this.getSubmodule(n);
      const relu = c("relu");
      // runChain folds conv → BN [→ ReLU] into one fused conv at inference.
      let y = runChain([c("conv1"), c("bn1"), relu], x); // [B, H, W, width]
      y = runChain([c("conv2"), c("bn2"), relu], y); // [B, H/s, W/s, width]
      y = runChain([c("conv3"), c("bn3")], y); // [B, H/s, W/s, 4·planes]
      const identity = this.downsample ? c("downsample").apply(x) : x;
      return tf.relu(tf.add(y, identity));
    });
  }
}

function projection(inC: number, outC: number, stride: number, seeds: SeedSequence): Sequential {
  return new Sequential(new Conv2d(inC, outC, 1, { stride, bias: false, seeds }), new BatchNorm2d(outC));
}

/** torchvision's ResNet on NHWC input. */
export class ResNet extends CnnClassifier {
  readonly arch = "resnet";
  readonly inChans: number;
  readonly numStages: number;
  constructor(readonly options: ResNetOptions) {
    const o = validate(options);
    const expansion = o.block === "basic" ? BasicBlock.expansion : Bottleneck.expansion;
    super(o.numClasses, o.widths[o.widths.length - 1] * expansion, "fc");
    this.inChans = o.inChans;
    this.numStages = o.layers.length;
    const seeds = new SeedSequence(o.seed);
    const Block = o.block === "basic" ? BasicBlock : Bottleneck;
    let inplanes = o.widths[0];
    this.registerModule("conv1", new Conv2d(o.inChans, inplanes, 7, { stride: 2, padding: 3, bias: false, seeds }));
    this.registerModule("bn1", new BatchNorm2d(inplanes));
    this.registerModule("relu", new Activation("relu"));
    this.registerModule("maxpool", new MaxPool2d(3, 2, 1));
    o.layers.forEach((depth, i) => {
      const blocks: Module[] = [];
      for (let b = 0; b < depth; b++) {
        const stride = b === 0 && i > 0 ? 2 : 1;
        blocks.push(
          new Block({ inplanes, planes: o.widths[i], stride, groups: o.groups, widthPerGroup: o.widthPerGroup, seeds }),
        );
        inplanes = o.widths[i] * expansion;
      }
      this.registerModule(`layer${i + 1}`, new Sequential(...blocks));
    });
    this.registerModule("fc", makeHead(this.numFeatures, o.numClasses, seeds));
    initTorchvision(this, { convMode: "fan_out" }, seeds);
  }

  forwardFeatures(x: tf.Tensor): tf.Tensor {
    this.checkInput(x, this.inChans);
    return tf.tidy(() => {
      const c = (n: string) => this.getSubmodule(n);
      let y = c("maxpool").apply(runChain([c("conv1"), c("bn1"), c("relu")], x)); // [B, H/4, W/4, widths[0]]
      for (let i = 1; i <= this.numStages; i++) y = c(`layer${i}`).apply(y);
      return tf.mean(y, [1, 2]); // [B, numFeatures]
    });
  }

  stages(): Stage[] {
    const out: Stage[] = [{ name: "stem", prefixes: ["conv1", "bn1"] }];
    for (let i = 1; i <= this.numStages; i++) out.push({ name: `layer${i}`, prefixes: [`layer${i}`] });
    out.push({ name: "fc", prefixes: ["fc"] });
    return out;
  }
}

function validate(o: ResNetOptions): Required<Omit<ResNetOptions, "seed">> & { seed?: number } {
  if (o.block !== "basic" && o.block !== "bottleneck") {
    throw new ConfigError("Unknown ResNet block", {
      where: "ResNetOptions.block",
      expected: '"basic" or "bottleneck"',
      got: JSON.stringify(o.block),
    });
  }
  checkIntList(o.layers, "ResNetOptions.layers");
  const widths = o.widths ?? [64, 128, 256, 512].slice(0, o.layers.length);
  checkIntList(widths, "ResNetOptions.widths", o.layers.length);
  const r = {
    ...o,
    widths,
    numClasses: o.numClasses ?? 1000,
    inChans: o.inChans ?? 3,
    groups: o.groups ?? 1,
    widthPerGroup: o.widthPerGroup ?? 64,
  };
  checkPositiveInt(r.inChans, "ResNetOptions.inChans");
  checkPositiveInt(r.groups, "ResNetOptions.groups");
  checkPositiveInt(r.widthPerGroup, "ResNetOptions.widthPerGroup");
  if (r.block === "basic" && (r.groups !== 1 || r.widthPerGroup !== 64)) {
    throw new ConfigError("BasicBlock only supports groups=1 and widthPerGroup=64", {
      where: "ResNetOptions",
      expected: "groups 1, widthPerGroup 64 with block 'basic'",
      got: `groups ${r.groups}, widthPerGroup ${r.widthPerGroup}`,
      fix: "use block 'bottleneck' for ResNeXt / wide ResNets",
    });
  }
  return r;
}

/** torchvision resnet18. */
export const resnet18 = (o: Partial<ResNetOptions> = {}) => new ResNet({ block: "basic", layers: [2, 2, 2, 2], ...o });
/** torchvision resnet34. */
export const resnet34 = (o: Partial<ResNetOptions> = {}) => new ResNet({ block: "basic", layers: [3, 4, 6, 3], ...o });
/** torchvision resnet50. */
export const resnet50 = (o: Partial<ResNetOptions> = {}) =>
  new ResNet({ block: "bottleneck", layers: [3, 4, 6, 3], ...o });
/** torchvision resnet101. */
export const resnet101 = (o: Partial<ResNetOptions> = {}) =>
  new ResNet({ block: "bottleneck", layers: [3, 4, 23, 3], ...o });
