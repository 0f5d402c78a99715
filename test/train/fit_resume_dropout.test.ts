import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { initBackend } from "../../lib/backend";
import type { StateDict } from "../../lib/io/host_tensor";
import { Dropout } from "../../lib/nn/layers";
import { DropPath } from "../../lib/models/vit_blocks";
import { loadLatestCheckpoint } from "../../lib/train/checkpoint";
import { killChildAt, tinyPbc, tinyVit, trainTiny } from "./tiny";

/** Every tensor of a state dict as exact bytes, keyed by name. */
function bytesOf(sd: StateDict): Map<string, string> {
  return new Map(
    [...sd].map(([k, h]) => [k, Buffer.from(h.data.buffer, h.data.byteOffset, h.data.byteLength).toString("hex")]),
  );
}

describe("fit() exact resume with dropout and drop path (tiny ViT, cpu)", function () {
  this.timeout(600000);
  const data = tinyPbc();
  let reference: Awaited<ReturnType<typeof trainTiny>>;

  before(async () => {
    await initBackend({ prefer: "cpu", log: null, env: {} });
    reference = await trainTiny(data, { kind: "vit" });
  });

  it("reaches every dropout and drop path through the module tree", () => {
    const m = tinyVit();
    const stochastic = m.namedModules().filter(([, x]) => x instanceof Dropout || x instanceof DropPath);
    const names = stochastic.map(([n]) => n);
    // timm's names: pos_drop, blocks.i.attn.{attn_drop,proj_drop}, blocks.i.drop_path{1,2}, blocks.i.mlp.drop{1,2}, head_drop.
    for (const n of ["pos_drop", "head_drop", "blocks.0.attn.attn_drop", "blocks.2.attn.proj_drop"])
      assert.ok(names.includes(n), `${n} in ${names.join(", ")}`);
    for (const n of ["blocks.1.drop_path1", "blocks.1.drop_path2", "blocks.1.mlp.drop1", "blocks.1.mlp.drop2"])
      assert.ok(names.includes(n), `${n} in ${names.join(", ")}`);
    assert.equal(stochastic.length, 2 + 3 * 6);
    m.eval();
    assert.ok(
      stochastic.every(([, x]) => !x.training),
      "eval() reaches them",
    );
    m.train();
    assert.ok(
      stochastic.every(([, x]) => x.training),
      "train() reaches them",
    );
    m.dispose();
  });

  it("fit()'s seed reaches them: another seed draws other masks", async () => {
    const again = await trainTiny(data, { kind: "vit", seed: 8 });
    assert.notDeepEqual(again.fit.history, reference.fit.history, "another seed draws other masks, so another run");
  });

  it("kill -9 mid-epoch, then resume, gives bit-identical weights and losses", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "peftlab-fit-vit-"));
    // 48 images, batch 8: 6 updates per epoch, 18 in all. Kill inside epoch 2.
    await killChildAt(dir, 8, "vit");
    const ck = loadLatestCheckpoint(dir)!;
    assert.ok(ck.trainer.step >= 8 && ck.trainer.step < 18, `killed mid-run at step ${ck.trainer.step}`);
    assert.equal(ck.trainer.loader.epoch, 1, "killed inside the second epoch");
    const counters = Object.entries(ck.trainer.rng);
    assert.ok(
      counters.some(([n, c]) => n.endsWith("drop_path2") && c > 0),
      `drop-path RNG counters are checkpointed: ${JSON.stringify(ck.trainer.rng)}`,
    );
    const resumed = await trainTiny(data, { kind: "vit", checkpointDir: dir, checkpointEverySteps: 1 });
    assert.ok(resumed.fit.resumedFrom, "resumed from the checkpoint");
    assert.deepEqual(resumed.fit.history, reference.fit.history, "per-epoch losses and metrics");
    assert.equal(resumed.testLoss, reference.testLoss);
    const a = bytesOf(resumed.model.stateDict());
    const b = bytesOf(reference.model.stateDict());
    assert.deepEqual([...a.keys()], [...b.keys()]);
    for (const [k, v] of b) assert.equal(a.get(k), v, `${k} differs after resume`);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
