import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../../lib/backend";
import { TrainingError } from "../../lib/errors";
import { Linear } from "../../lib/nn/layers";
import { SeedSequence } from "../../lib/nn/init";
import { extractFeatures, type FeatureBatch } from "../../lib/peft";
import { loadLatestCheckpoint } from "../../lib/train/checkpoint";
import { fit, type FitOptions } from "../../lib/train/fit";
import { HostBatches } from "../../lib/data/host_batches";
import { injectDiskFault } from "../helpers/disk_faults";
import { TinyNet } from "../peft/tiny_models";
import { tmpDir } from "../helpers/tmp";

/**
 * Training under disk faults: a checkpoint or feature-cache write that fails (a full disk, a read-only file system)
 * raises a TrainingError naming the file and the OS code; the previous checkpoint stays published and loadable; and
 * resuming from it gives exactly the weights of an uninterrupted run.
 */
const tmp = () => tmpDir("peftlab-disk-");

function features(n: number, d: number, k: number) {
  let s = 5;
  const rnd = () => (s = (s * 1103515245 + 12345) % 2147483648) / 2147483648 - 0.5;
  const y = Array.from({ length: n }, (_, i) => i % k);
  const x = new Float32Array(n * d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) x[i * d + j] = rnd() + (j % k === y[i] ? 1 : 0);
  return { x, n, itemShape: [d], labels: Float32Array.from(y), ids: y.map((_, i) => String(i)) };
}

const F = features(36, 5, 3);
/** 3 epochs of 6 updates (AdamW, shuffled): 18 updates, a checkpoint after each. */
async function train(dir: string | undefined): Promise<Map<string, Float32Array>> {
  const model = new Linear(5, 3, { seeds: new SeedSequence(0) });
  const o: FitOptions = { task: "multiclass", epochs: 3, optimizer: { name: "adamw", lr: 0.05 }, seed: 3 };
  if (dir) Object.assign(o, { checkpointDir: dir, checkpointEverySteps: 1 });
  await fit(model, new HostBatches(F, { batchSize: 6, shuffle: true, seed: 1, labelDtype: "int32" }), o);
  return new Map([...model.stateDict()].map(([k, h]) => [k, Float32Array.from(h.data as Float32Array)]));
}

const staged = (dir: string) => fs.readdirSync(dir).filter((d) => d.includes("staging") || d.endsWith(".tmp"));

describe("training under disk faults", function () {
  this.timeout(300_000);
  let reference: Map<string, Float32Array>;
  before(async () => {
    await initBackend({ prefer: "cpu", log: null, env: {} });
    reference = await train(undefined);
  });

  const cases: [string, "ENOSPC" | "EROFS", (p: string) => boolean][] = [
    ["ENOSPC while writing step 8's weights", "ENOSPC", (p) => /\.step-00000008\..*staging/.test(p)],
    ["ENOSPC while publishing latest.json after step 8", "ENOSPC", (p) => /latest\.json\..*\.tmp$/.test(p)],
    ["the folder turns read-only (EROFS) before step 8", "EROFS", (p) => /\.step-00000008\..*staging/.test(p)],
  ];
  for (const [name, code, match] of cases) {
    it(`${name}: TrainingError; step 7 stays loadable; resume equals an uninterrupted run`, async () => {
      const dir = tmp();
      const latestFault = name.includes("latest.json");
      let armed = false;
      // latest.json is rewritten after every step: fail it only once step 8's folder exists.
      const restore = injectDiskFault(code, (p) =>
        latestFault ? (armed ||= fs.existsSync(path.join(dir, "step-00000008"))) && match(p) : match(p),
      );
      try {
        await assert.rejects(train(dir), (e: unknown) => {
          assert.ok(e instanceof TrainingError, `a TrainingError, got ${String(e)}`);
          assert.match(e.message, new RegExp(`^Cannot write checkpoint step 8 under ${dir}`));
          assert.match(e.got ?? "", new RegExp(`^${code}`));
          assert.ok(e.where?.startsWith(dir), e.where);
          assert.match(e.fix ?? "", code === "ENOSPC" ? /disk is full/ : /read-only/);
          return true;
        });
      } finally {
        restore();
      }
      const ck = loadLatestCheckpoint(dir)!;
      assert.equal(ck.trainer.step, 7, "latest.json still names the previous checkpoint");
      assert.deepEqual(staged(dir), [], "no partial staging folder or temporary file is left");
      const resumed = await train(dir);
      for (const [k, v] of reference) assert.deepEqual(resumed.get(k), v, `${k} equals the uninterrupted run's`);
      assert.equal(loadLatestCheckpoint(dir)!.trainer.step, 18);
    });
  }

  it("a feature-cache write that fails (ENOSPC, EROFS) is a TrainingError; the cache is rebuilt afterwards", async () => {
    const model = new TinyNet(4);
    const imgs = tf.randomNormal([4, 6, 6, 3], 0, 1, "float32", 9);
    const batches = (): FeatureBatch[] => [
      { x: imgs.slice([0, 0, 0, 0], [2, -1, -1, -1]), y: [0, 1], ids: ["a", "b"] },
      { x: imgs.slice([2, 0, 0, 0], [2, -1, -1, -1]), y: [2, 0], ids: ["c", "d"] },
    ];
    for (const code of ["ENOSPC", "EROFS"] as const) {
      const dir = tmp();
      const opts = { dir, preprocessing: "p", log: () => undefined };
      const restore = injectDiskFault(code, (p) => p.startsWith(dir));
      try {
        await assert.rejects(
          extractFeatures(model, batches(), opts),
          (e: unknown) =>
            e instanceof TrainingError &&
            /^Cannot write (feature cache entry|the feature cache folder)/.test(e.message) &&
            e.got!.startsWith(code),
        );
      } finally {
        restore();
      }
      if (fs.existsSync(dir)) assert.deepEqual(staged(dir), [], "no temporary file is left");
      const ok = await extractFeatures(model, batches(), opts);
      assert.equal(ok.computed, 4);
      assert.equal((await extractFeatures(model, batches(), opts)).computed, 0, "the rebuilt cache is used");
    }
  });
});
