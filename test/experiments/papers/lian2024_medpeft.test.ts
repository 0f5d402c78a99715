/** lib/experiments/papers/lian2024_medpeft: MED-PEFT's LoRA on a repooled ViT and its per-fraction settings. */
import * as assert from "node:assert/strict";
import { medPeftLora, medPeftLoraSetting, repoolVit } from "../../../lib";
import { describeBackends } from "../../helpers/backends";
import { tinyVitModel } from "../../helpers/toy_data";

describeBackends("MED-PEFT LoRA", () => {
  it("medPeftLora trains q/v LoRA, fc_norm and the head only", () => {
    const { model } = repoolVit(tinyVitModel(3), { globalPool: "avg", fcNorm: true, numClasses: 1, seed: 0 });
    const s = medPeftLora(4);
    s.setup(model, { lr: 0.1, weightDecay: 0 });
    const trainable = model
      .namedParameters()
      .filter(([, p]) => p.trainable)
      .map(([n]) => n);
    assert.ok(
      trainable.every((n) => /lora_[AB]|^fc_norm\.|^head\./.test(n)),
      trainable.join(","),
    );
    assert.ok(trainable.some((n) => n.includes("lora_A")) && trainable.includes("fc_norm.weight"));
  });
  it("medPeftLoraSetting picks the README row of the nearest fraction", () => {
    assert.deepEqual(medPeftLoraSetting("NIH", 0.01), { lr: 0.05, rank: 4 });
    assert.deepEqual(medPeftLoraSetting("NIH", 0.12), { lr: 0.05, rank: 8 });
    assert.deepEqual(medPeftLoraSetting("RSNA", 1), { lr: 0.01, rank: 32 });
  });
});
