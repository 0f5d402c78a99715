/** lib/experiments/host_features: pre-logits features of host images, in eval mode, the model's mode restored. */
import * as assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { hostFeatures, hostFeaturesAsync } from "../../lib/experiments/host_features";
import { describeBackends, maxAbsDiff } from "../helpers/backends";
import { createVit, type VisionTransformer } from "../../lib/models/vit";
import type { HostImages } from "../../lib/data/host_data";
import { toyImages } from "../helpers/toy_data";

/** A 4×4-input ViT with dropout 0.5 everywhere: train-mode features differ from eval-mode ones. */
const droppyVit = (): VisionTransformer =>
  createVit({ imgSize: 4, patchSize: 2, embedDim: 16, depth: 2, numHeads: 2, numClasses: 2, seed: 1, dropRate: 0.5 });

describeBackends("hostFeatures", () => {
  const variants = [
    {
      name: "sync",
      run: (m: VisionTransformer, h: HostImages) => hostFeatures(m, h, 4),
    },
    {
      name: "async",
      run: (m: VisionTransformer, h: HostImages) => hostFeaturesAsync(m, h, 4),
    },
  ];
  for (const v of variants) {
    for (const training of [true, false]) {
      it(`${v.name}, model in ${training ? "train" : "eval"} mode: eval-mode features [N, d], the mode restored`, async () => {
        const m = droppyVit();
        m.train(training);
        const h = toyImages(10, 4);
        const pending = v.run(m, h);
        const f = await pending;
        assert.equal(m.training, training, "training flag restored after the features are read");
        assert.deepEqual([f.n, ...f.itemShape], [10, 16]);
        assert.deepEqual(f.ids, h.ids);
        m.eval();
        const x = tf.tensor(h.x, [10, 4, 4, 3]);
        const ref = m.forwardFeatures(x); // [10, 16]
        assert.ok(maxAbsDiff(ref, f.x) < 1e-5, `max diff ${maxAbsDiff(ref, f.x)}`);
        m.train();
        const dropped = m.forwardFeatures(x); // the same inputs in train mode differ (the check can fail)
        assert.ok(maxAbsDiff(dropped, f.x) > 1e-3);
        tf.dispose([x, ref, dropped]);
        m.dispose();
      });
    }
  }
});
