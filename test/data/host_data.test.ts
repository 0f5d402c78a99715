/** lib/data host arrays: balanced HostBatches pseudo-epochs, k-shot rows, host subsets, the stain shift on host images. */
import * as assert from "node:assert/strict";
import { describeBackends } from "../helpers/backends";
import { HostBatches } from "../../lib/data/host_batches";
import * as tf from "@tensorflow/tfjs";
import {
  kShotIndices,
  mapHostImages,
  mapHostImagesAsync,
  stainShiftHost,
  subsetHost,
  type HostImages,
} from "../../lib/data/host_data";

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

describeBackends("host data helpers", () => {
  it("HostBatches with balanced: every pseudo-epoch is half and half, and epochs differ", async () => {
    const h = host([...Array(40).fill(0), ...Array(8).fill(1)]); // 5:1 imbalance
    const src = new HostBatches(h, {
      batchSize: 16,
      shuffle: true,
      itemsPerEpoch: 64,
      balanced: { numClasses: 2 },
      seed: 3,
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

  it("mapHostImagesAsync (the webgpu-safe read) gives mapHostImages' outputs, in batches that do not divide n", async () => {
    const h = host([0, 1, 0, 1, 1]);
    const fn = (x: tf.Tensor) => tf.sum(tf.mul(x, 2), [1, 2]); // [m, 2, 2, 3] → [m, 3]
    const want = mapHostImages(h, fn, 2);
    const got = await mapHostImagesAsync(h, fn, 2);
    assert.deepEqual(got.itemShape, [3]);
    assert.deepEqual(got.itemShape, want.itemShape);
    assert.deepEqual(Array.from(got.x), Array.from(want.x));
    const item1Channel0 = Array.from(h.x.subarray(12, 24)).filter((_, i) => i % 3 === 0);
    assert.ok(Math.abs(got.x[3] - 2 * item1Channel0.reduce((a, b) => a + b, 0)) < 1e-6, `${got.x[3]}`);
    assert.equal(got.labels, h.labels);
  });
});
