/** The bench's ViT training step with gradient accumulation over micro-batches gives the whole-batch update. */
import { strict as assert } from "node:assert";
import * as tf from "@tensorflow/tfjs";
import { trainStep } from "../../lib/bench/workload";
import { createVit } from "../../lib/models/vit";
import { getPeftModel } from "../../lib/peft/lora";
import { defaultParamGroups, Optimizer, type OptimizerOptions } from "../../lib/train/optim";
import { describeBackends, maxAbsDiff } from "../helpers/backends";

const ADAMW: OptimizerOptions = { name: "adamw", lr: 1e-2, weightDecay: 0.01 };

function build() {
  const model = createVit({ imgSize: 16, patchSize: 4, embedDim: 16, depth: 2, numHeads: 2, numClasses: 3, seed: 5 });
  const lm = getPeftModel(model, { targetModules: ["qkv"], r: 2, loraAlpha: 4, modulesToSave: ["head"] });
  for (const l of lm.layers.values()) {
    const b = tf.randomNormal(l.loraB.weight.shape, 0, 0.1, "float32", 9);
    l.loraB.weight.assign(b);
    b.dispose();
  }
  return { model, opt: new Optimizer(defaultParamGroups(model, ADAMW), ADAMW) };
}

describeBackends("bench ViT train step with micro-batches", () => {
  for (const micro of [1, 2, 4]) {
    it(`micro-batch ${micro} of a batch of 6 matches the whole batch over 2 steps`, async () => {
      const x = tf.randomNormal([6, 16, 16, 3], 0, 1, "float32", 4);
      const y = tf.tensor1d([0, 1, 2, 2, 1, 0], "int32");
      const whole = build();
      const split = build();
      for (let s = 0; s < 2; s++) {
        const lw = await trainStep(whole.model, whole.opt, (t) => whole.model.apply(t), x, y, 6);
        const ls = await trainStep(split.model, split.opt, (t) => split.model.apply(t), x, y, micro);
        assert.ok(Math.abs(lw - ls) < 1e-5, `loss ${lw} vs ${ls}`);
      }
      const other = new Map(split.model.namedParameters());
      let trained = 0;
      for (const [n, p] of whole.model.namedParameters()) {
        assert.ok(maxAbsDiff(p.variable, other.get(n)!.variable) < 1e-5, n);
        if (p.trainable) trained++;
      }
      assert.ok(trained > 0);
      tf.dispose([x, y]);
      whole.model.dispose();
      split.model.dispose();
      whole.opt.dispose();
      split.opt.dispose();
    });
  }
});
