/** lib/models/cnn_prefix: splitCnnAtStage's frozen prefix and trainable tail. */
import * as assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { MobileNetV2 } from "../../lib/models/mobilenetv2";
import { splitCnnAtStage } from "../../lib/models/cnn_prefix";
import { describeBackends, maxAbsDiff } from "../helpers/backends";
import { tinyVitModel } from "../helpers/toy_data";

describeBackends("splitCnnAtStage", () => {
  it("prefix → tail equals the whole model and the tail keeps the model's parameter names", () => {
    const m = new MobileNetV2({ widthMult: 0.25, numClasses: 3, seed: 0 }).eval();
    const split = splitCnnAtStage(m, "features.16");
    split.tail.eval();
    const x = tf.randomNormal([2, 32, 32, 3], 0, 1, "float32", 4);
    const whole = m.apply(x);
    const parts = split.tail.apply(split.prefix(x));
    assert.ok(maxAbsDiff(whole, parts) < 1e-4, `max diff ${maxAbsDiff(whole, parts)}`);
    const names = split.tail.namedParameters().map(([n]) => n);
    assert.ok(
      names.every((n) => /^features\.(16|17|18)\.|^classifier\.1\./.test(n)),
      names.join(","),
    );
    assert.deepEqual(
      split.tail.stages().map((s) => s.name),
      ["features.16", "features.17", "features.18", "classifier.1"],
    );
    tf.dispose([x, whole, parts]);
  });
  it("refuses unknown stages and non-MobileNet models", () => {
    const m = new MobileNetV2({ widthMult: 0.25, numClasses: 3, seed: 0 });
    assert.throws(() => splitCnnAtStage(m, "layer3"), /Unknown tail stage/);
    assert.throws(() => splitCnnAtStage(tinyVitModel(2), "blocks.1"), /MobileNetV2-like/);
  });
});
