/** lib/models/vit_repool: repoolVit's pooling, fc_norm and which weights carry over. */
import * as assert from "node:assert/strict";
import { repoolVit } from "../../lib/models/vit_repool";
import { describeBackends } from "../helpers/backends";
import { tinyVitModel } from "../helpers/toy_data";

describeBackends("repoolVit", () => {
  it("repoolVit: GAP + fresh fc_norm, backbone blocks loaded, final norm and head dropped", () => {
    const bb = tinyVitModel(3, 1);
    const { model, dropped } = repoolVit(bb, { globalPool: "avg", fcNorm: true, numClasses: 1, seed: 0 });
    assert.equal(model.config.globalPool, "avg");
    assert.deepEqual([...dropped].sort(), ["head.bias", "head.weight", "norm.bias", "norm.weight"]);
    const a = bb.stateDict().get("blocks.1.mlp.fc2.weight")!.data;
    const b = model.stateDict().get("blocks.1.mlp.fc2.weight")!.data;
    assert.deepEqual(Array.from(b), Array.from(a));
    assert.equal(model.numClasses, 1);
  });
});
