/**
 * MobileNetV2 in "keras" mode and the Keras → torchvision converter, checked against the original TF.js LayersModel
 * (the shared ImageNet MobileNetV2-0.35/224) on real PBC blood-cell images.
 */
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";
import * as tf from "@tensorflow/tfjs";
import sharp from "sharp";
import { CheckpointError } from "../../lib/errors";
import { hostTensor } from "../../lib/io/host_tensor";
import {
  convertKerasMobileNetV2,
  loadKerasMobileNetV2,
  loadSharedMobileNetV2,
  readTfjsLayersWeights,
  SHARED_MOBILENETV2_DIR,
  tfjsLayersIOHandler,
} from "../../lib/models/convert/keras_mobilenet";
import { createModel } from "../../lib/models/create";
import { makeDivisible, SamePadConv2d } from "../../lib/models/mobilenetv2";
import { hasShared, sharedPath } from "../../lib/paths";
import { describeBackends, maxAbsDiff } from "../helpers/backends";

const TOL = 1e-4;
const IMAGES_PER_CLASS = 1;

/** One JPEG from each of the first `n` PBC classes, resized to 224 and scaled to [-1, 1]: [n, 224, 224, 3]. */
async function pbcBatch(n: number): Promise<tf.Tensor4D> {
  const root = sharedPath("data", "pbc-jpeg");
  const classes = fs.readdirSync(root).sort().slice(0, n);
  const data = new Float32Array(classes.length * IMAGES_PER_CLASS * 224 * 224 * 3);
  let off = 0;
  for (const c of classes) {
    for (const f of fs.readdirSync(path.join(root, c)).sort().slice(0, IMAGES_PER_CLASS)) {
      const rgb = await sharp(path.join(root, c, f))
        .removeAlpha()
        .resize(224, 224)
        .raw()
        .toBuffer();
      for (let i = 0; i < rgb.length; i++) data[off++] = rgb[i] / 127.5 - 1;
    }
  }
  return tf.tensor4d(data, [classes.length * IMAGES_PER_CLASS, 224, 224, 3]);
}

describe("models MobileNetV2 channels and Keras names", () => {
  it("makeDivisible rounds as torchvision / Keras do", () => {
    const cases: [number, number][] = [
      [11.2, 16],
      [5.6, 8],
      [22.4, 24],
      [33.6, 32],
      [56, 56],
      [1280, 1280],
      [1792, 1792],
      [44.8, 48],
    ];
    for (const [v, want] of cases) assert.equal(makeDivisible(v, 8), want, `makeDivisible(${v})`);
  });

  it("maps Keras names and layouts to torchvision's, ignores foreign layers, and rejects unknown weights", () => {
    const t = (shape: number[]) =>
      hostTensor(
        Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => i),
        shape,
      );
    const keras = new Map([
      ["Conv1/kernel", t([3, 3, 3, 16])],
      ["bn_Conv1/moving_variance", t([16])],
      ["expanded_conv_depthwise/depthwise_kernel", t([3, 3, 16, 1])],
      ["expanded_conv_project_BN/beta", t([8])],
      ["block_1_expand/kernel", t([1, 1, 8, 48])],
      ["block_1_depthwise_BN/gamma", t([48])],
      ["block_16_expand/kernel", t([1, 1, 56, 336])],
      ["block_16_project/kernel", t([1, 1, 336, 112])],
      ["Conv_1_bn/moving_mean", t([1280])],
      ["dense_Dense1/kernel", t([1280, 100])],
    ]);
    const { stateDict: sd, ignored, widthMult } = convertKerasMobileNetV2(keras);
    assert.deepEqual(ignored, ["dense_Dense1/kernel"]);
    assert.equal(widthMult, 0.35);
    assert.deepEqual(sd.get("features.0.0.weight")!.shape, [16, 3, 3, 3]);
    // Keras kernel [kh, kw, in, out] at (0, 1, 2, 5) is torch [out, in, kh, kw] at (5, 2, 0, 1).
    assert.equal(sd.get("features.0.0.weight")!.data[5 * 27 + 2 * 9 + 0 * 3 + 1], 0 * 144 + 1 * 48 + 2 * 16 + 5);
    assert.deepEqual(sd.get("features.1.conv.0.0.weight")!.shape, [16, 1, 3, 3]);
    assert.ok(sd.has("features.0.1.running_var") && sd.has("features.0.1.num_batches_tracked"));
    assert.ok(sd.has("features.1.conv.2.bias"), "t=1 block: project BN is conv.2");
    assert.ok(sd.has("features.2.conv.0.0.weight") && sd.has("features.2.conv.1.1.weight"));
    assert.ok(sd.has("features.17.conv.2.weight") && sd.has("features.18.1.running_mean"));
    assert.throws(() => convertKerasMobileNetV2(new Map([["Conv1/bias", t([16])]])), CheckpointError);
    assert.equal(convertKerasMobileNetV2(new Map([["Conv1/kernel", t([3, 3, 3, 13])]])).widthMult, undefined);
    assert.throws(() => loadKerasMobileNetV2("/nonexistent/dir"), /model\.json not found/);
  });
});

