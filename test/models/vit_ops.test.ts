import { strict as assert } from "node:assert";
import * as tf from "@tensorflow/tfjs";
import { ATTENTION_GRAD_KERNEL, ATTENTION_KERNEL, nativeKernelReady } from "../../lib/backend/kernels";
import { nativeStatus } from "../../lib/backend/addon/loader";
import { createVit } from "../../lib/models/vit";
import { attention, type Block } from "../../lib/models/vit_blocks";
import { attentionQkvOp } from "../../lib/models/vit_attention_op";
import { LayerNorm, Linear } from "../../lib/nn/layers";
import type { Module } from "../../lib/nn/module";
import { getPeftModel } from "../../lib/peft/lora";
import { LoraLayer } from "../../lib/peft/lora/layer";
import { alsoWithoutNative, describeBackends } from "../helpers/backends";
import { compareWithReference, kernelCounts, randVar, tapeOf } from "../helpers/grad_check";

/** timm's attention core with elementary ops: qkv [B, T, 3D] → split → heads → SDPA → merge, [B, T, D]. */
function refAttention(qkv: tf.Tensor, heads: number, scale: number): tf.Tensor {
  const [b, t, d3] = qkv.shape;
  const dh = d3 / 3 / heads;
  const split = (s: tf.Tensor) => tf.transpose(s.reshape([b, t, heads, dh]), [0, 2, 1, 3]);
  const [q, k, v] = tf.split(qkv, 3, 2).map(split);
  const o = attention(q, k, v, scale);
  return tf.transpose(o, [0, 2, 1, 3]).reshape([b, t, d3 / 3]);
}

function refLinear(m: Module, x: tf.Tensor): tf.Tensor {
  const l = (m instanceof LoraLayer ? m.base : m) as Linear;
  const x2 = x.reshape([-1, l.inFeatures]) as tf.Tensor2D;
  let y = tf.matMul(x2, l.weight.variable as tf.Tensor2D);
  if (l.bias) y = tf.add(y, l.bias.variable);
  if (m instanceof LoraLayer) {
    const bw = m.bMask ? tf.mul(m.loraB.weight.variable, m.bMask) : m.loraB.weight.variable;
    const d = tf.matMul(tf.matMul(x2, m.loraA.weight.variable as tf.Tensor2D), bw as tf.Tensor2D);
    y = tf.add(y, tf.mul(d, m.scaling));
  }
  return y.reshape([...x.shape.slice(0, -1), l.outFeatures]);
}

function refLn(m: LayerNorm, x: tf.Tensor): tf.Tensor {
  const { mean, variance } = tf.moments(x, -1, true);
  const xhat = tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, m.eps)));
  return tf.add(tf.mul(xhat, m.weight.variable), m.bias.variable);
}

/** A pre-norm ViT block written with elementary ops only, on the block's own parameters. */
function refBlock(blk: Block, x: tf.Tensor): tf.Tensor {
  const a = blk.attn;
  const qkv = refLinear(a.qkv, refLn(blk.norm1, x));
  const y = tf.add(x, refLinear(a.proj, refAttention(qkv, a.numHeads, a.scale)));
  const mlp = blk.mlp as unknown as { fc1: Module; fc2: Module };
  const h = refLinear(mlp.fc1, refLn(blk.norm2, y));
  const g = tf.mul(tf.mul(0.5, h), tf.add(1, tf.erf(tf.mul(h, Math.SQRT1_2))));
  return tf.add(y, refLinear(mlp.fc2, g));
}

function tinyVit(lora: boolean) {
  const model = createVit({ imgSize: 16, patchSize: 8, embedDim: 24, depth: 2, numHeads: 3, numClasses: 4, seed: 3 });
  if (lora) {
    const lm = getPeftModel(model, { targetModules: ["qkv"], r: 4, loraAlpha: 8, initLoraWeights: false });
    assert.equal(lm.layers.size, 2);
  }
  model.train();
  return model;
}

const ATTN_CASES = [
  { name: "3 heads, T 7", shape: [2, 7, 3 * 24], heads: 3, recompute: false },
  { name: "2 heads, T 5, recomputed probabilities", shape: [1, 5, 3 * 16], heads: 2, recompute: true },
  { name: "Dh 5 and T 11 (no whole vectors)", shape: [3, 11, 3 * 10], heads: 2, recompute: false },
  { name: "one token", shape: [2, 1, 3 * 8], heads: 1, recompute: false },
  { name: "ViT-S heads, T 197 (split across threads)", shape: [2, 197, 3 * 384], heads: 6, recompute: false },
];

