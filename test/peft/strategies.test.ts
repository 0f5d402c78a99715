import { strict as assert } from "node:assert";
import * as tf from "@tensorflow/tfjs";
import type { ImageClassifier } from "../../lib/models/types";
import type { Parameter } from "../../lib/nn";
import {
  autoRgn,
  autoRgnMultipliers,
  discriminativeLr,
  fullFineTuning,
  gradualFirstToLast,
  gradualLastToFirst,
  l1sp,
  l2sp,
  layerwiseLrDecay,
  linearProbing,
  loraStrategy,
  lpFt,
  type Strategy,
  type StrategyParamGroup,
} from "../../lib/peft/strategies";
import { meanCrossEntropy } from "../../lib/peft/lora/parity";
import { describeBackends } from "../helpers/backends";
import { TinyNet, tinyImages, tinyVit } from "./tiny_models";

/** One plain SGD step as the training loop would run it (penalty in the loss, multipliers and lrScale on the lr). */
async function sgdStep(model: ImageClassifier, s: Strategy, groups: StrategyParamGroup[], lr = 0.05): Promise<void> {
  const x = tinyImages(4, 6, 7);
  const y = tf.tensor1d([0, 1, 2, 1], "int32");
  const params = new Map(model.namedParameters());
  const trainable = [...params].filter(([, p]) => p.trainable);
  const byVar = new Map(trainable.map(([n, p]) => [p.variable.name, n]));
  const { grads } = tf.variableGrads(
    () => {
      const loss = meanCrossEntropy(model.apply(x), y);
      const pen = s.penalty(model);
      return pen ? tf.add(loss, pen) : loss;
    },
    trainable.map(([, p]) => p.variable),
  );
  const named = new Map(Object.entries(grads).map(([v, g]) => [byVar.get(v)!, g]));
  const mult = await s.lrMultipliers(named, params);
  for (const g of groups) {
    for (const [n, p] of g.params) {
      const grad = named.get(n);
      if (!p.trainable || !grad) continue;
      const step = lr * (g.lrScale ?? 1) * (mult?.get(n) ?? 1);
      const next = tf.tidy(() => tf.sub(p.variable, tf.mul(grad, step)));
      p.assign(next);
      next.dispose();
    }
  }
  tf.dispose([x, y, ...Object.values(grads)]);
}

function snapshot(model: ImageClassifier): Map<string, Float32Array> {
  return new Map(model.namedParameters().map(([n, p]) => [n, p.variable.dataSync().slice() as Float32Array]));
}

/** Names whose values changed; the rest must be bit-identical. */
function changed(before: Map<string, Float32Array>, model: ImageClassifier): string[] {
  const out: string[] = [];
  for (const [n, p] of model.namedParameters()) {
    const a = before.get(n);
    const b = p.variable.dataSync();
    if (!a || a.length !== b.length || a.some((v, i) => !Object.is(v, b[i]))) out.push(n);
  }
  return out.sort();
}

const ALL = new TinyNet()
  .namedParameters()
  .map(([n]) => n)
  .sort();
const HEAD = ["head.bias", "head.weight"];
const under = (...prefixes: string[]) => ALL.filter((n) => prefixes.some((p) => n.startsWith(`${p}.`)));

