import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";
import { ConfigError } from "../../lib/errors";
import { LORA_INTRO_SETTINGS, loraIntroSetup, vitQvLora } from "../../lib/experiments/lora_intro";
import { fakePbcShared } from "../helpers/tmp";
import { vitTinyBackbone } from "../../lib/experiments/vit_tiny";
import { getPeftModel } from "../../lib/peft/lora/model";

describe("experiments/lora_intro: notebook 00's ViT-Ti arm", function () {
  this.timeout(600000);
  const cases: [string, number[], string[]][] = [
    ["ci: blocks 8–11", LORA_INTRO_SETTINGS.ci.vit.blocks, [8, 9, 10, 11].map((b) => `blocks.${b}.attn.qkv`)],
    ["one block", [0], ["blocks.0.attn.qkv"]],
    [
      "full: every block",
      LORA_INTRO_SETTINGS.full.vit.blocks,
      [...Array(12).keys()].map((b) => `blocks.${b}.attn.qkv`),
    ],
  ];
  for (const [name, blocks, want] of cases) {
    it(`vitQvLora adapts exactly the qkv of the listed blocks of the real ViT-Ti (${name})`, async () => {
      const model = await vitTinyBackbone(224).make(8, 0);
      const lm = getPeftModel(model, vitQvLora({ blocks, r: 4, alpha: 8 }, 0));
      assert.deepEqual([...lm.layers.keys()], want);
      assert.deepEqual(lm.config.qkvParts?.parts, ["q", "v"]);
      model.dispose();
    });
  }
});

describe("experiments/lora_intro: loraIntroSetup (notebook 00's scale, data folder and splits)", () => {
  // A PBC-like image folder: 8 classes × 20 files (listing only; nothing is decoded here).
  let shared: string;
  before(() => (shared = fakePbcShared("peftlab-intro-")));
  after(() => fs.rmSync(shared, { recursive: true, force: true }));

  it("ci: the shared PBC folder, split 70/10/20, with the ci settings", () => {
    const s = loraIntroSetup("ci", { shared, splitSeed: 0 });
    assert.equal(s.scale, "ci");
    assert.deepEqual(s.settings, LORA_INTRO_SETTINGS.ci);
    assert.equal(s.dataDir, path.join(shared, "data", "pbc-jpeg"));
    assert.deepEqual(
      [s.splits.train.items.length, s.splits.val.items.length, s.splits.test.items.length],
      [112, 16, 32],
    );
  });
  const subsets: [string, number, number][] = [
    ["k per class", 3, 24],
    ["0 = the whole split", 0, 112],
  ];
  for (const [name, perClass, n] of subsets) {
    it(`subset: ${name}`, () => {
      const s = loraIntroSetup("ci", { shared, splitSeed: 0 });
      const sub = s.subset(s.splits.train, perClass);
      assert.equal(sub.items.length, n);
      assert.deepEqual(sub.items, s.subset(s.splits.train, perClass).items, "seeded: the same subset twice");
    });
  }
  it("an explicit dataDir wins over the scale's default", () => {
    const dir = path.join(shared, "data", "pbc-jpeg");
    assert.equal(loraIntroSetup("ci", { shared: "/nowhere", dataDir: dir, splitSeed: 0 }).dataDir, dir);
  });
  it("an unknown scale is a ConfigError naming SCALE", () => {
    assert.throws(
      () => loraIntroSetup("Full", { shared, splitSeed: 0 }),
      (e: unknown) => e instanceof ConfigError && /SCALE/.test(e.message),
    );
  });
});
