import { strict as assert } from "node:assert";
import { LORA_INTRO_SETTINGS, vitQvLora } from "../../lib/experiments/lora_intro";
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
