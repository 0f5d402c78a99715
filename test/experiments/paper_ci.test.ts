/** Helpers of notebooks 00–02: balanced pseudo-epochs, k-shot rows, host subsets, the stain shift on host images. */
import * as assert from "node:assert/strict";
import { describeBackends } from "../helpers/backends";
import { BalancedHostBatches, kShotIndices, stainShiftHost, subsetHost } from "../../lib/experiments/paper_ci";
import { loraToyExperiment } from "../../lib/experiments/lora_toy";
import type { HostImages } from "../../lib/experiments/host_data";

function host(labels: number[]): HostImages {
  const n = labels.length;
  return {
    x: Float32Array.from({ length: n * 12 }, (_, i) => (i % 7) / 7 - 0.5),
    n,
    itemShape: [2, 2, 3],
    labels: Float32Array.from(labels),
    ids: labels.map((_, i) => `i${i}`),
  };
}

describeBackends("paper_ci helpers", () => {
  it("BalancedHostBatches: every pseudo-epoch is half and half, and epochs differ", async () => {
    const h = host([...Array(40).fill(0), ...Array(8).fill(1)]); // 5:1 imbalance
    const src = new BalancedHostBatches(h, {
      batchSize: 16,
      epochSize: 64,
      seed: 3,
      numClasses: 2,
      labelDtype: "float32",
    });
    assert.equal(src.batchesPerEpoch(), 4);
    const epochs: string[][] = [];
    for (let e = 0; e < 2; e++) {
      const ids: string[] = [];
      let pos = 0;
      for (;;) {
        const b = await src.next();
        if (b === null) break;
        const y = await b.y.data();
        pos += Array.from(y).filter((v) => v === 1).length;
        ids.push(...b.ids);
        b.dispose();
      }
      assert.equal(ids.length, 64);
      assert.equal(pos, 32, "half of the pseudo-epoch is the minority class");
      epochs.push(ids);
    }
    assert.notDeepEqual(epochs[0], epochs[1], "resampled every epoch");
  });
  it("kShotIndices takes k rows per class; subsetHost keeps rows and labels together", () => {
    const h = host([0, 1, 2, 0, 1, 2, 0, 1, 2, 0]);
    const idx = kShotIndices(h, ["a", "b", "c"], 2, 0);
    assert.equal(idx.length, 6);
    const sub = subsetHost(h, idx);
    assert.deepEqual(
      [0, 1, 2].map((c) => Array.from(sub.labels).filter((l) => l === c).length),
      [2, 2, 2],
    );
    assert.deepEqual(Array.from(sub.x.subarray(0, 12)), Array.from(h.x.subarray(idx[0] * 12, idx[0] * 12 + 12)));
    assert.throws(() => kShotIndices(h, ["a", "b", "c"], 5, 0), /fewer images than shots/);
  });
  it("stainShiftHost changes pixels deterministically and keeps labels", () => {
    const h = host([0, 1]);
    const a = stainShiftHost(h, "inception", "unseen-lab");
    const b = stainShiftHost(h, "inception", "unseen-lab");
    assert.deepEqual(a.x, b.x);
    assert.deepEqual(a.labels, h.labels);
    assert.ok(Array.from(a.x).some((v, i) => Math.abs(v - h.x[i]) > 1e-3));
    const same = stainShiftHost(h, "inception", "identity");
    Array.from(same.x).forEach((v, i) => assert.ok(Math.abs(v - h.x[i]) < 1e-4));
  });
  it("loraToyExperiment: identity at init, exact merge/unmerge, and rank ≥ target recovers ΔW*", () => {
    const [r1, r3] = loraToyExperiment({
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
});
