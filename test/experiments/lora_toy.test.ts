/** lib/experiments/lora_toy: notebook 00's LoRA-on-one-Linear teaching experiment. */
import * as assert from "node:assert/strict";
import { describeBackends } from "../helpers/backends";
import { loraToyExperiment } from "../../lib/experiments/lora_toy";

describeBackends("loraToyExperiment", () => {
  it("loraToyExperiment: identity at init, exact merge/unmerge, and rank ≥ target recovers ΔW*", async () => {
    const [r1, r3] = await loraToyExperiment({
      inFeatures: 12,
      outFeatures: 10,
      targetSingularValues: [2, 1],
      ranks: [1, 3],
      alpha: 3,
      useRslora: false,
      steps: 200,
      lr: 0.03,
      batchSize: 32,
      seed: 0,
    });
    assert.equal(r1.initMaxDiff, 0);
    assert.ok(r3.mergeMaxDiff < 1e-4 && r3.unmergeMaxDiff < 1e-5);
    assert.ok(r3.relError < 0.02, `rank 3 error ${r3.relError}`);
    assert.ok(r1.relError > 0.3, `rank 1 cannot fit a rank-2 update (${r1.relError})`);
    assert.equal(r1.singularValues.length, 1);
    assert.ok(Math.abs(r3.singularValues[0] - 2) < 0.05 && Math.abs(r3.singularValues[1] - 1) < 0.05);
    assert.ok(r3.singularValues[2] < 0.05);
  });

  it("is deterministic for a seed, seed 0 included (fit() over seeded batches)", async () => {
    const o = { inFeatures: 6, outFeatures: 5, targetSingularValues: [1], ranks: [2], alpha: 2, useRslora: false };
    const run = () => loraToyExperiment({ ...o, steps: 12, lr: 0.03, batchSize: 8, seed: 0 });
    const [a] = await run();
    const [b] = await run();
    assert.equal(a.losses.length, 3, "losses at updates 1, 11 and 12");
    assert.deepEqual(a.losses, b.losses);
  });
});
