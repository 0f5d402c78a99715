/**
 * Frozen-prefix training (lib/bench/frozen_prefix.ts) gives the same gradients and the same AdamW updates as
 * full-forward training on a tiny ViT with LoRA on its last blocks, and refuses prefixes it cannot cache.
 */
import { strict as assert } from "node:assert";
import * as tf from "@tensorflow/tfjs";
import { ConfigError } from "../../lib/errors";
import { createVit, type VisionTransformer } from "../../lib/models/vit";
import type { GlobalPool } from "../../lib/models/vit_config";
import { getPeftModel, type LoraModel } from "../../lib/peft/lora";
import {
  firstTrainableBlock,
  lossGradients,
  prefixTrainStep,
  PrefixTokenCache,
  splitVitAtBlock,
  suffixGradients,
} from "../../lib/bench/frozen_prefix";
import { crossEntropy } from "../../lib/train/loss";
import { defaultParamGroups, Optimizer, type OptimizerOptions } from "../../lib/train/optim";
import { describeBackends, maxAbsDiff } from "../helpers/backends";

const TOL = 1e-5;

interface Case {
  name: string;
  pool: GlobalPool;
  /** Blocks with LoRA on qkv. */
  loraBlocks: number[];
  depth: number;
}

const CASES: Case[] = [
  { name: "cls pooling, LoRA on the last 2 of 4 blocks", pool: "token", loraBlocks: [2, 3], depth: 4 },
  { name: "avg pooling + fc_norm, LoRA on the last block", pool: "avg", loraBlocks: [3], depth: 4 },
  { name: "LoRA on blocks 1 and 3 (cut at 1)", pool: "token", loraBlocks: [1, 3], depth: 4 },
];

function tinyLoraVit(c: Case): { model: VisionTransformer; lm: LoraModel<VisionTransformer> } {
  const model = createVit({
    imgSize: 16,
    patchSize: 4,
    embedDim: 16,
    depth: c.depth,
    numHeads: 2,
    numClasses: 3,
    globalPool: c.pool,
    seed: 3,
  });
  const target = `blocks\\.(${c.loraBlocks.join("|")})\\.attn\\.qkv`;
  const lm = getPeftModel(model, { targetModules: target, r: 4, loraAlpha: 8, modulesToSave: ["head"], seed: 1 });
  // B starts at zero; give it values so gradients through A are not all zero and the test can fail.
  let s = 0;
  for (const l of lm.layers.values()) {
    const b = tf.randomNormal(l.loraB.weight.shape, 0, 0.1, "float32", 100 + s++);
    l.loraB.weight.assign(b);
    b.dispose();
  }
  return { model, lm };
}

function batch(seed: number, n = 3): { x: tf.Tensor4D; y: tf.Tensor1D; ids: string[] } {
  return {
    x: tf.randomNormal([n, 16, 16, 3], 0, 1, "float32", seed),
    y: tf.tensor1d(
      Array.from({ length: n }, (_, i) => (i + seed) % 3),
      "int32",
    ),
    ids: Array.from({ length: n }, (_, i) => `s${seed}-${i}`),
  };
}

const ADAMW: OptimizerOptions = { name: "adamw", lr: 1e-2, weightDecay: 0.05 };

describeBackends("frozen-prefix training", () => {
  for (const c of CASES) {
    it(`${c.name}: same gradients as the full forward`, () => {
      const { model } = tinyLoraVit(c);
      const split = splitVitAtBlock(model);
      assert.equal(split.prefixBlocks, Math.min(...c.loraBlocks));
      const { x, y, ids } = batch(7);
      const full = lossGradients(model, () => crossEntropy(model.apply(x), y));
      const cache = new PrefixTokenCache(split);
      cache.fill(ids, x);
      const tokens = cache.get(ids);
      const cached = suffixGradients(split, tokens, y);
      assert.ok(full.grads.size > 0);
      assert.deepEqual([...cached.grads.keys()].sort(), [...full.grads.keys()].sort());
      assert.ok(Math.abs(full.loss.dataSync()[0] - cached.loss.dataSync()[0]) <= TOL);
      let nonZero = 0;
      for (const [n, g] of full.grads) {
        const d = maxAbsDiff(g, cached.grads.get(n)!);
        assert.ok(d <= TOL, `${n}: max |Δgrad| ${d}`);
        if (tf.max(tf.abs(g)).dataSync()[0] > 1e-6) nonZero++;
      }
      assert.equal(nonZero, full.grads.size, "every trainable parameter should get a non-zero gradient");
      tf.dispose([x, y, tokens, full.loss, cached.loss, ...full.grads.values(), ...cached.grads.values()]);
      model.dispose();
    });

    it(`${c.name}: same AdamW updates over 3 steps as the full forward`, () => {
      const a = tinyLoraVit(c);
      const b = tinyLoraVit(c);
      const optA = new Optimizer(defaultParamGroups(a.model, ADAMW), ADAMW);
      const optB = new Optimizer(defaultParamGroups(b.model, ADAMW), ADAMW);
      const split = splitVitAtBlock(b.model);
      const cache = new PrefixTokenCache(split);
      for (const seed of [11, 12, 11]) {
        const { x, y, ids } = batch(seed);
        const full = lossGradients(a.model, () => crossEntropy(a.model.apply(x), y));
        optA.apply(full.grads);
        cache.fill(ids, x);
        const tokens = cache.get(ids);
        prefixTrainStep(split, optB, tokens, y);
        tf.dispose([x, y, tokens, full.loss, ...full.grads.values()]);
      }
      assert.equal(cache.size, 6, "the repeated batch must come from the cache");
      assert.equal(cache.misses, 6);
      const pb = new Map(b.model.namedParameters());
      let moved = 0;
      for (const [n, p] of a.model.namedParameters()) {
        const d = maxAbsDiff(p.variable, pb.get(n)!.variable);
        assert.ok(d <= TOL, `${n}: max |Δθ| ${d}`);
        if (p.trainable) moved++;
      }
      assert.ok(moved > 0);
      optA.dispose();
      optB.dispose();
      a.model.dispose();
      b.model.dispose();
    });
  }

  it("refuses a cut with trainable parameters or dropout in the prefix", () => {
    const { model } = tinyLoraVit(CASES[0]);
    assert.equal(firstTrainableBlock(model), 2);
    assert.throws(() => splitVitAtBlock(model, 3), ConfigError); // blocks.2 is trainable
    assert.throws(() => splitVitAtBlock(model, 0), ConfigError);
    model.unfreeze("pos_embed");
    assert.throws(() => splitVitAtBlock(model), ConfigError);
    model.dispose();
    const dp = createVit({
      imgSize: 16,
      patchSize: 4,
      embedDim: 16,
      depth: 4,
      numHeads: 2,
      numClasses: 3,
      dropPathRate: 0.1,
    });
    dp.freeze();
    dp.unfreeze("blocks.3");
    assert.throws(() => splitVitAtBlock(dp), /stochastic/);
    dp.dispose();
  });
});
