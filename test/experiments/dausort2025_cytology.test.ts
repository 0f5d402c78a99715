import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import {
  DAUSORT_SETTINGS,
  dausortLora,
  dausortSchedule,
  dausortSweep,
  dausortSweepData,
  runDausortSweep,
} from "../../lib/experiments/papers/dausort2025_cytology";
import { planSweepInput } from "../../lib/experiments/sweep";
import { sharedPath } from "../../lib/paths";

const cliMain = path.resolve(__dirname, "../../dist/lib/cli/main.js");

describe("experiments/papers/dausort2025_cytology (seed 000)", function () {
  this.timeout(900000);

  const schedules: [
    number,
    number,
    { warmup: number; nIters: number },
    { batchSize: number; epochs: number; steps: number },
  ][] = [
    // shots, classes, settings, expected: steps ≥ warmup + nIters × shots, whole epochs
    [1, 8, { warmup: 50, nIters: 100 }, { batchSize: 8, epochs: 150, steps: 150 }],
    [16, 8, { warmup: 50, nIters: 100 }, { batchSize: 32, epochs: 413, steps: 1652 }],
    [8, 8, DAUSORT_SETTINGS.ci, { batchSize: 32, epochs: 10, steps: 20 }],
    // the added probe-head arm at ci: n_iters 4
    [
      8,
      8,
      { ...DAUSORT_SETTINGS.ci, nIters: DAUSORT_SETTINGS.ci.probeHeadNIters },
      { batchSize: 32, epochs: 18, steps: 36 },
    ],
    [
      2,
      8,
      { ...DAUSORT_SETTINGS.ci, nIters: DAUSORT_SETTINGS.ci.probeHeadNIters },
      { batchSize: 16, epochs: 11, steps: 11 },
    ],
  ];
  for (const [shots, k, s, want] of schedules) {
    it(`schedule: ${shots}-shot, ${k} classes, warmup ${s.warmup}, n_iters ${s.nIters}`, () => {
      assert.deepEqual(dausortSchedule(shots, k, s), want);
    });
  }

  it("LoRA: q and v of qkv, r 2, α 1, rsLoRA, dropout 0.25; every block at full scale, the last blocks at ci", () => {
    const full = dausortLora(DAUSORT_SETTINGS.full, 3);
    assert.deepEqual(full.qkvParts, { parts: ["q", "v"] });
    assert.deepEqual(full.targetModules, ["qkv"]);
    assert.deepEqual([full.r, full.loraAlpha, full.useRslora, full.loraDropout, full.seed], [2, 1, true, 0.25, 3]);
    assert.equal(dausortLora(DAUSORT_SETTINGS.ci, 0).targetModules, "blocks\\.(8|9|10|11)\\.attn\\.qkv");
  });

  it("dausortSweepData: a prepared dataset's manifest with its own split, else a stratified 70/10/20 image folder", () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "peftlab-dausort-data-"));
    try {
      const folder = dausortSweepData(tmp, 224) as { source: { kind: string }; split: { kind: string } };
      assert.deepEqual([folder.source.kind, folder.split.kind], ["imageFolder", "stratified"]);
      fs.writeFileSync(path.join(tmp, "dataset.json"), "{}");
      const prepared = dausortSweepData(tmp, 224) as {
        source: { kind: string; path: string };
        split: { kind: string };
      };
      assert.deepEqual([prepared.source.kind, prepared.split.kind], ["manifest", "source"]);
      assert.equal(prepared.source.path, path.join(tmp, "dataset.json"));
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });

  it("the sweep plans one run per seed × lr × shots, each with its own schedule", () => {
    const s = { ...DAUSORT_SETTINGS.full, seeds: [1, 2], lrs: [1e-3, 1e-4], shots: [1, 4] };
    const { runs } = planSweepInput(
      dausortSweep({
        settings: s,
        numClasses: 3,
        backend: "cpu",
        modelId: "fixture:vit_timm",
        data: { source: { kind: "imageFolder", path: sharedPath("data", "pbc-jpeg") }, split: { kind: "source" } },
      }),
    );
    assert.equal(runs.length, 8);
    assert.equal(new Set(runs.map((r) => r.id)).size, 8);
  });

  it("the notebook's sweep path (runDausortSweep) runs a tiny grid with the local executor and reads it back", async function () {
    if (!fs.existsSync(cliMain)) this.skip(); // needs `npm run build`
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "peftlab-dausort-"));
    try {
      const data = path.join(tmp, "data");
      for (const c of ["basophil", "eosinophil", "platelet"]) {
        const src = sharedPath("data", "pbc-jpeg", c);
        fs.mkdirSync(path.join(data, c), { recursive: true });
        for (const f of fs.readdirSync(src).sort().slice(0, 6))
          fs.copyFileSync(path.join(src, f), path.join(data, c, f));
      }
      const env = { ...process.env, PEFTLAB_CACHE: path.join(tmp, "cache"), PEFTLAB_THREADS: "1" };
      const { runs: t, status } = await runDausortSweep(
        {
          settings: { seeds: [0], lrs: [1e-3], shots: [1, 2], warmup: 1, nIters: 1, loraBlocks: [1] },
          numClasses: 3,
          backend: "cpu",
          modelId: "fixture:vit_timm",
          data: {
            source: { kind: "imageFolder", path: data },
            split: { kind: "stratified", fractions: { train: 0.5, val: 0.25, test: 0.25 }, seed: 0 },
            transform: { size: 32, normalize: "model" },
          },
        },
        { out: path.join(tmp, "sweep"), executor: "local", quiet: true, env },
      );
      assert.deepEqual(status.counts.done, 2, JSON.stringify(status.runs.map((x) => x.failure ?? x.detail)));
      assert.equal(t.numRows(), 2);
      const acc = t.array("test.accuracy") as number[];
      for (const a of acc) assert.ok(a >= 0 && a <= 1, `test accuracy ${a}`);
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });
});
