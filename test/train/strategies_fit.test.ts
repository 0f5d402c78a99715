import { strict as assert } from "node:assert";
import * as tf from "@tensorflow/tfjs";
import { fit, type TrainSource } from "../../lib/train/fit";
import { fitStrategyOf, makeStrategy, STRATEGY_FACTORIES } from "../../lib/train/strategy_adapter";
import { ConfigError } from "../../lib/errors";
import { TinyNet, tinyImages } from "../peft/tiny_models";
import { describeBackends } from "../helpers/backends";

/** An in-memory TrainSource of `n` batches per epoch with a resumable position. */
function memorySource(batches: number, bs = 4): TrainSource {
  let pos = { epoch: 0, batch: 0 };
  return {
    batchesPerEpoch: () => batches,
    state: () => ({ ...pos, seed: 0 }),
    seek: (s) => (pos = { epoch: s.epoch, batch: s.batch }),
    async next() {
      if (pos.batch >= batches) {
        pos = { epoch: pos.epoch + 1, batch: 0 };
        return null;
      }
      const i = pos.epoch * batches + pos.batch++;
      const x = tinyImages(bs, 8, 100 + (i % batches));
      const y = tf.tensor1d(
        Array.from({ length: bs }, (_, j) => (i + j) % 3),
        "int32",
      );
      return { x, y, ids: [], dispose: () => tf.dispose([x, y]) };
    },
  };
}

function snapshot(m: TinyNet): Map<string, Float32Array> {
  return new Map(m.namedParameters().map(([n, p]) => [n, Float32Array.from(p.variable.dataSync())]));
}
function changed(a: Map<string, Float32Array>, b: Map<string, Float32Array>): string[] {
  return [...a.keys()].filter((k) => a.get(k)!.some((v, i) => v !== b.get(k)![i]));
}

const ALL = ["conv1.weight", "conv1.bias", "pw.weight", "pw.bias"];
const cases: {
  name: string;
  opts?: Record<string, unknown>;
  epochs: number;
  expectChanged: (all: string[]) => string[];
}[] = [
  { name: "FT", epochs: 1, expectChanged: (all) => all },
  { name: "LP", epochs: 1, expectChanged: () => ["head.weight", "head.bias"] },
  { name: "LP-FT", opts: { lpEpochs: 1 }, epochs: 1, expectChanged: () => ["head.weight", "head.bias"] },
  { name: "LP-FT", opts: { lpEpochs: 1 }, epochs: 2, expectChanged: (all) => all },
  { name: "G-LF", opts: { every: 1 }, epochs: 1, expectChanged: () => ["head.weight", "head.bias"] },
  { name: "L2-SP", epochs: 1, expectChanged: (all) => all },
  { name: "L1-SP", epochs: 1, expectChanged: (all) => all },
  { name: "Auto-RGN", epochs: 1, expectChanged: (all) => all },
  { name: "LLRD", opts: { decay: 0.65 }, epochs: 1, expectChanged: (all) => all },
];

describeBackends("fit() with every fine-tuning strategy", () => {
  for (const c of cases) {
    it(`${c.name} ${JSON.stringify(c.opts ?? {})} × ${c.epochs} epoch(s) updates exactly the expected parameters`, async () => {
      const m = new TinyNet(3);
      const before = snapshot(m);
      const all = [...before.keys()];
      const r = await fit(m, memorySource(2), {
        task: "multiclass",
        epochs: c.epochs,
        optimizer: { name: "sgd", lr: 0.05 },
        strategy: fitStrategyOf(makeStrategy(c.name, c.opts)),
      });
      assert.equal(r.history.length, c.epochs);
      assert.deepEqual(changed(before, snapshot(m)).sort(), c.expectChanged(all).sort());
      m.dispose();
    });
  }

  it("G-FL unfreezes from the input side: after epoch 2 the stem has moved, the last encoder layer has not", async () => {
    const m = new TinyNet(3);
    const before = snapshot(m);
    await fit(m, memorySource(2), {
      task: "multiclass",
      epochs: 2,
      optimizer: { name: "sgd", lr: 0.05 },
      strategy: fitStrategyOf(makeStrategy("G-FL", { every: 1 })),
    });
    const moved = changed(before, snapshot(m));
    for (const n of ALL) assert.ok(moved.includes(n), `${n} should have moved`);
    assert.ok(!moved.some((n) => n.startsWith("encoder.layers.1")), `encoder.layers.1 moved: ${moved}`);
    m.dispose();
  });

  it("an unknown strategy name lists the valid ones", () => {
    assert.throws(
      () => makeStrategy("FT-Turbo"),
      (e: unknown) => e instanceof ConfigError && Object.keys(STRATEGY_FACTORIES).every((k) => e.message.includes(k)),
    );
  });
});
