import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { cli } from "../helpers/cli";
import { initBackend } from "../../lib/backend";
import { imageFolderDataset } from "../../lib/data";
import { computeMetrics } from "../../lib/metrics";
import { sharedPath } from "../../lib/paths";
import { mapClassesByName } from "../../lib/experiments/run_data";
import { readPredsCsv } from "../../lib/experiments/preds_csv";

/** Copies `perClass` PBC images of each listed class into root/<class>/. */
function pbcFolder(root: string, classes: string[], perClass: number, offset = 0): string {
  for (const c of classes) {
    const src = sharedPath("data", "pbc-jpeg", c);
    fs.mkdirSync(path.join(root, c), { recursive: true });
    for (const f of fs
      .readdirSync(src)
      .sort()
      .slice(offset, offset + perClass))
      fs.copyFileSync(path.join(src, f), path.join(root, c, f));
  }
  return root;
}

describe("peftlab train / eval / metrics", function () {
  this.timeout(300000);
  let tmp: string;
  let data: string;
  let savedCache: string | undefined;
  before(async () => {
    await initBackend({ prefer: "cpu", log: null, env: {} });
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "peftlab-train-cli-"));
    savedCache = process.env.PEFTLAB_CACHE;
    process.env.PEFTLAB_CACHE = path.join(tmp, "cache"); // keep the feature cache out of the user's home
    data = pbcFolder(path.join(tmp, "data"), ["basophil", "eosinophil", "platelet"], 8);
  });
  after(() => {
    if (savedCache === undefined) delete process.env.PEFTLAB_CACHE;
    else process.env.PEFTLAB_CACHE = savedCache;
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  const methods = [
    { name: "logreg", method: { kind: "logreg" }, result: "probe.safetensors" },
    { name: "FT", method: { kind: "strategy", name: "FT" }, result: "model.safetensors" },
    // A non-FT arm through lib/peft's strategies (penalty towards the pretrained weights, β on the head).
    {
      name: "L2-SP",
      method: { kind: "strategy", name: "L2-SP", options: { alpha: 0.01, beta: 0.01 } },
      result: "model.safetensors",
    },
    {
      name: "LoRA",
      method: { kind: "lora", lora: { r: 2, loraAlpha: 4, targetModules: ["conv1", "conv2"] } },
      result: "adapter/adapter_model.safetensors",
    },
  ];
  for (const m of methods) {
    it(`train → eval round trip (${m.name}) reproduces the run's test metrics`, async () => {
      const cfgFile = path.join(tmp, `${m.name}.json`);
      fs.writeFileSync(
        cfgFile,
        JSON.stringify({
          name: m.name,
          seed: 0,
          backend: "cpu",
          model: { id: "fixture:resnet_basic" },
          data: {
            source: { kind: "imageFolder", path: data },
            split: { kind: "stratified", fractions: { train: 0.5, val: 0.25, test: 0.25 }, seed: 0 },
          },
          method: m.method,
          training: { epochs: 2, batchSize: 4, optimizer: { name: "adamw", lr: 0.01 } },
        }),
      );
      const out = path.join(tmp, `run-${m.name}`);
      const tr = await cli("train", "--config", cfgFile, "--out", out, "--json", "--quiet");
      assert.equal(tr.code, 0, tr.err);
      for (const f of ["config.json", "summary.json", m.result])
        assert.ok(fs.existsSync(path.join(out, f)), `${f} written`);
      const summary = JSON.parse(fs.readFileSync(path.join(out, "summary.json"), "utf8"));
      assert.equal(summary.backend, "cpu");
      assert.equal(summary.method, m.name.toLowerCase());
      assert.ok(summary.trainableParams > 0 && summary.totalParams >= summary.trainableParams);
      if (m.name !== "logreg")
        assert.equal(fs.readFileSync(path.join(out, "metrics.jsonl"), "utf8").trim().split("\n").length, 2);
      // Evaluating on the run's own test images gives the run's test metrics.
      const testDir = path.join(tmp, `test-${m.name}`);
      for (const line of fs.readFileSync(path.join(out, "preds_test.csv"), "utf8").trim().split("\n").slice(1)) {
        const id = line.split(",")[0];
        fs.mkdirSync(path.join(testDir, path.dirname(id)), { recursive: true });
        fs.copyFileSync(path.join(data, id), path.join(testDir, id));
      }
      const ev = await cli("eval", "--run", out, "--data", testDir, "--json");
      assert.equal(ev.code, 0, ev.err);
      const r = JSON.parse(ev.out);
      for (const k of ["accuracy", "roc_auc_ovr", "log_loss"]) {
        if (summary.metrics.test[k] === undefined) continue;
        assert.ok(
          Math.abs(r.metrics[k] - summary.metrics.test[k]) <= 1e-5,
          `${k}: eval ${r.metrics[k]} vs train ${summary.metrics.test[k]}`,
        );
      }
      const preds = readPredsCsv(path.join(out, "preds.csv"));
      assert.equal(preds.scoreCols, 3);
      assert.equal(preds.ids.length, 6);
    });
  }

  it("eval --split test scores exactly the run's held-out images; without it, it counts the images the run saw", async () => {
    const out = path.join(tmp, "run-logreg");
    const summary = JSON.parse(fs.readFileSync(path.join(out, "summary.json"), "utf8"));
    const held = await cli("eval", "--run", out, "--data", data, "--split", "test", "--json");
    assert.equal(held.code, 0, held.err);
    const h = JSON.parse(held.out);
    assert.deepEqual([h.n, h.split, h.seenInTraining, h.seenInValidation], [6, "test", 0, 0]);
    assert.ok(Math.abs(h.metrics.accuracy - summary.metrics.test.accuracy) <= 1e-9);
    const all = JSON.parse((await cli("eval", "--run", out, "--data", data, "--json")).out);
    assert.deepEqual([all.n, all.seenInTraining, all.seenInValidation], [24, 12, 6]);
    const bad = await cli("eval", "--run", out, "--data", data, "--split", "holdout");
    assert.equal(bad.code, 2);
    assert.match(bad.err, /Unknown split.*train, val, test/s);
    const elsewhere = pbcFolder(path.join(tmp, "elsewhere"), ["basophil", "eosinophil", "platelet"], 2, 100);
    const none = await cli("eval", "--run", out, "--data", elsewhere, "--split", "test");
    assert.equal(none.code, 2);
    assert.match(none.err, /No image of the data is in the run's test split/);
  });

  it("eval refuses data with other classes, listing both class lists", async () => {
    const other = pbcFolder(path.join(tmp, "other"), ["basophil", "monocyte"], 2);
    const r = await cli("eval", "--run", path.join(tmp, "run-logreg"), "--data", other);
    assert.equal(r.code, 2);
    assert.match(r.err, /basophil, eosinophil, platelet/);
    assert.match(r.err, /basophil, monocyte/);
  });

  it("maps classes by name, whatever their order", () => {
    const ds = imageFolderDataset(data);
    const mapped = mapClassesByName(ds, ["platelet", "basophil", "eosinophil"], "test");
    ds.items.forEach((it, i) => assert.equal(mapped.classes[mapped.items[i].label!], ds.classes[it.label!]));
  });

  const csvCases = [
    {
      task: "multiclass",
      csv: "id,label,score_0,score_1,score_2\na,0,0.7,0.2,0.1\nb,1,0.3,0.4,0.3\nc,2,0.5,0.1,0.4\nd,2,0.1,0.1,0.8\ne,0,0.2,0.5,0.3\n",
    },
    { task: "binary", csv: "id,label,score\na,0,0.2\nb,1,0.7\nc,1,0.4\nd,0,0.6\ne,1,0.9\n" },
    {
      task: "multilabel",
      csv: "id,label_0,label_1,score_0,score_1\na,1,0,0.8,0.3\nb,0,1,0.4,0.6\nc,1,1,0.7,0.2\nd,0,0,0.1,0.9\n",
    },
  ];
  for (const c of csvCases) {
    it(`peftlab metrics equals computeMetrics (${c.task})`, async () => {
      const f = path.join(tmp, `${c.task}.csv`);
      fs.writeFileSync(f, c.csv);
      const r = await cli("metrics", f, "--json");
      assert.equal(r.code, 0, r.err);
      const got = JSON.parse(r.out);
      const rows = c.csv
        .trim()
        .split("\n")
        .slice(1)
        .map((l) => l.split(",").slice(1).map(Number));
      const nl = c.task === "multilabel" ? 2 : 1;
      const n = rows.length;
      const labels = rows.flatMap((r) => r.slice(0, nl));
      const scores = rows.flatMap((r) => r.slice(nl));
      const want = computeMetrics({
        task: c.task as "binary",
        yTrue: c.task === "multilabel" ? { data: labels, rows: n, cols: 2 } : labels,
        scores: c.task === "binary" ? scores : { data: scores, rows: n, cols: scores.length / n },
      });
      assert.equal(got.task, c.task);
      assert.deepEqual(Object.keys(got.values).sort(), Object.keys(want.values).sort());
      for (const [k, v] of Object.entries(want.values))
        assert.ok(Number.isNaN(v) ? got.values[k] === null : Math.abs(got.values[k] - v) <= 1e-12, k);
    });
  }
});
