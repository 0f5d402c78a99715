import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { executeSweep, SweepStore, sweepFolderStatus, sweepResults } from "../../../lib/experiments/sweep";
import { aggregateRuns } from "../../../lib/results";
import { sharedPath } from "../../../lib/paths";
import { CLI_MAIN, cliProcess } from "../../helpers/cli";

/** Copies `perClass` PBC images of each listed class into dir/<class>/. */
function pbcFolder(dir: string, classes: string[], perClass: number): string {
  for (const c of classes) {
    const src = sharedPath("data", "pbc-jpeg", c);
    fs.mkdirSync(path.join(dir, c), { recursive: true });
    for (const f of fs.readdirSync(src).sort().slice(0, perClass))
      fs.copyFileSync(path.join(src, f), path.join(dir, c, f));
  }
  return dir;
}

function startsById(store: SweepStore): Map<string, number> {
  const n = new Map<string, number>();
  for (const e of store.events()) if (e.event === "start") n.set(e.id as string, (n.get(e.id as string) ?? 0) + 1);
  return n;
}

describe("peftlab sweep: local and in-process executors", function () {
  this.timeout(900000);
  let tmp: string;
  let data: string;
  let env: NodeJS.ProcessEnv;
  let base: Record<string, unknown>;
  before(function () {
    if (!fs.existsSync(CLI_MAIN)) this.skip(); // needs `npm run build` (npm test builds first)
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "peftlab-sweep-local-"));
    data = pbcFolder(path.join(tmp, "data"), ["basophil", "eosinophil", "platelet"], 6);
    env = { ...process.env, PEFTLAB_CACHE: path.join(tmp, "cache"), PEFTLAB_THREADS: "1" };
    base = {
      name: "tiny",
      backend: "cpu",
      model: { id: "fixture:resnet_basic" },
      data: {
        source: { kind: "imageFolder", path: data },
        split: { kind: "stratified", fractions: { train: 0.5, val: 0.25, test: 0.25 }, seed: 0 },
      },
      method: { kind: "strategy", name: "FT" },
      training: { epochs: 1, batchSize: 4, optimizer: { name: "adamw", lr: 0.01 } },
    };
  });
  after(() => {
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it("local --parallel 2: train + eval per run, a failure with its log tail, resume, results read back elsewhere", async () => {
    const out = path.join(tmp, "sweep-a");
    const sweep = {
      name: "a",
      base,
      grid: { seed: [0, 1] },
      points: [{ "model.weights": path.join(tmp, "missing.safetensors") }],
      eval: { data },
    };
    const r = await executeSweep(sweep, { out, executor: "local", parallel: 2, quiet: true, env });
    assert.equal(r.started.length, 3);
    assert.deepEqual(r.status.counts, { done: 2, running: 0, failed: 1, queued: 0, pending: 0 });
    const bad = r.status.runs.find((x) => x.state === "failed");
    assert.ok(bad?.failure);
    assert.match(bad.failure.reason, /peftlab train exited with code [12]/);
    assert.match(bad.failure.logTail, /missing\.safetensors/);
    const store = new SweepStore(out);
    for (const run of r.status.runs.filter((x) => x.state === "done")) {
      const ev = JSON.parse(fs.readFileSync(path.join(store.runDir(run.id), "eval.json"), "utf8"));
      assert.equal(ev.n, 18, "eval ran on the whole eval folder");
      assert.equal(run.record?.metrics.eval.accuracy, ev.metrics.accuracy);
      assert.ok(fs.existsSync(path.join(store.runDir(run.id), "preds.csv")));
    }

    // Resume: nothing finished runs again; the failure stays until asked for.
    const starts = startsById(store);
    const again = await executeSweep(sweep, { out, executor: "local", quiet: true, env });
    assert.deepEqual(again.started, []);
    assert.deepEqual(again.failedNotRetried, [bad.id]);
    assert.deepEqual(startsById(store), starts);
    const retry = await executeSweep(sweep, { out, executor: "local", retryFailed: true, quiet: true, env });
    assert.deepEqual(retry.started, [bad.id]);
    assert.equal(startsById(store).get(bad.id), 2);

    // The folder alone (copied to another machine) gives the merged table.
    const copy = path.join(tmp, "laptop", "sweep-a");
    fs.cpSync(out, copy, { recursive: true });
    const t = sweepResults(copy);
    assert.equal(t.numRows(), 2);
    assert.deepEqual(t.columnNames().slice(0, 3), ["id", "seed", "model.weights"]);
    assert.deepEqual(t.array("seed"), [0, 1]);
    for (const c of ["test.accuracy", "eval.accuracy", "val.accuracy"]) assert.ok(t.columnNames().includes(c), c);
    assert.equal(sweepFolderStatus(copy).counts.done, 2);
  });

  it("two executors started on the same sweep never run the same id twice", async () => {
    const file = path.join(tmp, "race.json");
    fs.writeFileSync(file, JSON.stringify({ name: "race", base, grid: { seed: [0, 1, 2, 3] } }));
    const out = path.join(tmp, "sweep-race");
    const [x, y] = await Promise.all([
      cliProcess(["sweep", "run", file, "--out", out, "--json"], env),
      cliProcess(["sweep", "run", file, "--out", out, "--json"], env),
    ]);
    assert.equal(x.code, 0, x.err);
    assert.equal(y.code, 0, y.err);
    const sx = JSON.parse(x.out).started as string[];
    const sy = JSON.parse(y.out).started as string[];
    assert.equal(sx.length + sy.length, 4, `started ${sx} and ${sy}`);
    assert.deepEqual(
      sx.filter((id) => sy.includes(id)),
      [],
    );
    const store = new SweepStore(out);
    const starts = startsById(store);
    assert.equal(starts.size, 4);
    for (const [id, n] of starts) assert.equal(n, 1, `run ${id} started ${n} times`);
    assert.equal(sweepFolderStatus(out).counts.done, 4);
    const res = await cliProcess(["sweep", "results", out, "--json"], env);
    assert.equal(JSON.parse(res.out).length, 4);
  });

  it("in-process (the notebook path): runs in this process and reads back the same table", async () => {
    const saved = process.env.PEFTLAB_CACHE;
    process.env.PEFTLAB_CACHE = path.join(tmp, "cache");
    try {
      const out = path.join(tmp, "sweep-nb");
      const r = await executeSweep(
        { name: "nb", base: { ...base, method: { kind: "logreg" } }, grid: { "method.C": [0.1, 1] } },
        { out, executor: "in-process", quiet: true },
      );
      assert.deepEqual(r.status.counts.done, 2, JSON.stringify(r.status.runs.map((x) => x.detail)));
      const t = sweepResults(out);
      assert.deepEqual(t.array("method.C"), [0.1, 1]);
      assert.ok((t.array("test.accuracy") as number[]).every((v) => v >= 0 && v <= 1));
    } finally {
      if (saved === undefined) delete process.env.PEFTLAB_CACHE;
      else process.env.PEFTLAB_CACHE = saved;
    }
  });
  it("notebook 01's full-scale cell at tiny scale: its few-shot LoRA q,v grid as sweep points, read back and aggregated", async () => {
    // The same code as the cell given for notebook 01 (EXECUTOR = "local" here), with tiny parameters.
    const P = { seeds: [1], lrs: [1e-2], shots: [1, 2], warmup: 1, nIters: 1 };
    const K = 3;
    const points = P.seeds.flatMap((seed) =>
      P.lrs.flatMap((lr) =>
        P.shots.map((shots) => {
          const n = shots * K;
          const bs = Math.min(32, n);
          const steps = P.warmup + P.nIters * shots;
          return {
            seed,
            "training.optimizer.lr": lr,
            "data.trainSubset.perClass": shots,
            "training.batchSize": bs,
            "training.epochs": Math.max(1, Math.ceil(steps / Math.ceil(n / bs))),
          };
        }),
      ),
    );
    const sweep = {
      name: "01-cytology-lora",
      base: {
        name: "01-lora-qv",
        backend: "cpu",
        model: { id: "fixture:vit_timm" },
        data: (base as { data: unknown }).data,
        method: {
          kind: "lora",
          lora: {
            targetModules: ["qkv"],
            qkvParts: { parts: ["q", "v"] },
            r: 2,
            loraAlpha: 1,
            useRslora: true,
            loraDropout: 0.25,
          },
        },
        training: {
          epochs: 1,
          batchSize: 32,
          optimizer: { name: "adamw", lr: 1e-3, weightDecay: 1e-2 },
          schedule: { kind: "warmup_cosine_auto", warmupSteps: P.warmup, minLr: 1e-6 },
        },
      },
      points,
      slurm: { gres: "gpu:1", cpusPerTask: 8, mem: "32G", time: "04:00:00", parallel: 8 },
    };
    const out = path.join(tmp, "sweep-01");
    const r = await executeSweep(sweep, { out, executor: "local", parallel: 2, wait: true, quiet: true, env });
    assert.equal(r.status.counts.done, 2, JSON.stringify(r.status.runs.map((x) => x.failure?.logTail)));
    const runs = sweepResults(out).rename({ "training.optimizer.lr": "config.lr" });
    assert.deepEqual(runs.array("shots"), [1, 2]);
    assert.deepEqual(runs.array("method"), ["lora", "lora"]);
    const agg = aggregateRuns(runs, ["method", "shots", "config.lr"], ["test.accuracy", "val.accuracy"]);
    assert.equal(agg.numRows(), 2);
    assert.ok(agg.columnNames().includes("test.accuracy_mean"));
    // The adapter each run saved is peft's on-disk format.
    for (const run of r.status.runs) {
      const cfg = JSON.parse(fs.readFileSync(path.join(out, "runs", run.id, "adapter", "adapter_config.json"), "utf8"));
      assert.equal(cfg.peft_type, "LORA");
    }
  });
});
