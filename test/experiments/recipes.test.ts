/** lib/experiments (and what moved down from lib/recipes): host batches, the CNN frozen-prefix split, trainEvaluate + strategies, sweeps and summaries. */
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { MobileNetV2 } from "../../lib/models/mobilenetv2";
import { createVit, type VisionTransformer } from "../../lib/models/vit";
import { recordsTable } from "../../lib/results/tables";
import {
  DAVILA_STRATEGIES,
  davilaRecipe,
  HostBatches,
  hostTransferData,
  improvementSummary,
  medPeftLora,
  medPeftLoraSetting,
  repoolVit,
  splitCnnAtStage,
  sweepRuns,
  trainEvaluate,
  type HostImages,
  type HostSplits,
} from "../../lib";
import { describeBackends, maxAbsDiff } from "../helpers/backends";

/** N items of shape [4, 4, 3] whose label is decided by the sign of the mean of channel 0 (learnable). */
function toyImages(n: number, seed: number): HostImages {
  const per = 4 * 4 * 3;
  const x = new Float32Array(n * per);
  let s = seed * 9301 + 49297;
  const rnd = () => ((s = (s * 9301 + 49297) % 233280) / 233280) * 2 - 1;
  const labels = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const y = i % 2;
    labels[i] = y;
    for (let j = 0; j < per; j++) x[i * per + j] = rnd() * 0.5 + (j % 3 === 0 ? (y ? 0.8 : -0.8) : 0);
  }
  return { x, n, itemShape: [4, 4, 3], labels, ids: Array.from({ length: n }, (_, i) => `item${i}`) };
}

function toySplits(): HostSplits {
  return { name: "toy", classes: ["a", "b"], train: toyImages(48, 1), val: toyImages(16, 2), test: toyImages(16, 3) };
}

function tinyVitModel(numClasses: number, seed = 0): VisionTransformer {
  return createVit({ imgSize: 4, patchSize: 2, embedDim: 16, depth: 2, numHeads: 2, numClasses, seed });
}

