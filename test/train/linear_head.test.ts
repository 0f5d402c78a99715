/** lib/train/linear_head: seed 000's linear head on cached features, trained by fit(). */
import { strict as assert } from "node:assert";
import { linearHeadPredictProba, trainLinearHead } from "../../lib/train/linear_head";
import { lrAt } from "../../lib/train/schedule";
import { describeBackends } from "../helpers/backends";

describeBackends("linear head on cached features (through fit())", () => {
  it("cosine_dampened_warmup: the cosine lr times min(1, (step + 1) / warmupSteps)", () => {
    const s = { kind: "cosine_dampened_warmup" as const, warmupSteps: 4, totalSteps: 100, minLr: 0 };
    assert.equal(lrAt(s, 1, 0), (0.25 * (1 + Math.cos(0))) / 2);
    assert.ok(Math.abs(lrAt(s, 1, 50) - 0.5) < 1e-12);
    assert.ok(Math.abs(lrAt(s, 1, 100)) < 1e-12);
  });

  for (const optimizer of ["adamw", "sgd"] as const) {
    it(`${optimizer} linear head separates separable features`, async () => {
      const n = 60;
      const feats = new Float32Array(n * 2);
      const labels: number[] = [];
      for (let i = 0; i < n; i++) {
        const c = i % 3;
        feats[2 * i] = Math.cos((2 * Math.PI * c) / 3) + 0.1 * Math.sin(i);
        feats[2 * i + 1] = Math.sin((2 * Math.PI * c) / 3) + 0.1 * Math.cos(i);
        labels.push(c);
      }
      const head = await trainLinearHead({ features: feats, n, d: 2, labels }, 3, {
        optimizer,
        lr: optimizer === "sgd" ? 0.5 : 0.05,
        epochs: 30,
        batchSize: 16,
        warmupSteps: 5,
      });
      assert.ok(head.losses[head.losses.length - 1] < head.losses[0] / 2);
      const p = await linearHeadPredictProba(head, feats, n, 2);
      const acc =
        labels.filter((c, i) => [0, 1, 2].reduce((b, k) => (p[i * 3 + k] > p[i * 3 + b] ? k : b), 0) === c).length / n;
      assert.equal(acc, 1);
    });
  }
});
