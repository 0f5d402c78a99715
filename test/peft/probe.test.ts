import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { sharedPath } from "../../lib/paths";
import {
  extractFeatures,
  featureCacheKey,
  weightsHashOf,
  weightsHashOfAsync,
  featureMatrix,
  fitLogisticRegression,
  knnPredict,
  knnPredictProba,
  lbfgs,
  predict,
  predictProba,
  uniC,
  type FeatureBatch,
} from "../../lib/peft/probe";
import { describeBackends } from "../helpers/backends";
import { TinyNet } from "./tiny_models";

interface LogregCase {
  X_train: number[][];
  y_train: number[];
  X_test: number[][];
  y_test: number[];
  C: number;
  max_iter: number;
  test_accuracy: number;
  test_proba: number[][];
}

describe("L-BFGS", () => {
  it("minimises the Rosenbrock function", () => {
    const r = lbfgs(
      (x, g) => {
        const [a, b] = [x[0], x[1]];
        g[0] = -2 * (1 - a) - 400 * a * (b - a * a);
        g[1] = 200 * (b - a * a);
        return (1 - a) ** 2 + 100 * (b - a * a) ** 2;
      },
      Float64Array.from([-1.2, 1]),
      { gtol: 1e-8, ftol: 0 },
    );
    assert.ok(r.converged, r.reason);
    assert.ok(Math.abs(r.x[0] - 1) < 1e-5 && Math.abs(r.x[1] - 1) < 1e-5, `${r.x}`);
  });
});

describe("logistic-regression probe vs scikit-learn (shared fixture)", () => {
  const c = (
    JSON.parse(fs.readFileSync(sharedPath("fixtures", "reference", "metrics.json"), "utf8")) as {
      logreg_probe: LogregCase;
    }
  ).logreg_probe;
  it("UNI's C = d·K/100 is the fixture's C", () => {
    assert.equal(uniC(c.X_train[0].length, new Set(c.y_train).size), c.C);
  });
  it("test accuracy equals scikit-learn's and probabilities agree within 1e-3", () => {
    const m = fitLogisticRegression(featureMatrix(c.X_train), c.y_train, { C: c.C, maxIter: c.max_iter });
    assert.ok(m.fit.converged);
    const Xt = featureMatrix(c.X_test);
    const pred = predict(m, Xt);
    const acc = pred.filter((p, i) => p === c.y_test[i]).length / pred.length;
    assert.equal(acc, c.test_accuracy);
    const p = predictProba(m, Xt);
    const K = m.classes.length;
    let worst = 0;
    c.test_proba.forEach((row, i) => row.forEach((v, k) => (worst = Math.max(worst, Math.abs(v - p[i * K + k])))));
    assert.ok(worst <= 1e-3, `max |Δp| ${worst}`);
  });
  it("binary problems use scikit-learn's single-vector model", () => {
    const X = featureMatrix([
      [0, 1],
      [1, 0],
      [2, 1],
      [3, 0],
      [0, 3],
      [1, 2],
    ]);
    const y = [0, 0, 1, 1, 0, 1];
    const m = fitLogisticRegression(X, y, { C: 1 });
    assert.equal(m.binary, true);
    assert.equal(m.W.length, 2);
    const p = predictProba(m, X);
    for (let i = 0; i < 6; i++) assert.ok(Math.abs(p[2 * i] + p[2 * i + 1] - 1) < 1e-12);
  });
});