describeBackends("models MobileNetV2 keras mode", (backend) => {
  it("SamePadConv2d computes TF 'same' padding (bottom/right extra) for even and odd sizes, dense and depthwise", () => {
    for (const [size, groups] of [
      [8, 1],
      [9, 1],
      [8, 4],
      [7, 4],
    ]) {
      const conv = new SamePadConv2d(4, 4, 3, { stride: 2, groups, bias: false });
      const x = tf.randomNormal([1, size, size, 4], 0, 1, "float32", size);
      const w = conv.weight.variable as tf.Tensor4D;
      const ref =
        groups === 1 ? tf.conv2d(x as tf.Tensor4D, w, 2, "same") : tf.depthwiseConv2d(x as tf.Tensor4D, w, 2, "same");
      assert.ok(maxAbsDiff(conv.apply(x), ref) < 1e-5, `size ${size} groups ${groups}`);
      conv.dispose();
    }
  });

  describe("the shared ImageNet MobileNetV2-0.35/224 (TF.js layers)", function () {
    let dir: string;
    let x: tf.Tensor4D;
    let reference: tf.Tensor;
    before(async function () {
      if (!hasShared()) this.skip();
      dir = sharedPath(...SHARED_MOBILENETV2_DIR);
      x = await pbcBatch(4); // one image from each of 4 PBC classes
      const layers = await tf.loadLayersModel(tfjsLayersIOHandler(dir));
      // Layer 0 is `sequential_1`: Google's backbone up to Conv_1 + global average pooling (layer 1 is a foreign head).
      reference = (layers.layers[0] as tf.LayersModel).predict(x) as tf.Tensor;
      layers.dispose();
    });
    after(() => tf.dispose([x, reference]));

    it(`loads in one call and its 1280-d features equal the TF.js model's within ${TOL} on real PBC images`, () => {
      const t0 = performance.now();
      const model = loadSharedMobileNetV2();
      const loadMs = performance.now() - t0;
      const f = model.forwardFeatures(x);
      assert.deepEqual(f.shape, [4, 1280]);
      assert.deepEqual(reference.shape, [4, 1280]);
      const err = maxAbsDiff(f, reference);
      console.log(
        `      ${backend}: load ${loadMs.toFixed(0)} ms; max |Δfeatures| = ${err.toExponential(2)} (max |f| ${tf.max(tf.abs(reference)).dataSync()[0].toFixed(2)})`,
      );
      assert.ok(err <= TOL, `max abs feature error ${err} > ${TOL}`);
      assert.equal(model.numClasses, 0);
      assert.equal(
        model.numParameters() +
          model
            .namedBuffers()
            .filter(([n]) => !n.endsWith("num_batches_tracked"))
            .reduce((a, [, b]) => a + b.variable.size, 0),
        [...readTfjsLayersWeights(dir)]
          .filter(([k]) => !k.startsWith("dense_"))
          .reduce((a, [, h]) => a + h.data.length, 0),
      );
      f.dispose();
      model.dispose();
    });

    it("torch padding or torch's BN eps instead of Keras's would not match (the flags matter)", () => {
      const one = x.slice(0, 1);
      const ref = reference.slice(0, 1);
      for (const opts of [{ padding: "torch" as const }, { bnEps: 1e-5 }]) {
        const keras = loadKerasMobileNetV2(dir);
        const other = new (keras.constructor as typeof import("../../lib/models/mobilenetv2").MobileNetV2)({
          ...keras.options,
          ...opts,
        });
        other.loadStateDict(keras.stateDict());
        other.eval();
        const err = maxAbsDiff(other.forwardFeatures(one), ref);
        assert.ok(err > 1e-3, `${JSON.stringify(opts)} unexpectedly matched (err ${err})`);
        keras.dispose();
        other.dispose();
      }
      tf.dispose([one, ref]);
    });

    it("createModel(registry id, { weights: dir }) gives the same model, dropping the foreign head with a message", () => {
      const logs: string[] = [];
      const model = createModel("mobilenetv2_035_224.tfjs_keras", { weights: dir, log: (m) => logs.push(m) }).eval();
      const one = loadSharedMobileNetV2();
      const a = model.forwardFeatures(x.slice(0, 2));
      const b = one.forwardFeatures(x.slice(0, 2));
      assert.equal(maxAbsDiff(a, b), 0);
      assert.ok(
        logs.some((m) => m.includes("dense_Dense1/kernel")),
        logs.join("\n"),
      );
      tf.dispose([a, b]);
      model.dispose();
      one.dispose();
    });

    it("a new head gives logits for the requested classes", () => {
      const model = loadSharedMobileNetV2({ numClasses: 8, seed: 1 });
      const y = model.apply(x.slice(0, 2));
      assert.deepEqual(y.shape, [2, 8]);
      assert.deepEqual(model.headNames, ["classifier.1"]);
      y.dispose();
      model.dispose();
    });
  });
});