describeBackends("strategies: one SGD step changes exactly the expected parameters", () => {
  const table: [string, () => Strategy, string[][]][] = [
    ["FT", () => fullFineTuning(), [ALL]],
    ["LP", () => linearProbing(), [HEAD]],
    ["LP-FT (1 LP epoch)", () => lpFt({ lpEpochs: 1 }), [HEAD, ALL]],
    [
      "G-LF",
      () => gradualLastToFirst(),
      [HEAD, [...HEAD, ...under("encoder.layers.1")], [...HEAD, ...under("encoder.layers.1", "encoder.layers.0")], ALL],
    ],
    [
      "G-FL",
      () => gradualFirstToLast(),
      [HEAD, [...HEAD, ...under("conv1", "pw")], [...HEAD, ...under("conv1", "pw", "encoder.layers.0")], ALL],
    ],
    [
      "G-LF every 2 epochs",
      () => gradualLastToFirst({ every: 2 }),
      [HEAD, HEAD, [...HEAD, ...under("encoder.layers.1")]],
    ],
    ["L2-SP", () => l2sp({ alpha: 0.1, beta: 0.1 }), [ALL]],
    ["L1-SP", () => l1sp({ alpha: 0.1, beta: 0.1 }), [ALL]],
    ["Auto-RGN", () => autoRgn(), [ALL]],
    ["LLRD", () => layerwiseLrDecay({ decay: 0.65 }), [ALL]],
    ["discriminative lr", () => discriminativeLr(), [ALL]],
  ];
  for (const [title, make, perEpoch] of table) {
    it(`${title}: trainable set per epoch`, async () => {
      const model = new TinyNet(2);
      const s = make();
      const groups = s.setup(model, { lr: 0.05, weightDecay: 0 });
      for (const [epoch, want] of perEpoch.entries()) {
        s.onEpochStart(epoch, model);
        const trainable = model
          .namedParameters()
          .filter(([, p]) => p.trainable)
          .map(([n]) => n)
          .sort();
        assert.deepEqual(trainable, [...want].sort(), `epoch ${epoch} trainable set`);
        const before = snapshot(model);
        await sgdStep(model, s, groups);
        assert.deepEqual(changed(before, model), [...want].sort(), `epoch ${epoch} changed set`);
      }
    });
  }

  it("LoRA: only the LoRA A/B weights and the head (modules_to_save) change", async () => {
    const model = new TinyNet(2);
    const s = loraStrategy({ targetModules: ["fc1", "pw"], r: 2, initLoraWeights: false });
    const groups = s.setup(model, { lr: 0.05, weightDecay: 0 });
    const want = [
      ...HEAD,
      ...["encoder.layers.0.fc1", "encoder.layers.1.fc1", "pw"].flatMap((m) => [
        `${m}.lora_A.weight`,
        `${m}.lora_B.weight`,
      ]),
    ].sort();
    const before = snapshot(model);
    await sgdStep(model, s, groups);
    assert.deepEqual(changed(before, model), want);
    assert.deepEqual(s.lora!.config.modulesToSave, ["head"]);
  });

  it("LP-FT lowers the lr of every group when FT starts", () => {
    const model = new TinyNet();
    const s = lpFt({ lpEpochs: 2, ftLrScale: 0.1 });
    const groups = s.setup(model, { lr: 1e-3, weightDecay: 0 });
    s.onEpochStart(1, model);
    assert.ok(groups.every((g) => g.lrScale === 1));
    s.onEpochStart(2, model);
    assert.ok(groups.every((g) => g.lrScale === 0.1));
  });
});

describeBackends("strategy maths", () => {
  it("Auto-RGN multipliers equal ‖g‖/‖θ‖ over the max, by hand", async () => {
    const params = new Map<string, Parameter>();
    const mk = (v: number[]) => ({ variable: tf.variable(tf.tensor1d(v)), trainable: true }) as unknown as Parameter;
    params.set("a", mk([3, 4])); // ‖θ‖ = 5
    params.set("b", mk([1, 0])); // ‖θ‖ = 1
    params.set("z", mk([0, 0])); // ‖θ‖ = 0 → multiplier 1, left out of the max
    const grads = new Map([
      ["a", tf.tensor1d([0, 10])], // RGN 2
      ["b", tf.tensor1d([0.5, 0])], // RGN 0.5
      ["z", tf.tensor1d([1, 1])],
    ]);
    const m = await autoRgnMultipliers(grads, params);
    assert.ok(Math.abs(m.get("a")! - 1) < 1e-7);
    assert.ok(Math.abs(m.get("b")! - 0.25) < 1e-7);
    assert.equal(m.get("z"), 1);
  });

  it("LLRD follows BEiT's param_groups_lrd on a ViT (layer ids, scales, no decay for norms/biases/tokens)", () => {
    const vit = tinyVit();
    const groups = layerwiseLrDecay({ decay: 0.5 }).setup(vit, { lr: 1, weightDecay: 0.05 });
    const where = new Map<string, StrategyParamGroup>();
    for (const g of groups) for (const [n] of g.params) where.set(n, g);
    const L = 3; // 2 blocks + 1
    const cases: [string, number, number][] = [
      ["cls_token", 0, 0],
      ["pos_embed", 0, 0],
      ["patch_embed.proj.weight", 0, 0.05],
      ["patch_embed.proj.bias", 0, 0],
      ["blocks.0.attn.qkv.weight", 1, 0.05],
      ["blocks.0.norm1.weight", 1, 0],
      ["blocks.1.mlp.fc2.weight", 2, 0.05],
      ["norm.weight", 3, 0],
      ["head.weight", 3, 0.05],
      ["head.bias", 3, 0],
    ];
    for (const [n, layer, wd] of cases) {
      const g = where.get(n)!;
      assert.equal(g.lrScale, 0.5 ** (L - layer), n);
      assert.equal(g.weightDecay, wd, n);
      assert.equal(g.name, `layer_${layer}_${wd ? "decay" : "no_decay"}`);
    }
    assert.equal(where.size, vit.namedParameters().length);
  });

  it("L2-SP's penalty is zero at the pretrained weights except for the head term", () => {
    const model = new TinyNet();
    const s = l2sp({ alpha: 1, beta: 2 });
    s.setup(model, { lr: 1, weightDecay: 0 });
    const head = model.namedParameters().filter(([n]) => n.startsWith("head."));
    const want = head.reduce((a, [, p]) => a + tf.sum(tf.square(p.variable)).dataSync()[0], 0);
    assert.ok(Math.abs(s.penalty(model)!.dataSync()[0] - want) < 1e-5);
  });
});
