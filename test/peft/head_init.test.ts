import { strict as assert } from "node:assert";
import * as tf from "@tensorflow/tfjs";
import { ConfigError, ShapeError } from "../../lib/errors";
import { createVit } from "../../lib/models/vit";
import type { ImageClassifier } from "../../lib/models/types";
import { fitLogisticRegression, initHeadFromProbe, predictProba, type LogRegModel } from "../../lib/peft/probe";
import { loraStrategy } from "../../lib/peft/strategies/lora";
import { describeBackends, maxAbsDiff } from "../helpers/backends";
import { tinyImages } from "./tiny_models";

const N = 24;
const vit = (numClasses: number) =>
  createVit({ imgSize: 16, patchSize: 8, embedDim: 16, depth: 2, numHeads: 4, numClasses, seed: 5 });

/** Features [N, d] of the model's pre-logits, and a probe fitted on them with labels i mod K (every class present). */
function fitProbe(model: ImageClassifier, x: tf.Tensor, K: number): { probe: LogRegModel; f: Float32Array } {
  const f = tf.tidy(() => model.forwardFeatures(x)).dataSync() as Float32Array; // [N, d]
  const y = Array.from({ length: N }, (_, i) => i % K);
  return { probe: fitLogisticRegression({ data: f, n: N, d: model.numFeatures }, y, { C: 1 }), f };
}

/** The model's class probabilities [N, K]: softmax of its logits, or σ of a single logit as (1 − p, p). */
function modelProba(model: ImageClassifier, x: tf.Tensor): Float32Array {
  return tf
    .tidy(() => {
      const z = model.forward(x); // [N, out]
      return z.shape[1] === 1 ? tf.concat([tf.sub(1, tf.sigmoid(z)), tf.sigmoid(z)], 1) : tf.softmax(z);
    })
    .dataSync() as Float32Array;
}

describeBackends("initHeadFromProbe", () => {
  const cases = [
    { name: "multinomial probe, 4-output head", classes: 4, headOut: 4 },
    { name: "binary probe, 2-output softmax head (logits ∓z/2)", classes: 2, headOut: 2 },
    { name: "binary probe, 1-output head (logit z)", classes: 2, headOut: 1 },
  ];
  for (const c of cases) {
    it(`${c.name}: the model then predicts the probe's probabilities, before and after LoRA injection`, () => {
      const x = tinyImages(N, 16, 11);
      const model = vit(c.headOut);
      const { probe, f } = fitProbe(model, x, c.classes);
      const want = predictProba(probe, { data: f, n: N, d: model.numFeatures }); // [N, K]
      const before = modelProba(model, x);
      assert.ok(maxAbsDiff(before, want) > 1e-2, "a fresh random head must differ from the probe");
      initHeadFromProbe(model, probe);
      assert.ok(maxAbsDiff(modelProba(model, x), want) < 1e-4);
      // LoRA's B starts at zero: the LoRA run starts exactly at the probe; the head stays trainable (modules_to_save).
      const s = loraStrategy({ targetModules: ["qkv"], r: 2, seed: 1 });
      s.setup(model, { lr: 1e-3, weightDecay: 0 });
      assert.ok(maxAbsDiff(modelProba(model, x), want) < 1e-4);
      assert.ok(model.namedParameters().some(([n, p]) => n === "head.weight" && p.trainable));
      x.dispose();
      model.dispose();
    });
  }

  const bad: { name: string; make: () => [ImageClassifier, LogRegModel]; err: typeof ConfigError; msg: RegExp }[] = [
    {
      name: "a model without a classifier head (numClasses 0)",
      make: () => {
        const m = vit(0);
        return [m, fitProbe(vit(3), tinyImages(N, 16), 3).probe];
      },
      err: ConfigError,
      msg: /no Linear classifier head/,
    },
    {
      name: "a probe with more classes than the head has outputs",
      make: () => [vit(3), fitProbe(vit(4), tinyImages(N, 16), 4).probe],
      err: ConfigError,
      msg: /classes do not match/,
    },
    {
      name: "a probe fitted on features of another size",
      make: () => {
        const other = createVit({ imgSize: 16, patchSize: 8, embedDim: 8, depth: 1, numHeads: 2, numClasses: 3 });
        return [vit(3), fitProbe(other, tinyImages(N, 16), 3).probe];
      },
      err: ShapeError,
      msg: /feature size differs/,
    },
    {
      name: "a probe whose labels are not 0..K−1",
      make: () => {
        const m = vit(3);
        const f = tf.tidy(() => m.forwardFeatures(tinyImages(N, 16))).dataSync() as Float32Array;
        const y = Array.from({ length: N }, (_, i) => [0, 2, 5][i % 3]);
        return [m, fitLogisticRegression({ data: f, n: N, d: m.numFeatures }, y, { C: 1 })];
      },
      err: ConfigError,
      msg: /classes \[0, 2, 5\]/,
    },
  ];
  for (const b of bad) {
    it(`rejects ${b.name} with a typed error, leaving the head as it was`, () => {
      const [model, probe] = b.make();
      const before = model.namedParameters().map(([, p]) => Array.from(p.variable.dataSync()));
      assert.throws(
        () => initHeadFromProbe(model, probe),
        (e: unknown) => e instanceof b.err && b.msg.test((e as Error).message),
      );
      const after = model.namedParameters().map(([, p]) => Array.from(p.variable.dataSync()));
      assert.deepEqual(after, before);
      model.dispose();
    });
  }
});