describe("kNN probe (DINO weighting)", () => {
  it("weights the k nearest by exp(cos/T) and normalises, by hand", () => {
    const train = { features: Float64Array.from([1, 0, 0, 1, 1, 1]), n: 3, d: 2, labels: [0, 1, 1] };
    const q = { features: Float64Array.from([1, 0.2]), n: 1, d: 2 };
    const { proba } = knnPredictProba(train, q, { k: 2, temperature: 0.5 });
    const cos = (a: number[], b: number[]) => (a[0] * b[0] + a[1] * b[1]) / Math.hypot(...a) / Math.hypot(...b);
    const s = [cos([1, 0.2], [1, 0]), cos([1, 0.2], [0, 1]), cos([1, 0.2], [1, 1])];
    // k = 2 nearest: items 0 (class 0) and 2 (class 1).
    const w0 = Math.exp(s[0] / 0.5);
    const w2 = Math.exp(s[2] / 0.5);
    assert.ok(Math.abs(proba[0] - w0 / (w0 + w2)) < 1e-12);
    assert.ok(Math.abs(proba[1] - w2 / (w0 + w2)) < 1e-12);
    assert.deepEqual(knnPredict(train, q, { k: 2, temperature: 0.5 }), [0]);
  });
});

describeBackends("feature cache", () => {
  const batchesOf = (imgs: tf.Tensor, ids: string[], labels: number[]): FeatureBatch[] => [
    { x: imgs.slice([0, 0, 0, 0], [2, -1, -1, -1]), y: labels.slice(0, 2), ids: ids.slice(0, 2) },
    { x: imgs.slice([2, 0, 0, 0], [2, -1, -1, -1]), y: labels.slice(2, 4), ids: ids.slice(2, 4) },
  ];
  it("extracts once, reuses, re-extracts changed items, and rebuilds a corrupt cache", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "peftlab-fcache-"));
    const model = new TinyNet(4);
    const imgs = tf.randomNormal([4, 6, 6, 3], 0, 1, "float32", 9);
    const ids = ["a", "b", "c", "d"];
    const opts = { dir, preprocessing: { resize: 6, mean: [0, 0, 0] }, log: () => undefined };
    const first = await extractFeatures(model, batchesOf(imgs, ids, [0, 1, 2, 0]), opts);
    assert.equal(first.computed, 4);
    // The weights are hashed with asynchronous reads (webgpu-safe); the key is the synchronous one's.
    assert.equal(await weightsHashOfAsync(model), weightsHashOf(model));
    assert.equal(first.key, featureCacheKey(model, opts));
    const direct = model.forwardFeatures(imgs).dataSync();
    assert.ok(first.features.every((v, i) => Math.abs(v - direct[i]) < 1e-6));
    const again = await extractFeatures(model, batchesOf(imgs, ids, [0, 1, 2, 0]), opts);
    assert.equal(again.computed, 0);
    assert.deepEqual(Array.from(again.features), Array.from(first.features));
    assert.deepEqual(Array.from(again.labels), [0, 1, 2, 0]);
    // Another preprocessing is another entry.
    const other = await extractFeatures(model, batchesOf(imgs, ids, [0, 1, 2, 0]), { ...opts, preprocessing: "other" });
    assert.equal(other.computed, 4);
    assert.notEqual(other.key, first.key);
    // A changed image is re-extracted (only its batch).
    const changedImgs = tf.concat([imgs.slice([0, 0, 0, 0], [3, -1, -1, -1]), tf.zeros([1, 6, 6, 3])]);
    const changed = await extractFeatures(model, batchesOf(changedImgs, ids, [0, 1, 2, 0]), opts);
    assert.equal(changed.computed, 2);
    // Other weights: a new key.
    const model2 = new TinyNet(5);
    assert.notEqual((await extractFeatures(model2, batchesOf(imgs, ids, [0, 1, 2, 0]), opts)).key, first.key);
    // Corrupt the data file: detected by its hash and rebuilt.
    const file = path.join(dir, `${first.key}.safetensors`);
    const bytes = fs.readFileSync(file);
    bytes[bytes.length - 1] ^= 0xff;
    fs.writeFileSync(file, bytes);
    const warnings: string[] = [];
    const rebuilt = await extractFeatures(model, batchesOf(imgs, ids, [0, 1, 2, 0]), {
      ...opts,
      log: (m) => warnings.push(m),
    });
    assert.equal(rebuilt.computed, 4);
    assert.match(warnings.join("\n"), /corrupt/);
    assert.deepEqual(Array.from(rebuilt.features), Array.from(first.features));
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
