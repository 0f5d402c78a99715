/**
 * Core layers with PyTorch semantics and torchvision/timm parameter names, computing on NHWC / [..., D] tensors.
 */
import * as tf from "@tensorflow/tfjs";
import { ConfigError, ShapeError } from "../errors";
import { batchNorm2d } from "./batch_norm";
import type { FoldedActivation } from "./conv_bn_fold";
import { geluErfOp } from "./gelu_op";
import { layerNormOp } from "./layer_norm_op";
import { Module } from "./module";
import { leanRelu } from "./relu";
import { type SeedSequence, uniform } from "./init";

/** y = x·Wᵀ + b over the last axis; weight stored tfjs-style [in, out], saved as torch [out, in]. */
export class Linear extends Module {
  readonly weight;
  readonly bias;
  constructor(
    readonly inFeatures: number,
    readonly outFeatures: number,
    opts: { bias?: boolean; seeds?: SeedSequence } = {},
  ) {
    super();
    const bound = 1 / Math.sqrt(inFeatures);
    this.weight = this.registerParameter("weight", uniform([inFeatures, outFeatures], bound, opts.seeds), "linear");
    this.bias =
      opts.bias === false ? undefined : this.registerParameter("bias", uniform([outFeatures], bound, opts.seeds));
  }
  forward(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      const lead = x.shape.slice(0, -1);
      const x2 = x.reshape([-1, this.inFeatures]); // [N, in]
      const y = tf.fused.matMul({
        a: x2 as tf.Tensor2D,
        b: this.weight.variable as tf.Tensor2D,
        bias: this.bias?.variable,
      });
      return y.reshape([...lead, this.outFeatures]); // [..., out]
    });
  }
}

/** Conv2d options in PyTorch's terms. */
export interface Conv2dOptions {
  stride?: number;
  padding?: number;
  groups?: number;
  bias?: boolean;
  dilation?: number;
  seeds?: SeedSequence;
}

/** 2-D convolution on NHWC input with PyTorch's symmetric integer padding; grouped and depthwise supported. */
export class Conv2d extends Module {
  readonly weight;
  readonly bias;
  readonly stride: number;
  readonly padding: number;
  readonly groups: number;
  readonly dilation: number;
  readonly depthwise: boolean;
  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    readonly kernelSize: number,
    opts: Conv2dOptions = {},
  ) {
    super();
    this.stride = opts.stride ?? 1;
    this.padding = opts.padding ?? 0;
    this.groups = opts.groups ?? 1;
    this.dilation = opts.dilation ?? 1;
    if (inChannels % this.groups !== 0 || outChannels % this.groups !== 0) {
      throw new ConfigError("Conv2d channels must be divisible by groups", {
        where: "Conv2d",
        expected: `in (${inChannels}) and out (${outChannels}) divisible by groups`,
        got: `groups=${this.groups}`,
      });
    }
    this.depthwise = this.groups > 1 && this.groups === inChannels;
    const k = kernelSize;
    const bound = 1 / Math.sqrt((inChannels / this.groups) * k * k);
    const shape = this.depthwise
      ? [k, k, inChannels, outChannels / inChannels]
      : [k, k, inChannels / this.groups, outChannels];
    this.weight = this.registerParameter(
      "weight",
      uniform(shape, bound, opts.seeds),
      this.depthwise ? "depthwise" : "conv2d",
    );
    this.bias =
      opts.bias === false ? undefined : this.registerParameter("bias", uniform([outChannels], bound, opts.seeds));
  }
  forward(x: tf.Tensor): tf.Tensor {
    if (x.rank !== 4) {
      throw new ShapeError("Conv2d expects NHWC input", {
        where: "Conv2d.forward",
        expected: "rank 4",
        got: `[${x.shape}]`,
      });
    }
    return tf.tidy(() => {
      const x4 = x as tf.Tensor4D;
      const pad = this.padding === 0 ? "valid" : this.padding;
      const w = this.weight.variable as tf.Tensor4D;
      let y: tf.Tensor4D;
      if (this.groups === 1) {
        y = tf.conv2d(x4, w, this.stride, pad, "NHWC", this.dilation) as tf.Tensor4D;
      } else if (this.depthwise) {
        y = tf.depthwiseConv2d(x4, w, this.stride, pad, "NHWC", this.dilation) as tf.Tensor4D;
      } else {
        const xs = tf.split(x4, this.groups, 3) as tf.Tensor4D[]; // g × [B, H, W, in/g]
        const ws = tf.split(w, this.groups, 3) as tf.Tensor4D[]; // g × [k, k, in/g, out/g]
        y = tf.concat(
          xs.map((xi, i) => tf.conv2d(xi, ws[i], this.stride, pad, "NHWC", this.dilation)),
          3,
        );
      }
      return this.bias ? tf.add(y, this.bias.variable) : y; // [B, H', W', out]
    });
  }
  /** The conv (groups 1 or depthwise) with explicit weights, a bias and a fused activation (BN folding). */
  forwardWith(x: tf.Tensor, w: tf.Tensor4D, bias: tf.Tensor1D, activation: FoldedActivation): tf.Tensor {
    const pad: number | "valid" = this.padding === 0 ? "valid" : this.padding;
    const args = {
      x: x as tf.Tensor4D,
      filter: w,
      strides: this.stride,
      pad,
      dilations: this.dilation,
      bias,
      activation,
    };
    return this.depthwise ? tf.fused.depthwiseConv2d(args) : tf.fused.conv2d(args); // [B, H', W', out]
  }
}

