import { strict as assert } from "node:assert";
import * as tf from "@tensorflow/tfjs";
import { ShapeError } from "../../lib/errors";
import type { HostImages } from "../../lib/data/host_data";
import { hostFeatures } from "../../lib/experiments/host_features";
import { logisticProbeRun } from "../../lib/experiments/probe_runs";
import { headFromProbe } from "../../lib/experiments/probe_head";
import { createVit } from "../../lib/models/vit";
import { describeBackends, maxAbsDiff } from "../helpers/backends";

/** n deterministic 16×16 RGB images, labels i mod K. */
function hostImages(n: number, K: number, seed: number): HostImages {
  const x = tf.tidy(() => tf.randomNormal([n, 16, 16, 3], 0, 1, "float32", seed).dataSync() as Float32Array);
  return {
    x,
    n,
    itemShape: [16, 16, 3],
    labels: Float32Array.from({ length: n }, (_, i) => i % K),
    ids: Array.from({ length: n }, (_, i) => `i${i}`),
  };
}

const fields = { modelId: "tiny", method: "logistic probe", dataset: "random", seed: 0, scale: "ci" as const };

describeBackends("headFromProbe", () => {
  const cases = [
    { name: "3 classes (multinomial probe)", K: 3 },
    { name: "2 classes (binary probe, 2-output head)", K: 2 },
  ];
  for (const c of cases) {
    it(`${c.name}: the arm starts where logisticProbeRun's probe arm ends (same test probabilities)`, () => {
      const model = createVit({ imgSize: 16, patchSize: 8, embedDim: 16, depth: 2, numHeads: 4, numClasses: c.K });
      const train = hostImages(30, c.K, 1);
      const test = hostImages(12, c.K, 2);
      const fTrain = hostFeatures(model, train); // [30, 16]
      const fTest = hostFeatures(model, test); // [12, 16]
      const probeArm = logisticProbeRun(fTrain, { test: fTest }, c.K, { ...fields, config: {}, backboneParams: 0 });
      const want = probeArm.evals.test.scores; // [12, K]
      const xs = tf.tensor4d(test.x, [test.n, 16, 16, 3]);
      const proba = () => tf.tidy(() => tf.softmax(model.forward(xs)).dataSync() as Float32Array); // [12, K]
      assert.ok(maxAbsDiff(proba(), want) > 1e-2, "a fresh random head must differ from the probe");
      const probe = headFromProbe(model, fTrain, c.K);
      assert.equal(probe.C, (16 * c.K) / 100); // logisticProbeRun's default, C = d·K/100
      assert.ok(maxAbsDiff(proba(), want) < 1e-4);
      xs.dispose();
      model.dispose();
    });
  }

  it("rejects images where features are expected (a ShapeError naming the item shape)", () => {
    const model = createVit({ imgSize: 16, patchSize: 8, embedDim: 16, depth: 1, numHeads: 4, numClasses: 2 });
    assert.throws(
      () => headFromProbe(model, hostImages(8, 2, 3), 2),
      (e: unknown) => e instanceof ShapeError && /\[16, 16, 3\]/.test((e as Error).message),
    );
    model.dispose();
  });
});
