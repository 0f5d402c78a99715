/** ciVitBackbone: pretrains once, caches by config hash, reuses the cache, and returns the requested head. */
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../../lib/backend";
import { hasShared, sharedPath } from "../../lib/paths";
import { ciVitBackbone, ciVitConfigHash, CI_VIT_ARCH, CI_VIT_PRETRAIN } from "../../lib/experiments/ci_backbone";

// A tiny stand-in so the test pretrains in seconds; the code path is the notebooks' one.
const TINY = {
  arch: { embedDim: 16, depth: 1, numHeads: 2 },
  pretrain: { steps: 2, batchSize: 16, trainFraction: 0.01 },
};

describe("ciVitBackbone", function () {
  this.timeout(180_000);
  let cacheDir: string;
  before(async function () {
    if (!hasShared() || !fs.existsSync(sharedPath("data", "pbc_28.npz"))) this.skip();
    await initBackend({ prefer: "wasm", log: null, env: {} });
    cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), "peftlab-civit-"));
  });
  after(() => {
    if (cacheDir) fs.rmSync(cacheDir, { recursive: true, force: true });
  });

  it("pretrains once (reporting live progress to callbacks), then loads the same weights from the cache", async () => {
    const events: string[] = [];
    const callbacks = [
      {
        onTrainBegin: (i: { epochs: number; stepsPerEpoch?: number }) =>
          events.push(`begin ${(i.stepsPerEpoch ?? 0) > 0}`),
        onBatchEnd: (i: { step: number; loss: number; imgPerSec?: number }) =>
          events.push(`step ${i.step} ${Number.isFinite(i.loss) && (i.imgPerSec ?? 0) > 0}`),
        onTrainEnd: () => events.push("end"),
      },
    ];
    const a = await ciVitBackbone({ cacheDir, log: null, ...TINY, callbacks });
    // fit() reports its plan (whole epochs over the loader), then exactly the 2 budgeted updates.
    assert.deepEqual(events, ["begin true", "step 1 true", "step 2 true", "end"]);
    assert.equal(a.cached, false);
    assert.ok(fs.existsSync(a.file));
    assert.ok(a.file.startsWith(path.join(cacheDir, "ci_backbone")));
    assert.ok(a.file.includes(a.hash));
    const mtime = fs.statSync(a.file).mtimeMs;
    const b = await ciVitBackbone({ cacheDir, log: null, ...TINY, callbacks });
    assert.equal(b.cached, true);
    assert.equal(events.length, 4, "no progress when the cache answers");
    assert.equal(b.hash, a.hash);
    assert.equal(fs.statSync(b.file).mtimeMs, mtime, "the cache file is not rewritten");
    assert.deepEqual(b.report, a.report);
    const sa = a.model.stateDict();
    const sb = b.model.stateDict();
    assert.deepEqual([...sb.keys()], [...sa.keys()]);
    for (const [k, t] of sa)
      assert.deepEqual(Array.from(sb.get(k)!.data as Float32Array), Array.from(t.data as Float32Array), k);
    assert.equal(fs.readdirSync(path.join(cacheDir, "ci_backbone")).filter((f) => f.endsWith(".lock")).length, 0);
  });

  it("keys the cache by config: another setting is another file", async () => {
    const a = await ciVitBackbone({ cacheDir, log: null, ...TINY });
    const c = await ciVitBackbone({ cacheDir, log: null, ...TINY, pretrain: { ...TINY.pretrain, steps: 3 } });
    assert.equal(c.cached, false);
    assert.notEqual(c.hash, a.hash);
    assert.notEqual(c.file, a.file);
    const data = sharedPath("data", "pbc_28.npz");
    const h = ciVitConfigHash({ ...CI_VIT_ARCH }, { ...CI_VIT_PRETRAIN }, data);
    assert.equal(h, ciVitConfigHash({ ...CI_VIT_ARCH }, { ...CI_VIT_PRETRAIN }, data), "hash is deterministic");
    assert.notEqual(h, ciVitConfigHash({ ...CI_VIT_ARCH, depth: 5 }, { ...CI_VIT_PRETRAIN }, data));
    assert.notEqual(h, ciVitConfigHash({ ...CI_VIT_ARCH }, { ...CI_VIT_PRETRAIN, seed: 1 }, data));
  });

  it("returns a feature extractor by default and a fresh K-class head on request", async () => {
    const f = await ciVitBackbone({ cacheDir, log: null, ...TINY });
    const k = await ciVitBackbone({ cacheDir, log: null, ...TINY, numClasses: 2 });
    const x = tf.randomNormal([3, 28, 28, 3]);
    const yf = f.model.apply(x);
    const yk = k.model.apply(x);
    assert.deepEqual(yf.shape, [3, 16]);
    assert.deepEqual(yk.shape, [3, 2]);
    assert.equal(f.model.training, false, "returned in eval mode");
    tf.dispose([x, yf, yk]);
  });

  it("rebuilds an unreadable cache file", async () => {
    const a = await ciVitBackbone({ cacheDir, log: null, ...TINY });
    fs.writeFileSync(a.file, "not a safetensors file");
    const b = await ciVitBackbone({ cacheDir, log: null, ...TINY });
    assert.equal(b.cached, false);
    assert.equal((await ciVitBackbone({ cacheDir, log: null, ...TINY })).cached, true);
  });
});