/** BatchNorm2d with PyTorch semantics: biased batch variance to normalise, unbiased to update running stats. */
export class BatchNorm2d extends Module {
  readonly weight;
  readonly bias;
  readonly runningMean: tf.Variable;
  readonly runningVar: tf.Variable;
  readonly numBatchesTracked: tf.Variable;
  constructor(
    readonly numFeatures: number,
    readonly opts: { eps?: number; momentum?: number } = {},
  ) {
    super();
    this.weight = this.registerParameter("weight", tf.ones([numFeatures]));
    this.bias = this.registerParameter("bias", tf.zeros([numFeatures]));
    this.runningMean = this.registerBuffer("running_mean", tf.zeros([numFeatures]));
    this.runningVar = this.registerBuffer("running_var", tf.ones([numFeatures]));
    this.numBatchesTracked = this.registerBuffer("num_batches_tracked", tf.scalar(0, "int32"), { torchDtype: "int64" });
  }
  get eps(): number {
    return this.opts.eps ?? 1e-5;
  }
  get momentum(): number {
    return this.opts.momentum ?? 0.1;
  }
  forward(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      // One recorded op per layer (lib/nn/batch_norm.ts): the elementary-op version kept ~5 full-size tensors per
      // layer on the tape, which made CNN training on wasm run out of its 4 GB heap at batch 32.
      const r = batchNorm2d(x, this.weight.variable as tf.Tensor1D, this.bias.variable as tf.Tensor1D, {
        training: this.training,
        eps: this.eps,
        runningMean: this.runningMean,
        runningVar: this.runningVar,
        affineTrainable: this.weight.trainable || this.bias.trainable,
      });
      if (r.batchMean && r.batchVar) {
        const n = x.size / this.numFeatures;
        const mom = this.momentum;
        this.runningMean.assign(tf.add(tf.mul(this.runningMean, 1 - mom), tf.mul(r.batchMean, mom)));
        this.runningVar.assign(
          tf.add(tf.mul(this.runningVar, 1 - mom), tf.mul(r.batchVar, (mom * n) / Math.max(n - 1, 1))),
        );
        this.numBatchesTracked.assign(tf.add(this.numBatchesTracked, tf.scalar(1, "int32")));
        tf.dispose([r.batchMean, r.batchVar]);
      }
      return r.y;
    });
  }
}

/** LayerNorm over the last axis with a configurable eps (timm uses 1e-6, HF ViT 1e-12). */
export class LayerNorm extends Module {
  readonly weight;
  readonly bias;
  constructor(
    readonly dim: number,
    readonly eps = 1e-5,
  ) {
    super();
    this.weight = this.registerParameter("weight", tf.ones([dim]));
    this.bias = this.registerParameter("bias", tf.zeros([dim]));
  }
  forward(x: tf.Tensor): tf.Tensor {
    // One recorded op keeping x̂ and 1/σ (lib/nn/layer_norm_op.ts); frozen γ/β get no gradient work.
    const grads = { gamma: this.weight.trainable, beta: this.bias.trainable };
    return layerNormOp(x, this.weight.variable, this.bias.variable, this.eps, grads);
  }
}

/** GELU, exact (erf) by default as in PyTorch, or the tanh approximation. */
export class GELU extends Module {
  constructor(readonly approximate: "none" | "tanh" = "none") {
    super();
  }
  forward(x: tf.Tensor): tf.Tensor {
    return gelu(x, this.approximate);
  }
}

/** Functional GELU. */
export function gelu(x: tf.Tensor, approximate: "none" | "tanh" = "none"): tf.Tensor {
  return tf.tidy(() => {
    if (approximate === "tanh") {
      const inner = tf.mul(Math.sqrt(2 / Math.PI), tf.add(x, tf.mul(0.044715, tf.pow(x, 3))));
      return tf.mul(tf.mul(0.5, x), tf.add(1, tf.tanh(inner)));
    }
    return geluErfOp(x); // one recorded op that keeps only x (lib/nn/gelu_op.ts)
  });
}