describe("recipes: HostBatches", () => {
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

describeBackends("recipes: splitCnnAtStage", () => {
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

describeBackends("recipes: trainEvaluate with strategies", () => {
  it("FT learns the toy task, LP trains only the head, and the best validation epoch is restored", async () => {
    const data = hostTransferData(toySplits(), { batchSize: 16, evalBatchSize: 16, seed: 0, labelDtype: "int32" });
    const ft = await trainEvaluate({
      model: tinyVitModel(2),
      strategy: davilaRecipe("FT").strategy,
      ...data,
      fit: { task: "binary", epochs: 6, seed: 0, optimizer: { name: "adam", lr: 1e-2 } },
      monitor: "val_accuracy",
      modelId: "tiny",
      method: "FT",
      dataset: "toy",
      seed: 0,
      scale: "ci",
      config: {},
    });
    assert.ok(ft.record.metrics.test.accuracy > 0.8, `FT test accuracy ${ft.record.metrics.test.accuracy}`);
    const best = Math.max(...ft.history.map((h) => h.val_accuracy));
    assert.equal(ft.record.metrics.val.accuracy, best, "val metric is the best epoch's");
    const model = tinyVitModel(2);
    const lp = await trainEvaluate({
      model,
      strategy: davilaRecipe("LP").strategy,
      ...hostTransferData(toySplits(), { batchSize: 16, evalBatchSize: 16, seed: 0, labelDtype: "int32" }),
      fit: { task: "binary", epochs: 1, seed: 0, optimizer: { name: "adam", lr: 1e-2 } },
      modelId: "tiny",
      method: "LP",
      dataset: "toy",
      seed: 0,
      scale: "ci",
      config: {},
    });
    assert.equal(lp.record.trainableParams, 16 * 2 + 2, "head only");
    assert.equal(lp.record.totalParams, model.numParameters());
  });
  it("every Davila arm runs one epoch through fit()", async () => {
    for (const name of DAVILA_STRATEGIES) {
      const r = await trainEvaluate({
        model: tinyVitModel(2),
        strategy: davilaRecipe(name, { lrFt: 1e-3, lrLp: 1e-2, epochs: 2 }).strategy,
        ...hostTransferData(toySplits(), { batchSize: 24, evalBatchSize: 16, seed: 0, labelDtype: "int32" }),
        fit: { task: "binary", epochs: 2, seed: 0, optimizer: { name: "adam", lr: 1e-3 } },
        modelId: "tiny",
        method: name,
        dataset: "toy",
        seed: 0,
        scale: "ci",
        config: {},
      });
      assert.equal(r.history.length, 2, name);
      assert.ok(Number.isFinite(r.record.metrics.test.loss), name);
    }
  });
});

describe("recipes: sweeps and summaries", () => {
  it("sweepRuns runs each spec once and resumes from the log", async () => {
    const log = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "recipes-")), "runs.jsonl");
    let calls = 0;
    const run = async (s: { method: string; seed: number }) => {
      calls++;
      const data = hostTransferData(toySplits(), {
        batchSize: 24,
        evalBatchSize: 16,
        seed: s.seed,
        labelDtype: "int32",
      });
      return trainEvaluate({
        model: tinyVitModel(2, s.seed),
        strategy: davilaRecipe(s.method as "FT").strategy,
        ...data,
        fit: { task: "binary", epochs: 1, seed: s.seed, optimizer: { name: "adam", lr: 1e-2 } },
        modelId: "tiny",
        method: s.method,
        dataset: "toy",
        seed: s.seed,
        scale: "ci",
        config: { ...s },
      });
    };
    const specs = [
      { method: "FT", seed: 0 },
      { method: "LP", seed: 0 },
    ];
    const first = await sweepRuns({ log, specs, identify: (s) => s, run });
    assert.equal(calls, 2);
    assert.equal(first.tests.size, 2);
    const second = await sweepRuns({ log, specs, identify: (s) => s, run });
    assert.equal(calls, 2, "nothing re-run");
    assert.equal(second.skipped, 2);
    assert.deepEqual(
      second.records.map((r) => r.id),
      first.records.map((r) => r.id),
    );
    await sweepRuns({ log, specs, identify: (s) => s, run, fresh: true });
    assert.equal(calls, 4, "fresh re-runs everything");
  });
  it("improvementSummary counts cases where the candidate's mean beats the baseline's", () => {
    const rec = (method: string, dataset: string, seed: number, acc: number) => ({
      id: `${method}${dataset}${seed}`,
      config: {},
      modelId: "m",
      method,
      dataset,
      seed,
      metrics: { test: { accuracy: acc } },
      trainableParams: 1,
      totalParams: 1,
      wallTimeS: 0,
      backend: "cpu",
      scale: "ci" as const,
      startedAt: "",
      finishedAt: "",
    });
    const t = recordsTable([
      rec("FT", "a", 0, 0.5),
      rec("FT", "a", 1, 0.7),
      rec("LP-FT", "a", 0, 0.7),
      rec("LP-FT", "a", 1, 0.7),
      rec("FT", "b", 0, 0.9),
      rec("LP-FT", "b", 0, 0.8),
      rec("FT", "c", 0, 0.5),
    ]);
    const s = improvementSummary(t, { baseline: "FT", candidate: "LP-FT", metric: "test.accuracy", by: ["dataset"] });
    assert.equal(s.cases.length, 2, "case c has no LP-FT run");
    assert.equal(s.improved, 1);
    assert.equal(s.fraction, 0.5);
    assert.ok(Math.abs(s.maxRelativeGain - (0.7 - 0.6) / 0.6) < 1e-12);
    assert.throws(
      () => improvementSummary(t, { baseline: "FT", candidate: "LP-FT", metric: "test.f1", by: ["dataset"] }),
      /unknown column/,
    );
  });
});

describeBackends("recipes: ViT transfer", () => {
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
  it("medPeftLora trains q/v LoRA, fc_norm and the head only", () => {
    const { model } = repoolVit(tinyVitModel(3), { globalPool: "avg", fcNorm: true, numClasses: 1, seed: 0 });
    const s = medPeftLora(4);
    s.setup(model, { lr: 0.1, weightDecay: 0 });
    const trainable = model
      .namedParameters()
      .filter(([, p]) => p.trainable)
      .map(([n]) => n);
    assert.ok(
      trainable.every((n) => /lora_[AB]|^fc_norm\.|^head\./.test(n)),
      trainable.join(","),
    );
    assert.ok(trainable.some((n) => n.includes("lora_A")) && trainable.includes("fc_norm.weight"));
  });
  it("medPeftLoraSetting picks the README row of the nearest fraction", () => {
    assert.deepEqual(medPeftLoraSetting("NIH", 0.01), { lr: 0.05, rank: 4 });
    assert.deepEqual(medPeftLoraSetting("NIH", 0.12), { lr: 0.05, rank: 8 });
    assert.deepEqual(medPeftLoraSetting("RSNA", 1), { lr: 0.01, rank: 32 });
  });
});
