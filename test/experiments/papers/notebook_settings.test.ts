/** Per-paper notebook modules (02 mitosis, 03 MED-PEFT, 04 BreakHis): settings as data, block-restricted LoRA, data, backbone. */
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as tf from "@tensorflow/tfjs";
import { createVit } from "../../../lib/models/vit";
import { hasShared, sharedPath } from "../../../lib/paths";
import {
  BREAKHIS_NOTEBOOK,
  MEDPEFT_NOTEBOOK,
  MITOSIS_NOTEBOOK,
  breakhisLoraOn,
  medPeftLoraOn,
  mitosisLora,
  npzHostSplitsBicubic,
  vitTinyBackbone,
} from "../../../lib";
import type { LoraStrategy } from "../../../lib/peft/strategies/lora";

const DEPTH = 4;
const tinyVit = () =>
  createVit({ imgSize: 8, patchSize: 4, embedDim: 16, depth: DEPTH, numHeads: 2, numClasses: 2, seed: 0 });

function trainableAfter(s: LoraStrategy): string[] {
  const m = tinyVit();
  s.setup(m, { lr: 0.1, weightDecay: 0 });
  const names = m
    .namedParameters()
    .filter(([, p]) => p.trainable)
    .map(([n]) => n);
  m.dispose();
  return names;
}

describe("papers: notebook LoRA placements", () => {
  const cases = [
    {
      name: "003 all-linear, blocks 2–3",
      s: () => breakhisLoraOn([2, 3]),
      blocks: [2, 3],
      mods: ["attn.qkv", "attn.proj", "mlp.fc1", "mlp.fc2"],
    },
    {
      name: "003 all-linear, every block",
      s: () => breakhisLoraOn(null),
      blocks: [0, 1, 2, 3],
      mods: ["attn.qkv", "attn.proj", "mlp.fc1", "mlp.fc2"],
    },
    {
      name: "001 qkv/proj/fc1/fc2, block 3",
      s: () => mitosisLora([3]),
      blocks: [3],
      mods: ["attn.qkv", "attn.proj", "mlp.fc1", "mlp.fc2"],
    },
    { name: "002 q/v, blocks 1 and 3", s: () => medPeftLoraOn(4, [1, 3]), blocks: [1, 3], mods: ["attn.qkv"] },
  ];
  for (const c of cases) {
    it(`${c.name}: LoRA exactly on the named blocks and modules, plus the head`, () => {
      const names = trainableAfter(c.s());
      const lora = names.filter((n) => /lora_[AB]/.test(n));
      const expected = c.blocks.flatMap((b) => c.mods.map((m) => `blocks.${b}.${m}`)).sort();
      const got = [...new Set(lora.map((n) => n.replace(/\.lora_[AB].*$/, "")))].sort();
      assert.deepEqual(got, expected);
      assert.ok(
        names.filter((n) => !/lora_[AB]/.test(n)).every((n) => n.startsWith("head.")),
        names.join(","),
      );
    });
  }
  it("002's LoRA carries qkvParts q and v (the k rows get no LoRA)", () => {
    const s = medPeftLoraOn(2, [0]);
    const names = trainableAfter(s);
    assert.ok(names.some((n) => n.startsWith("blocks.0.attn.qkv.lora_A")));
    assert.equal(
      String(s.hyperparameters.qkvParts && JSON.stringify(s.hyperparameters.qkvParts)),
      '{"parts":["q","v"]}',
    );
  });
});

describe("papers: notebook settings as data", () => {
  const tables = [
    { name: "02", t: MITOSIS_NOTEBOOK },
    { name: "03", t: MEDPEFT_NOTEBOOK },
  ];
  for (const { name, t } of tables) {
    for (const scale of ["ci", "full"] as const) {
      it(`${name} ${scale}: fractions in (0, 1], seeds given, LoRA blocks inside ViT-Ti's 12`, () => {
        const s = t[scale];
        assert.ok(s.seeds.length > 0 && s.fractions.every((f) => f > 0 && f <= 1));
        assert.ok((s.loraBlocks ?? []).every((b) => Number.isInteger(b) && b >= 0 && b < 12));
      });
    }
  }
  it("04: both scales name a ViT size the patch 16 divides and LoRA blocks inside ViT-Ti's 12", () => {
    for (const s of Object.values(BREAKHIS_NOTEBOOK)) {
      assert.equal(s.vitSize % 16, 0);
      assert.ok((s.loraBlocks ?? []).every((b) => b >= 0 && b < 12));
    }
  });
});

describe("papers: shared data and backbone", function () {
  before(function () {
    if (!hasShared() || !fs.existsSync(sharedPath("data", "breastmnist.npz"))) this.skip();
  });
  it("npzHostSplitsBicubic upsamples, normalises to [-1, 1], caps splits and re-labels", async () => {
    const file = sharedPath("data", "breastmnist.npz");
    const plain = await npzHostSplitsBicubic(file, { size: 32, seed: 0, maxItems: { train: 20, val: 10, test: 10 } });
    const flip = await npzHostSplitsBicubic(file, {
      size: 32,
      seed: 0,
      maxItems: { train: 20, val: 10, test: 10 },
      labelMap: [1, 0],
    });
    assert.deepEqual(plain.train.itemShape, [32, 32, 3]);
    assert.equal(plain.train.n, 20);
    assert.equal(plain.test.n, 10);
    assert.ok(plain.train.x.every((v) => v >= -1.0001 && v <= 1.0001));
    assert.deepEqual(
      Array.from(flip.train.labels),
      Array.from(plain.train.labels, (l) => 1 - l),
    );
    assert.deepEqual(flip.classes, [...plain.classes].reverse());
  });
  it("vitTinyBackbone(32) builds the pretrained ViT-Ti with a fresh head at the resized input", async function () {
    if (!fs.existsSync(sharedPath("weights", "vit_tiny_patch16_224", "model.safetensors"))) this.skip();
    const bb = vitTinyBackbone(32);
    assert.deepEqual(bb.transform.normalize, { mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] });
    assert.equal(bb.transform.resize, 36);
    const m = await bb.make(2, 0);
    const y = tf.tidy(() => m.forward(tf.zeros([1, 32, 32, 3]))); // [1, 2]
    assert.deepEqual(y.shape, [1, 2]);
    y.dispose();
    m.dispose();
  });
});
