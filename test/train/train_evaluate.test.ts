/** lib/train/train_evaluate: trainEvaluate with lib/peft strategies, best-validation weights restored. */
import * as assert from "node:assert/strict";
import { DAVILA_STRATEGIES, davilaRecipe, hostTransferData, trainEvaluate } from "../../lib";
import { describeBackends } from "../helpers/backends";
import { tinyVitModel, toySplits } from "../helpers/toy_data";

describeBackends("trainEvaluate with strategies", () => {
  it("FT learns the toy task, LP trains only the head, and the best validation epoch is restored", async () => {
    const data = hostTransferData(toySplits(), { batchSize: 16, evalBatchSize: 16, seed: 0, labelDtype: "int32" });
    const ft = await trainEvaluate({
      model: tinyVitModel(2),
      strategy: davilaRecipe("FT").strategy,
      ...data,
      fit: { task: "binary", epochs: 6, seed: 0, optimizer: { name: "adam", lr: 1e-2 } },
      monitor: "val_accuracy",
      modelId: "tiny",
      method: "FT",
      dataset: "toy",
      seed: 0,
      scale: "ci",
      config: {},
    });
    assert.ok(ft.record.metrics.test.accuracy > 0.8, `FT test accuracy ${ft.record.metrics.test.accuracy}`);
    const best = Math.max(...ft.history.map((h) => h.val_accuracy));
    assert.equal(ft.record.metrics.val.accuracy, best, "val metric is the best epoch's");
    const model = tinyVitModel(2);
    const lp = await trainEvaluate({
      model,
      strategy: davilaRecipe("LP").strategy,
      ...hostTransferData(toySplits(), { batchSize: 16, evalBatchSize: 16, seed: 0, labelDtype: "int32" }),
      fit: { task: "binary", epochs: 1, seed: 0, optimizer: { name: "adam", lr: 1e-2 } },
      modelId: "tiny",
      method: "LP",
      dataset: "toy",
      seed: 0,
      scale: "ci",
      config: {},
    });
    assert.equal(lp.record.trainableParams, 16 * 2 + 2, "head only");
    assert.equal(lp.record.totalParams, model.numParameters());
  });
  it("every Davila arm runs one epoch through fit()", async () => {
    for (const name of DAVILA_STRATEGIES) {
      const r = await trainEvaluate({
        model: tinyVitModel(2),
        strategy: davilaRecipe(name, { lrFt: 1e-3, lrLp: 1e-2, epochs: 2 }).strategy,
        ...hostTransferData(toySplits(), { batchSize: 24, evalBatchSize: 16, seed: 0, labelDtype: "int32" }),
        fit: { task: "binary", epochs: 2, seed: 0, optimizer: { name: "adam", lr: 1e-3 } },
        modelId: "tiny",
        method: name,
        dataset: "toy",
        seed: 0,
        scale: "ci",
        config: {},
      });
      assert.equal(r.history.length, 2, name);
      assert.ok(Number.isFinite(r.record.metrics.test.loss), name);
    }
  });
});