/** Element-wise activations by name. */
export class Activation extends Module {
  constructor(readonly kind: "relu" | "relu6" | "silu" | "sigmoid" | "tanh") {
    super();
  }
  forward(x: tf.Tensor): tf.Tensor {
    switch (this.kind) {
      case "relu":
        return leanRelu(x, false);
      case "relu6":
        return leanRelu(x, true);
      case "silu":
        return tf.tidy(() => tf.mul(x, tf.sigmoid(x)));
      case "sigmoid":
        return tf.sigmoid(x);
      case "tanh":
        return tf.tanh(x);
    }
  }
  override get typeName(): string {
    return this.kind === "relu" ? "ReLU" : this.kind === "relu6" ? "ReLU6" : this.kind === "silu" ? "SiLU" : this.kind;
  }
}

/** Inverted dropout active only in training; seeded per call so runs are reproducible and resumable. */
export class Dropout extends Module {
  /** Number of forward calls so far; part of the RNG state a checkpoint saves. */
  calls = 0;
  constructor(
    readonly p = 0.5,
    public seed = 0,
  ) {
    super();
    if (p < 0 || p >= 1)
      throw new ConfigError("Dropout probability out of range", { expected: "0 ≤ p < 1", got: `${p}` });
  }
  forward(x: tf.Tensor): tf.Tensor {
    if (!this.training || this.p === 0) return x;
    const s = (this.seed * 1000003 + this.calls++) % 2147483647;
    return tf.dropout(x, this.p, undefined, s);
  }
}

/** Returns its input. */
export class Identity extends Module {
  forward(x: tf.Tensor): tf.Tensor {
    return x;
  }
}

/** Max pooling with PyTorch's integer padding (padded cells never win). */
export class MaxPool2d extends Module {
  constructor(
    readonly kernelSize: number,
    readonly stride = kernelSize,
    readonly padding = 0,
  ) {
    super();
  }
  forward(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      const xp =
        this.padding > 0
          ? tf.pad(
              x,
              [
                [0, 0],
                [this.padding, this.padding],
                [this.padding, this.padding],
                [0, 0],
              ],
              -3.4e38,
            )
          : x;
      return tf.maxPool(xp as tf.Tensor4D, this.kernelSize, this.stride, "valid");
    });
  }
}

/** Average pooling without padding (torchvision's DenseNet transitions and the like). */
export class AvgPool2d extends Module {
  constructor(
    readonly kernelSize: number,
    readonly stride = kernelSize,
  ) {
    super();
  }
  forward(x: tf.Tensor): tf.Tensor {
    return tf.avgPool(x as tf.Tensor4D, this.kernelSize, this.stride, "valid");
  }
}

/** Adaptive average pooling with PyTorch's bin edges: start = ⌊i·H/out⌋, end = ⌈(i+1)·H/out⌉. */
export class AdaptiveAvgPool2d extends Module {
  constructor(readonly outputSize: [number, number] | number) {
    super();
  }
  forward(x: tf.Tensor): tf.Tensor {
    const [oh, ow] = typeof this.outputSize === "number" ? [this.outputSize, this.outputSize] : this.outputSize;
    const [b, h, w, c] = x.shape;
    if (oh === 1 && ow === 1) return tf.mean(x, [1, 2], true); // [B, 1, 1, C]
    return tf.tidy(() => {
      const ph = poolMatrix(oh, h); // [oh, H]
      const pw = poolMatrix(ow, w); // [ow, W]
      // Pool H: [oh, H] × [H, B·W·C]
      const xh = tf.transpose(x, [1, 0, 2, 3]).reshape([h, b * w * c]);
      const yh = tf.matMul(ph, xh).reshape([oh, b, w, c]);
      // Pool W: [ow, W] × [W, oh·B·C]
      const xw = tf.transpose(yh, [2, 0, 1, 3]).reshape([w, oh * b * c]);
      const yw = tf.matMul(pw, xw).reshape([ow, oh, b, c]);
      return tf.transpose(yw, [2, 1, 0, 3]); // [B, oh, ow, C]
    });
  }
}

function poolMatrix(out: number, inp: number): tf.Tensor2D {
  const m = new Float32Array(out * inp);
  for (let i = 0; i < out; i++) {
    const s = Math.floor((i * inp) / out);
    const e = Math.ceil(((i + 1) * inp) / out);
    for (let j = s; j < e; j++) m[i * inp + j] = 1 / (e - s);
  }
  return tf.tensor2d(m, [out, inp]);
}

/** Flattens [B, ...] to [B, N]; `channelsFirst` flattens NHWC in NCHW order, as torch's x.view(B, -1) does. */
export class Flatten extends Module {
  constructor(readonly channelsFirst = true) {
    super();
  }
  forward(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      const t = this.channelsFirst && x.rank === 4 ? tf.transpose(x, [0, 3, 1, 2]) : x;
      return t.reshape([x.shape[0], -1]);
    });
  }
}
