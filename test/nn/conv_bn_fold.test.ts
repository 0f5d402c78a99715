/**
 * Sequential's inference-time conv → BatchNorm2d (eval) [→ ReLU/ReLU6] folding (lib/nn/conv_bn_fold.ts): equal to
 * running the layers one by one, used exactly when it is safe (BN in eval mode, no gradient recorded, plain apply).
 */
import { strict as assert } from "node:assert";
import * as tf from "@tensorflow/tfjs";
import { SamePadConv2d } from "../../lib/models/mobilenetv2";
import { ResNet } from "../../lib/models/resnet";
import { Activation, BatchNorm2d, Conv2d } from "../../lib/nn/layers";
import { Sequential } from "../../lib/nn/containers";
import type { Module } from "../../lib/nn/module";
import { describeBackends } from "../helpers/backends";
import { kernelCounts, randVar } from "../helpers/grad_check";

interface Case {
  name: string;
  x: number[];
  conv: () => Conv2d;
  act?: "relu" | "relu6" | "silu";
  /** The fused kernel folding runs. */
  kernel: string;
}

const CASES: Case[] = [
  {
    name: "3×3 s2 with conv bias, ReLU",
    x: [2, 9, 9, 3],
    conv: () => new Conv2d(3, 8, 3, { stride: 2, padding: 1 }),
    act: "relu",
    kernel: "FusedConv2D",
  },
  {
    name: "1×1 no bias, ReLU6",
    x: [2, 6, 6, 8],
    conv: () => new Conv2d(8, 24, 1, { bias: false }),
    act: "relu6",
    kernel: "FusedConv2D",
  },
  {
    name: "1×1 no activation (linear projection)",
    x: [1, 5, 5, 16],
    conv: () => new Conv2d(16, 8, 1, { bias: false }),
    kernel: "FusedConv2D",
  },
  {
    name: "depthwise 3×3, ReLU6",
    x: [2, 8, 8, 12],
    conv: () => new Conv2d(12, 12, 3, { groups: 12, padding: 1, bias: false }),
    act: "relu6",
    kernel: "FusedDepthwiseConv2D",
  },
  {
    name: "depthwise multiplier 2, with bias",
    x: [1, 7, 7, 4],
    conv: () => new Conv2d(4, 8, 3, { groups: 4, padding: 1 }),
    act: "relu",
    kernel: "FusedDepthwiseConv2D",
  },
  {
    name: "Keras 'same' padding, stride 2",
    x: [2, 8, 8, 3],
    conv: () => new SamePadConv2d(3, 6, 3, { stride: 2, bias: false }),
    act: "relu6",
    kernel: "FusedConv2D",
  },
  {
    name: "SiLU is applied after the folded conv",
    x: [1, 6, 6, 4],
    conv: () => new Conv2d(4, 4, 3, { padding: 1 }),
    act: "silu",
    kernel: "FusedConv2D",
  },
];

/** A Sequential(conv, bn[, act]) with random BN statistics and affine parameters, in eval mode. */
function block(c: Case): { seq: Sequential; layers: Module[] } {
  const conv = c.conv();
  const bn = new BatchNorm2d(conv.outChannels, { eps: 1e-3 });
  const n = conv.outChannels;
  bn.runningMean.assign(tf.randomNormal([n], 0, 1, "float32", 11));
  bn.runningVar.assign(tf.randomUniform([n], 0.2, 3, "float32", 12));
  bn.weight.variable.assign(tf.randomNormal([n], 1, 0.5, "float32", 13));
  bn.bias.variable.assign(tf.randomNormal([n], 0, 0.5, "float32", 14));
  const layers: Module[] = [conv, bn, ...(c.act ? [new Activation(c.act)] : [])];
  const seq = new Sequential(...layers);
  seq.eval();
  return { seq, layers };
}

/** The layers one by one (no folding). */
function unfused(layers: Module[], x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => layers.reduce((y, m) => m.forward(y), x));
}

