/** lib/data/host_batches: HostBatches epochs, pseudo-epochs, resumable positions and label dtypes. */
import * as assert from "node:assert/strict";
import { HostBatches } from "../../lib/data/host_batches";
import { toyImages } from "../helpers/toy_data";

describe("HostBatches", () => {
  const cases = [
    { name: "full epochs", n: 10, batch: 4, itemsPerEpoch: undefined, batches: 3, lastSize: 2 },
    { name: "pseudo-epochs", n: 10, batch: 4, itemsPerEpoch: 6, batches: 2, lastSize: 2 },
  ];
  for (const c of cases) {
    it(`${c.name}: batch count, sizes and an exact resumable position`, async () => {
      const data = toyImages(c.n, 5);
      const hb = new HostBatches(data, {
        batchSize: c.batch,
        shuffle: true,
        seed: 7,
        labelDtype: "int32",
        itemsPerEpoch: c.itemsPerEpoch,
      });
      assert.equal(hb.batchesPerEpoch(), c.batches);
      const seen: string[][] = [];
      for (;;) {
        const b = await hb.next();
        if (b === null) break;
        assert.equal(b.y.dtype, "int32");
        seen.push(b.ids);
        b.dispose();
      }
      assert.equal(seen.length, c.batches);
      assert.equal(seen[seen.length - 1].length, c.lastSize);
      assert.equal(new Set(seen.flat()).size, seen.flat().length, "no item twice in an epoch");
      // Seeking back to batch 1 of epoch 0 gives the same batch again.
      hb.seek({ epoch: 0, batch: 1, seed: 7 });
      const again = await hb.next();
      assert.deepEqual(again!.ids, seen[1]);
      again!.dispose();
    });
  }
  it("float32 labels for a one-logit head and rows copied in order", async () => {
    const data = toyImages(5, 2);
    const hb = new HostBatches(data, { batchSize: 5, shuffle: false, seed: 0, labelDtype: "float32" });
    const b = (await hb.next())!;
    assert.equal(b.y.dtype, "float32");
    assert.deepEqual(Array.from(await b.y.data()), Array.from(data.labels));
    assert.deepEqual(Array.from(await b.x.data()), Array.from(data.x));
    b.dispose();
  });
});
