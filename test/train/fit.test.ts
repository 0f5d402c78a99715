import { strict as assert } from "node:assert";
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../../lib/backend";
import { TrainingError } from "../../lib/errors";
import { Linear } from "../../lib/nn/layers";
import { SeedSequence } from "../../lib/nn/init";
import { loadCheckpointDir, loadLatestCheckpoint } from "../../lib/train/checkpoint";
import { fit } from "../../lib/train/fit";
import { HostBatches } from "../../lib/data/host_batches";
import type { HostImages } from "../../lib/data/host_data";
import { CHILD, tinyPbc, trainTiny } from "./tiny";
import { tmpDir } from "../helpers/tmp";

const tmp = () => tmpDir("peftlab-fit-");

/** Separable-ish float features: class c has mean c on feature c % d. */
function features(n: number, d: number, k: number, seed: number, shuffleLabels = false) {
  let s = seed;
  const rnd = () => (s = (s * 1103515245 + 12345) % 2147483648) / 2147483648 - 0.5;
  const y = Array.from({ length: n }, (_, i) => i % k);
  const x = new Float32Array(n * d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) x[i * d + j] = rnd() + (j % k === y[i] ? 1 : 0);
  const labels = shuffleLabels ? y.map((v, i) => (i % 4 === 0 ? v : (v + 1) % k)) : y;
  return { x, n, itemShape: [d], labels: Float32Array.from(labels), ids: y.map((_, i) => String(i)) };
}

const batches = (h: HostImages, batchSize: number, shuffle: boolean) =>
  new HostBatches(h, { batchSize, shuffle, seed: 0, labelDtype: "int32" });

