import { strict as assert } from "node:assert";
import * as tf from "@tensorflow/tfjs";
import { fit, type TrainSource } from "../../lib/train/fit";
import { makeStrategy, STRATEGY_NAMES } from "../../lib/peft/strategies/registry";
import type { Strategy, StrategyParamGroup } from "../../lib/peft/strategies/types";
import { BatchNorm2d } from "../../lib/nn/layers";
import { Module } from "../../lib/nn/module";
import { freezeBatchNormStats } from "../../lib/train/callbacks";
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
        strategy: makeStrategy(c.name, c.opts),
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
      strategy: makeStrategy("G-FL", { every: 1 }),
    });
    const moved = changed(before, snapshot(m));
    for (const n of ALL) assert.ok(moved.includes(n), `${n} should have moved`);
    assert.ok(!moved.some((n) => n.startsWith("encoder.layers.1")), `encoder.layers.1 moved: ${moved}`);
    m.dispose();
  });

  it("an unknown strategy name lists the valid ones", () => {
    assert.throws(
      () => makeStrategy("FT-Turbo"),
      (e: unknown) => e instanceof ConfigError && STRATEGY_NAMES.every((k) => e.message.includes(k)),
    );
  });

  // fit() hands the strategy the weight decay the optimiser resolves, so a strategy's groups decay like the default
  // groups: AdamW without weightDecay → 0.01 (torch.optim.AdamW's default), any explicit value as given, SGD → 0.
  const wdCases: { optimizer: { name: "adamw" | "sgd"; lr: number; weightDecay?: number }; expected: number }[] = [
    { optimizer: { name: "adamw", lr: 1e-3 }, expected: 0.01 },
    { optimizer: { name: "adamw", lr: 1e-3, weightDecay: 0 }, expected: 0 },
    { optimizer: { name: "adamw", lr: 1e-3, weightDecay: 0.05 }, expected: 0.05 },
    { optimizer: { name: "sgd", lr: 1e-3 }, expected: 0 },
  ];
  for (const c of wdCases) {
    it(`a strategy's groups get weight decay ${c.expected} from ${JSON.stringify(c.optimizer)}`, async () => {
      const m = new TinyNet(3);
      const ft = makeStrategy("FT");
      let groups: StrategyParamGroup[] = [];
      const spy: Strategy = { ...ft, setup: (mod, ctx) => (groups = ft.setup(mod, ctx)) };
      await fit(m, memorySource(1), { task: "multiclass", epochs: 1, optimizer: c.optimizer, strategy: spy });
      assert.ok(groups.length > 0);
      for (const g of groups) assert.equal(g.weightDecay, c.expected, g.name);
      m.dispose();
    });
  }

  it("a strategy on a model that is not an ImageClassifier is a ConfigError naming the strategy", async () => {
    class Bare extends Module {
      forward(x: tf.Tensor) {
        return tf.mean(x, [1, 2]);
      }
    }
    await assert.rejects(
      fit(new Bare(), memorySource(1), {
        task: "multiclass",
        epochs: 1,
        optimizer: { name: "sgd", lr: 0.1 },
        strategy: makeStrategy("LP"),
      }),
      (e: unknown) => e instanceof ConfigError && /fit\(strategy: LP\)/.test(e.message),
    );
  });
});

describeBackends("freezeBatchNormStats (fit callback)", () => {
  /** TinyNet with a BatchNorm2d on the input, so a training step would move its running statistics. */
  class BnNet extends TinyNet {
    readonly bn = this.registerModule("bn", new BatchNorm2d(3));
    forwardFeatures(x: tf.Tensor) {
      return super.forwardFeatures(this.bn.apply(x));
    }
  }
  for (const freeze of [true, false]) {
    it(`${freeze ? "keeps" : "without it, training moves"} BatchNorm running statistics${freeze ? " while the rest trains" : ""}`, async () => {
      const m = new BnNet(3);
      const before = m.stateDict();
      await fit(m, memorySource(2), {
        task: "multiclass",
        epochs: 2,
        optimizer: { name: "sgd", lr: 0.05 },
        callbacks: freeze ? [freezeBatchNormStats(m)] : [],
      });
      const after = m.stateDict();
      const same = (k: string) => before.get(k)!.data.every((v, i) => v === after.get(k)!.data[i]);
      assert.equal(same("bn.running_mean") && same("bn.running_var"), freeze);
      assert.ok(!same("head.weight"), "the head trains either way");
      m.dispose();
    });
  }
});