describeBackends("conv → BatchNorm folding at inference", () => {
  for (const c of CASES) {
    it(`${c.name}: equals the unfused layers and runs ${c.kernel}`, async () => {
      const { seq, layers } = block(c);
      const x = randVar(c.x, 3);
      const want = unfused(layers, x);
      let got: tf.Tensor | undefined;
      const counts = await kernelCounts(() => {
        got = seq.forward(x);
      });
      assert.equal(counts.get(c.kernel), 1, `kernels: ${[...counts.keys()]}`);
      assert.ok(!counts.has("PeftlabChannelAffine") && !counts.has("BatchNorm"), `kernels: ${[...counts.keys()]}`);
      const g = got as tf.Tensor;
      assert.deepEqual(g.shape, want.shape);
      const scale = Math.max(1, tf.max(tf.abs(want)).dataSync()[0]);
      const diff = tf.max(tf.abs(tf.sub(g, want))).dataSync()[0];
      assert.ok(diff <= 2e-5 * scale, `max |Δ| ${diff} (scale ${scale})`);
      tf.dispose([x, want, g]);
      seq.dispose();
    });
  }

  const notFolded: [string, (seq: Sequential, x: tf.Variable) => tf.Tensor][] = [
    [
      "BN in training mode",
      (seq, x) => {
        seq.train();
        return seq.forward(x);
      },
    ],
    ["a gradient being recorded", (seq, x) => tf.grad((v: tf.Tensor) => tf.sum(seq.forward(v)))(x)],
    [
      "a wrapped apply (a hook must see its module's own output)",
      (seq, x) => {
        const bn = seq.layers[1];
        bn.apply = (t: tf.Tensor) => bn.forward(t);
        return seq.forward(x);
      },
    ],
  ];
  for (const [name, run] of notFolded) {
    it(`does not fold with ${name}`, async () => {
      const { seq } = block(CASES[1]);
      const x = randVar(CASES[1].x, 4);
      let y: tf.Tensor | undefined;
      const counts = await kernelCounts(() => {
        y = run(seq, x);
      });
      assert.ok(!counts.has("FusedConv2D"), `kernels: ${[...counts.keys()]}`);
      assert.ok(counts.has("Conv2D") || counts.has("Conv2DBackpropInput"), `kernels: ${[...counts.keys()]}`);
      tf.dispose([x, y as tf.Tensor]);
      seq.dispose();
    });
  }

  for (const block of ["basic", "bottleneck"] as const) {
    it(`a small ResNet (${block} blocks) in eval folds its conv → BN → ReLU chains and keeps its logits`, async () => {
      const model = new ResNet({ block, layers: [1, 1], widths: [8, 16], numClasses: 5, seed: 3 });
      const bns = model
        .namedModules()
        .map(([, m]) => m)
        .filter((m): m is BatchNorm2d => m instanceof BatchNorm2d);
      bns.forEach((bn, i) => {
        const n = bn.numFeatures;
        bn.runningMean.assign(tf.randomNormal([n], 0, 0.5, "float32", 20 + i));
        bn.runningVar.assign(tf.randomUniform([n], 0.5, 2, "float32", 40 + i));
      });
      model.eval();
      const x = tf.randomNormal([2, 32, 32, 3], 0, 1, "float32", 9);
      let folded: tf.Tensor | undefined;
      const counts = await kernelCounts(() => {
        folded = model.forward(x);
      });
      // Every conv is folded: no separate BatchNorm affine, and as many fused convs as BNs.
      assert.equal(counts.get("FusedConv2D"), bns.length, `kernels: ${[...counts.entries()]}`);
      assert.ok(!counts.has("PeftlabChannelAffine") && !counts.has("Conv2D"), `kernels: ${[...counts.keys()]}`);
      // Reference: the same model with folding off (a wrapped apply on every BN keeps the layers apart).
      bns.forEach((bn) => (bn.apply = (t: tf.Tensor) => bn.forward(t)));
      const plain = model.forward(x);
      const f = folded as tf.Tensor;
      const diff = tf.max(tf.abs(tf.sub(f, plain))).dataSync()[0];
      const scale = Math.max(1, tf.max(tf.abs(plain)).dataSync()[0]);
      assert.ok(diff <= 2e-5 * scale, `max |Δ| ${diff} (scale ${scale})`);
      tf.dispose([x, f, plain]);
      model.dispose();
    });
  }
});