/** attentionQkvOp against the elementary ops on every case (on whichever engine is active). */
function attentionCases(): void {
  for (const c of ATTN_CASES) {
    it(`attentionQkvOp, ${c.name}: forward and gradient within 1e-5 (relative)`, () => {
      const qkv = randVar(c.shape, 5);
      const scale = (c.shape[2] / 3 / c.heads) ** -0.5;
      const r = compareWithReference(
        () => attentionQkvOp(qkv, c.heads, scale, { recompute: c.recompute }),
        () => refAttention(qkv, c.heads, scale),
        [qkv],
      );
      assert.deepEqual(r.missing, []);
      assert.ok(r.value < 1e-5, `forward rel diff ${r.value}`);
      assert.ok(r.grads[qkv.name] < 1e-5, `dqkv rel diff ${r.grads[qkv.name]}`);
      qkv.dispose();
    });
  }
}

describeBackends("ViT lean ops", (backend) => {
  const native = backend === "wasm" && nativeStatus().addon !== null;
  it("runs the native attention kernels exactly where the addon is in use", async () => {
    assert.equal(nativeKernelReady(ATTENTION_KERNEL), native);
    const qkv = randVar([2, 7, 3 * 24], 8);
    const counts = await kernelCounts(() => {
      tf.grad((x: tf.Tensor) => tf.sum(attentionQkvOp(x, 3, 0.3)))(qkv).dispose();
    });
    assert.equal(counts.get(ATTENTION_KERNEL) ?? 0, native ? 1 : 0);
    assert.equal(counts.get(ATTENTION_GRAD_KERNEL) ?? 0, native ? 1 : 0);
    qkv.dispose();
  });
  if (native) {
    it("inference (no gradient recorded) never forms the [B·H, T, T] probabilities as a tensor", async () => {
      // 12 heads of 32: P [B·12, T, T] is twice the size of qkv, so a peak below P's size cannot hold P.
      const [b, t, heads] = [2, 197, 12];
      const qkv = tf.randomNormal([b, t, 3 * 384]);
      const start = tf.memory().numBytes; // tf.profile's peakBytes counts every live tensor
      const info = await tf.profile(() => attentionQkvOp(qkv, heads, 0.125).dispose());
      const probsBytes = b * heads * t * t * 4;
      const peak = info.peakBytes - start;
      assert.ok(peak < probsBytes, `peak ${peak} B vs P ${probsBytes} B`);
      qkv.dispose();
    });
  }
  attentionCases();
  alsoWithoutNative(backend, "on composed tfjs ops", () => {
    it("the native kernels are not used", () => assert.equal(nativeKernelReady(ATTENTION_KERNEL), false));
    attentionCases();
  });

  const blockCases = [
    { name: "LoRA(qkv), frozen base", lora: true },
    { name: "full fine-tuning", lora: false },
  ];
  for (const c of blockCases) {
    it(`Block, ${c.name}: forward and gradients within 1e-5 (relative) of the elementary ops`, () => {
      const model = tinyVit(c.lora);
      const blk = model.blocks.at(0) as Block;
      const x = randVar([2, 5, 24], 6);
      const params = blk.namedParameters().filter(([, p]) => p.trainable);
      assert.equal(params.length, c.lora ? 2 : 12, params.map(([n]) => n).join(","));
      const r = compareWithReference(
        () => blk.forward(x),
        () => refBlock(blk, x),
        [x, ...params.map(([, p]) => p.variable)],
      );
      assert.deepEqual(r.missing, []);
      assert.ok(r.value < 1e-5, `forward rel diff ${r.value}`);
      for (const [k, v] of Object.entries(r.grads)) assert.ok(v < 1e-5, `d/d${k}: rel diff ${v}`);
      x.dispose();
      model.dispose();
    });
  }

  it("a LoRA block's tape keeps ≤ 1/3 of the bytes the elementary ops keep", () => {
    const model = tinyVit(true);
    const blk = model.blocks.at(0) as Block;
    const x = randVar([2, 5, 24], 7);
    const vars = [
      x,
      ...blk
        .namedParameters()
        .filter(([, p]) => p.trainable)
        .map(([, p]) => p.variable),
    ];
    const bytes = (f: () => tf.Tensor) =>
      tapeOf(f, vars).reduce((s, n) => s + n.savedSizes.reduce((a, b) => a + b, 0), 0);
    const lean = bytes(() => blk.forward(x));
    const naive = bytes(() => refBlock(blk, x));
    assert.ok(lean > 0 && lean * 3 <= naive, `lean ${lean} floats vs elementary ${naive}`);
    x.dispose();
    model.dispose();
  });
});
