/**
 * VisionTransformer behaviour beyond parity: bicubic pos-embed resampling (identity and a hand-checked case),
 * config validation, stages, head reset, drop path, the qkv hook, and gradients on every backend.
 */
import { strict as assert } from "node:assert";
import * as tf from "@tensorflow/tfjs";
import { ConfigError, ShapeError } from "../../lib/errors";
import { hostTensor } from "../../lib/io/host_tensor";
import { bicubicMatrix, resamplePosEmbed } from "../../lib/models/pos_embed";
import { VisionTransformer } from "../../lib/models/vit";
import { resolveVitConfig, type VitOptions } from "../../lib/models/vit_config";
import { describeBackends, maxAbsDiff } from "../helpers/backends";

const TINY: VitOptions = { imgSize: 32, patchSize: 8, embedDim: 32, depth: 2, numHeads: 4, numClasses: 5 };
// torch.nn.functional.interpolate([0, 1], size=4, mode="bicubic", align_corners=False) along one axis, worked by hand.
// src = (o + 0.5)/2 − 0.5 = −0.25, 0.25, 0.75, 1.25; taps floor(src)−1 … +2 clamped to [0, 1]; with A = −0.75,
// near(x) = (1.25x − 2.25)x² + 1 and far(x) = ((−0.75x + 3.75)x − 6)x + 3:
//   o=0: t=0.75, values 0,0,0,1 → far(1.25) = −0.10546875
//   o=1: t=0.25, values 0,0,1,1 → near(0.75) + far(1.75) = 0.26171875 − 0.03515625 = 0.2265625
//   o=2, o=3 by symmetry: 1 − 0.2265625 and 1 + 0.10546875.
const HAND = [-0.10546875, 0.2265625, 0.7734375, 1.10546875];

describe("pos_embed resampling (torch bicubic, align_corners=False)", () => {
  it("returns the input unchanged when the grid is unchanged", () => {
    const pos = hostTensor(
      Float32Array.from({ length: 5 * 3 }, (_, i) => i),
      [1, 5, 3],
    );
    assert.equal(resamplePosEmbed(pos, [2, 2], 1), pos);
  });

  it("matches the hand-worked 2×2 → 4×4 case and keeps prefix rows", () => {
    // One prefix row [7], then a 2×2 grid whose value is the column index (channel 0) and the row index (channel 1).
    const grid = [0, 0, 1, 0, 0, 1, 1, 1];
    const pos = hostTensor(Float32Array.from([7, 7, ...grid]), [1, 5, 2]);
    const out = resamplePosEmbed(pos, [4, 4], 1);
    assert.deepEqual(out.shape, [1, 17, 2]);
    const d = out.data as Float32Array;
    assert.deepEqual([d[0], d[1]], [7, 7]);
    for (let y = 0; y < 4; y++) {
      for (let x = 0; x < 4; x++) {
        const o = (1 + y * 4 + x) * 2;
        assert.ok(Math.abs(d[o] - HAND[x]) < 1e-7, `col value at ${y},${x}: ${d[o]}`);
        assert.ok(Math.abs(d[o + 1] - HAND[y]) < 1e-7, `row value at ${y},${x}: ${d[o + 1]}`);
      }
    }
  });

  it("downsampling 5×5 → 3×3 matches torch 1.13's F.interpolate(bicubic, align_corners=False)", () => {
    // torch.manual_seed(0); g = torch.randn(1, 3, 5, 5); channel 0 in, the first 6 outputs of channel 0 out.
    const g = [
      -1.1258398294448853, -1.152360200881958, -0.2505785822868347, -0.4338788092136383, 0.8487103581428528,
      0.6920091509819031, -0.31601276993751526, -2.1152193546295166, 0.32227492332458496, -1.2633347511291504,
      0.34998318552970886, 0.30813392996788025, 0.11984150856733322, 1.237657904624939, 1.1167771816253662,
      -0.2472781538963318, -1.3526537418365479, -1.6959311962127686, 0.5666506290435791, 0.7935083508491516,
      0.5988394618034363, -1.5550950765609741, -0.3413603901863098, 1.85300612449646, 0.750189483165741,
    ];
    const torchOut = [
      -0.6549623012542725, -0.9617651700973511, -0.0025919415056705475, 0.34726911783218384, 0.11984150856733322,
      1.2169331312179565,
    ];
    const out = resamplePosEmbed(hostTensor(Float32Array.from(g), [1, 25, 1]), [3, 3], 0);
    const d = out.data as Float32Array;
    torchOut.forEach((v, i) => assert.ok(Math.abs(d[i] - v) < 1e-6, `${i}: ${d[i]} vs ${v}`));
  });

  it("interpolation rows sum to one (constants are preserved) when downsampling too", () => {
    for (const [i, o] of [
      [37, 16],
      [14, 16],
      [5, 3],
    ]) {
      const m = bicubicMatrix(i, o);
      for (let r = 0; r < o; r++) {
        const s = m.subarray(r * i, (r + 1) * i).reduce((a, b) => a + b, 0);
        assert.ok(Math.abs(s - 1) < 1e-12);
      }
    }
  });
});