describe("fit() on cpu", function () {
  this.timeout(300000);
  const data = tinyPbc();
  let reference: Awaited<ReturnType<typeof trainTiny>>;

  before(async () => {
    await initBackend({ prefer: "cpu", log: null, env: {} });
    reference = await trainTiny(data);
  });

  it("is deterministic for a seed", async () => {
    const again = await trainTiny(data);
    assert.deepEqual(again.fit.history, reference.fit.history);
    assert.deepEqual(again.test, reference.test);
    const other = await trainTiny(data, { seed: 8 });
    assert.notDeepEqual(other.fit.history, reference.fit.history, "a different seed changes dropout, so the run");
  });

  it("kill -9 mid-epoch, then resume, gives the same test metrics as an uninterrupted run", async () => {
    const dir = tmp();
    const child = spawn(process.execPath, ["--require", "tsx/cjs", CHILD, dir], {
      stdio: ["ignore", "pipe", "pipe"],
      cwd: path.join(__dirname, "../.."),
    });
    let err = "";
    child.stderr.on("data", (b) => (err += String(b)));
    const exited = new Promise<number | null>((r) => child.on("exit", (code) => r(code)));
    // 48 images, batch 8: 6 updates per epoch. Kill inside epoch 2 (after update 8 is published).
    const killAt = 8;
    const t0 = Date.now();
    for (;;) {
      const f = path.join(dir, "latest.json");
      if (fs.existsSync(f) && JSON.parse(fs.readFileSync(f, "utf8")).step >= killAt) break;
      if (Date.now() - t0 > 120000) throw new Error(`child made no progress: ${err}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    child.kill("SIGKILL");
    assert.equal(await exited, null, "the child was killed, not finished");
    const ck = loadLatestCheckpoint(dir)!;
    assert.ok(ck.trainer.step >= killAt && ck.trainer.step < 18, `killed mid-run at step ${ck.trainer.step}`);
    assert.equal(ck.trainer.loader.epoch, 1, "killed inside the second epoch");
    const resumed = await trainTiny(data, { checkpointDir: dir, checkpointEverySteps: 1 });
    assert.ok(resumed.fit.resumedFrom, "resumed from the checkpoint");
    assert.ok(
      Math.abs(resumed.testLoss - reference.testLoss) <= 1e-6,
      `test loss ${resumed.testLoss} vs ${reference.testLoss}`,
    );
    for (const [k, v] of Object.entries(reference.test)) {
      if (Number.isNaN(v)) continue;
      assert.ok(Math.abs(resumed.test[k] - v) <= 1e-6, `${k}: resumed ${resumed.test[k]} vs uninterrupted ${v}`);
    }
    assert.equal(resumed.fit.history.length, reference.fit.history.length);
  });

  it("stops with TrainingError on a NaN loss and keeps the last good checkpoint", async () => {
    const dir = tmp();
    const f = features(24, 5, 3, 1);
    f.x[13 * 5] = NaN; // row 13 is in the third batch of 6 (no shuffle)
    const src = batches(f, 6, false);
    const model = new Linear(5, 3, { seeds: new SeedSequence(0) });
    await assert.rejects(
      fit(model, src, {
        task: "multiclass",
        epochs: 2,
        optimizer: { name: "sgd", lr: 0.1 },
        checkpointDir: dir,
        checkpointEverySteps: 1,
      }),
      (e: unknown) => e instanceof TrainingError && /not finite/.test(e.message) && e.where === "epoch 1, update 3",
    );
    const ck = loadLatestCheckpoint(dir)!;
    assert.equal(ck.trainer.step, 2);
    for (const h of ck.weights.values()) assert.ok(Array.from(h.data as Float32Array).every(Number.isFinite));
  });

  it("does not grow tf.memory().numTensors across epochs", async () => {
    const counts: number[] = [];
    await trainTiny(data, { epochs: 4, callbacks: [{ onEpochEnd: () => void counts.push(tf.memory().numTensors) }] });
    assert.equal(counts.length, 4);
    assert.equal(counts[3], counts[1], `tensors per epoch end: ${counts.join(", ")}`);
  });

  const stopCases: { monitor: string; mode: "min" | "max" }[] = [
    { monitor: "val_loss", mode: "min" },
    { monitor: "val_roc_auc_ovr", mode: "max" },
  ];
  for (const c of stopCases) {
    it(`early-stops and keeps the best checkpoint by ${c.mode} ${c.monitor}`, async () => {
      const dir = tmp();
      const tr = features(30, 6, 3, 2);
      const va = features(30, 6, 3, 2, true); // same inputs, other labels: val gets worse as train fits
      const model = new Linear(6, 3, { seeds: new SeedSequence(0) });
      const r = await fit(model, batches(tr, 10, true), {
        task: "multiclass",
        epochs: 30,
        optimizer: { name: "sgd", lr: 0.5 },
        val: batches(va, 10, false),
        monitor: c.monitor,
        earlyStoppingPatience: 2,
        checkpointDir: dir,
      });
      const vals = r.history.map((h) => h[c.monitor]);
      const bestIdx = vals.indexOf(c.mode === "min" ? Math.min(...vals) : Math.max(...vals));
      assert.ok(r.stoppedEarly, `stopped early (${vals.length} epochs: ${vals.map((v) => v.toFixed(3)).join(" ")})`);
      assert.equal(r.best.epoch, bestIdx + 1);
      assert.equal(r.history.length - r.best.epoch!, 2, "patience 2 epochs after the best");
      const best = loadCheckpointDir(path.join(dir, "best"));
      assert.equal(best.trainer.history.length, r.best.epoch);
      assert.equal(best.trainer.best.value, r.best.value);
    });
  }

  it("gradient accumulation of 2×B equals one step of 2B (SGD, no momentum)", async () => {
    const f = features(16, 4, 2, 5);
    const run = async (bs: number, accum: number) => {
      const model = new Linear(4, 2, { seeds: new SeedSequence(3) });
      await fit(model, batches(f, bs, false), {
        task: "multiclass",
        epochs: 2,
        optimizer: { name: "sgd", lr: 0.3 },
        gradAccumSteps: accum,
      });
      return [...model.stateDict().values()].flatMap((h) => Array.from(h.data as Float32Array));
    };
    const a = await run(4, 2);
    const b = await run(8, 1);
    const c = await run(4, 1);
    assert.ok(
      a.every((v, i) => Math.abs(v - b[i]) <= 1e-6),
      `accumulated ${a} vs big batch ${b}`,
    );
    assert.ok(
      a.some((v, i) => Math.abs(v - c[i]) > 1e-4),
      "without accumulation the result differs",
    );
  });
});