describe("VitConfig validation", () => {
  const bad: [string, VitOptions][] = [
    ["embedDim not divisible by numHeads", { embedDim: 30, numHeads: 4 }],
    ["imgSize not a multiple of patchSize", { imgSize: 30, patchSize: 8 }],
    ["token pool without a class token", { classToken: false, globalPool: "token" }],
    ["unknown key", { reg_tokens: 4 } as unknown as VitOptions],
    ["drop rate out of range", { dropPathRate: 1 }],
  ];
  for (const [what, o] of bad) {
    it(`rejects ${what}`, () => assert.throws(() => resolveVitConfig(o), ConfigError));
  }
  it("derives timm's defaults: fc_norm from the pool, patch bias from pre_norm", () => {
    assert.equal(resolveVitConfig({ globalPool: "avg" }).fcNorm, null);
    assert.equal(resolveVitConfig({ preNorm: true }).patchBias, false);
  });
});

describeBackends("VisionTransformer", () => {
  it("names parameters like timm and splits them into disjoint stages", () => {
    const m = new VisionTransformer({ ...TINY, numRegTokens: 2, posEmbed: "patches", initValues: 0.1 });
    const names = m.namedParameters().map(([n]) => n);
    assert.deepEqual(names.slice(0, 5), [
      "cls_token",
      "reg_token",
      "pos_embed",
      "patch_embed.proj.weight",
      "patch_embed.proj.bias",
    ]);
    assert.ok(
      names.includes("blocks.1.ls2.gamma") &&
        names.includes("norm.weight") &&
        !names.some((n) => n.startsWith("fc_norm")),
    );
    const stages = m.stages();
    assert.deepEqual(
      stages.map((s) => s.name),
      ["patch_embed", "blocks.0", "blocks.1", "head"],
    );
    assert.deepEqual(m.blockNames(), ["blocks.0", "blocks.1"]);
    for (const n of names) {
      const owners = stages.filter((s) => s.prefixes.some((p) => n === p || n.startsWith(p + ".")));
      assert.equal(owners.length, 1, n);
    }
    m.dispose();
  });

  it("GAP + fc_norm: norm is Identity and fc_norm follows the average of the patch tokens", () => {
    const m = new VisionTransformer({ ...TINY, globalPool: "avg", fcNorm: true }).eval();
    const x = tf.randomNormal([2, 32, 32, 3], 0, 1, "float32", 1);
    const t = m.forwardTokens(x); // [2, 17, 32]
    const expect = m.fcNorm.apply(tf.mean(tf.slice(t, [0, 1, 0], [2, 16, 32]), 1));
    assert.ok(maxAbsDiff(m.forwardFeatures(x), expect) < 1e-6);
    assert.deepEqual(m.stages().at(-1)!.prefixes, ["fc_norm", "head"]);
    m.dispose();
  });

  it("token_avg (Virchow) features are concat(cls, mean of patch tokens without registers)", () => {
    const m = new VisionTransformer({
      ...TINY,
      globalPool: "token_avg",
      numRegTokens: 4,
      posEmbed: "patches",
      numClasses: 0,
    }).eval();
    const x = tf.randomNormal([2, 32, 32, 3], 0, 1, "float32", 2);
    const t = m.forwardTokens(x); // [2, 21, 32]
    const expect = tf.concat(
      [tf.slice(t, [0, 0, 0], [2, 1, 32]).reshape([2, 32]), tf.mean(tf.slice(t, [0, 5, 0], [2, 16, 32]), 1)],
      1,
    );
    assert.equal(m.numFeatures, 64);
    assert.ok(maxAbsDiff(m.apply(x), expect) < 1e-6);
    m.dispose();
  });

  it("resetClassifier replaces the head (and 0 makes it Identity)", () => {
    const m = new VisionTransformer(TINY).eval();
    const x = tf.randomNormal([2, 32, 32, 3], 0, 1, "float32", 3);
    m.resetClassifier(7);
    assert.deepEqual(m.apply(x).shape, [2, 7]);
    assert.equal(m.numClasses, 7);
    m.resetClassifier(0);
    assert.deepEqual(m.apply(x).shape, [2, 32]);
    assert.ok(!m.namedParameters().some(([n]) => n.startsWith("head.")));
    m.dispose();
  });

  it("setInputSize resamples pos_embed; an unmatched input size is a ShapeError", () => {
    const m = new VisionTransformer(TINY).eval();
    assert.throws(() => m.apply(tf.zeros([1, 48, 48, 3])), ShapeError);
    const x = tf.randomNormal([1, 32, 32, 3], 0, 1, "float32", 4);
    const before = m.apply(x);
    m.setInputSize(32);
    assert.equal(maxAbsDiff(before, m.apply(x)), 0);
    m.setInputSize(48);
    assert.deepEqual(m.pos.shape, [1, 1 + 36, 32]);
    assert.deepEqual(m.apply(tf.zeros([1, 48, 48, 3])).shape, [1, 5]);
    m.dispose();
  });

  it("drop path is random in training and off in eval", () => {
    const m = new VisionTransformer({ ...TINY, dropPathRate: 0.5 });
    const x = tf.randomNormal([4, 32, 32, 3], 0, 1, "float32", 5);
    m.train();
    const a = m.apply(x);
    const b = m.apply(x);
    assert.ok(maxAbsDiff(a, b) > 1e-4, "two training passes should drop different paths");
    m.eval();
    assert.equal(maxAbsDiff(m.apply(x), m.apply(x)), 0);
    m.dispose();
  });

  it("the qkv hook sees the fused [B, T, 3D] projection and can change it", () => {
    const m = new VisionTransformer(TINY).eval();
    const x = tf.randomNormal([2, 32, 32, 3], 0, 1, "float32", 6);
    const ref = m.apply(x);
    const shapes: number[][] = [];
    m.setQkvSplitHook((inp, qkv) => {
      shapes.push(qkv.shape);
      return qkv;
    });
    assert.equal(maxAbsDiff(ref, m.apply(x)), 0);
    assert.deepEqual(shapes, [
      [2, 17, 96],
      [2, 17, 96],
    ]);
    m.setQkvSplitHook((_, qkv) => tf.concat([tf.slice(qkv, [0, 0, 0], [-1, -1, 64]), tf.zeros([2, 17, 32])], 2), [0]);
    assert.ok(maxAbsDiff(ref, m.apply(x)) > 1e-4, "zeroing v in block 0 must change the logits");
    m.setQkvSplitHook(undefined);
    assert.equal(maxAbsDiff(ref, m.apply(x)), 0);
    m.dispose();
  });

  it("gradients reach every trainable parameter (no missing kernels), SwiGLU + registers + LayerScale", () => {
    const m = new VisionTransformer({
      ...TINY,
      numRegTokens: 2,
      posEmbed: "cls+patches",
      initValues: 0.5,
      mlpLayer: "swiglu_packed",
      act: "silu",
      dropPathRate: 0.1,
      attnDropRate: 0.1,
    }).train();
    const x = tf.randomNormal([2, 32, 32, 3], 0, 1, "float32", 7);
    const { value, grads } = tf.variableGrads(
      () => tf.mean(tf.square(m.apply(x))) as tf.Scalar,
      m.trainableVariables(),
    );
    assert.ok(Number.isFinite(value.dataSync()[0]));
    const byVar = new Map(m.namedParameters().map(([n, p]) => [p.variable.name, n]));
    const names = Object.keys(grads).map((k) => byVar.get(k));
    assert.equal(names.length, m.namedParameters().length);
    for (const [k, g] of Object.entries(grads)) {
      const s = tf.sum(tf.abs(g)).dataSync()[0];
      assert.ok(Number.isFinite(s) && s > 0, `zero or non-finite grad for ${byVar.get(k)}`);
    }
    m.dispose();
  });
});
