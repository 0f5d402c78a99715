/**
 * ViT-S/16 workloads, the model of shared/bench/torch_vit_lora.py: 224×224, patch 16, D 384, 12 blocks, 6 heads,
 * MLP ×4, cls token + learned positions, LayerNorm eps 1e-5 (torch's default, as that script), 8 classes.
 * LoRA r 8, α 16 on every block's fused qkv, the head trained in full, AdamW (lr 1e-3, wd 0.01), cross-entropy.
 *
 * Besides the reference pair (train step, inference) this file measures peftlab's model-level fast paths, each
 * beside what it replaces: merged LoRA weights for inference (vs the unmerged branch) and frozen-prefix training
 * with cached block inputs when LoRA touches only the last blocks (vs running the full forward every step).
 */
import * as tf from "@tensorflow/tfjs";
import { createVit, type VisionTransformer } from "../models/vit";
import type { VitOptions } from "../models/vit_config";
import { getPeftModel, type LoraModel } from "../peft/lora";
import { prefixTrainStep, PrefixTokenCache, splitVitAtBlock } from "./frozen_prefix";
import { defaultParamGroups, Optimizer, type OptimizerOptions } from "../train/optim";
import { vitInferenceFlops, vitLoraTrainFlops, type VitShape } from "./flops";
import { round, timeSteps } from "./measure";
import {
  maxAbsDiffOf,
  randomBatch,
  timed,
  trainStep,
  type WorkloadContext,
  type WorkloadOutcome,
  type WorkloadSpec,
} from "./workload";

const CLASSES = 8;
const LORA = { r: 8, alpha: 16 };
const ADAMW: OptimizerOptions = { name: "adamw", lr: 1e-3, weightDecay: 0.01 };
/** Blocks with LoRA in the frozen-prefix pair: the last 4 of 12 (the last of 2 in --quick). */
const LAST_BLOCKS = 4;
/** Default micro-batch of the training steps: the whole batch (ViT-S/16 LoRA at batch 16 needs ~2.1 GB of wasm heap
 * since the lean custom-gradient ops); `--micro-batch N` splits it, e.g. for larger models. */
const DEFAULT_MICRO_BATCH = Number.POSITIVE_INFINITY;

interface VitSetting {
  model: VitOptions;
  batch: number;
}

function setting(quick: boolean): VitSetting {
  const common = { numClasses: CLASSES, mlpRatio: 4, layerNormEps: 1e-5, seed: 0 };
  return quick
    ? { model: { ...common, imgSize: 32, patchSize: 8, embedDim: 32, depth: 2, numHeads: 2 }, batch: 2 }
    : { model: { ...common, imgSize: 224, patchSize: 16, embedDim: 384, depth: 12, numHeads: 6 }, batch: 16 };
}

function shapeOf(s: VitSetting): VitShape {
  const m = s.model;
  return {
    imgSize: m.imgSize!,
    patchSize: m.patchSize!,
    embedDim: m.embedDim!,
    depth: m.depth!,
    mlpRatio: m.mlpRatio!,
    numClasses: CLASSES,
  };
}

/** The reference model with LoRA on qkv of `blocks` (all by default) and a trainable head. */
function buildLoraVit(
  s: VitSetting,
  blocks?: number[],
): { model: VisionTransformer; lm: LoraModel<VisionTransformer> } {
  const model = createVit(s.model);
  const target = blocks ? `blocks\\.(${blocks.join("|")})\\.attn\\.qkv` : ["qkv"];
  const lm = getPeftModel(model, { targetModules: target, r: LORA.r, loraAlpha: LORA.alpha, modulesToSave: ["head"] });
  return { model, lm };
}

/** Gives every B a small random value (B starts at 0), so merged and unmerged outputs differ if merging is wrong. */
function perturbLoraB(lm: LoraModel): void {
  let seed = 1;
  for (const l of lm.layers.values()) {
    const b = tf.randomNormal(l.loraB.weight.shape, 0, 0.02, "float32", seed++);
    l.loraB.weight.assign(b);
    b.dispose();
  }
}

async function inferStep(model: VisionTransformer, x: tf.Tensor): Promise<void> {
  const logits = model.apply(x); // [B, K]
  await logits.data(); // waits for the GPU where there is one
  logits.dispose();
}

async function loraTrain(ctx: WorkloadContext, blocks?: number[]): Promise<WorkloadOutcome> {
  const s = setting(ctx.quick);
  const { model } = buildLoraVit(s, blocks);
  model.train();
  const opt = new Optimizer(defaultParamGroups(model, ADAMW), ADAMW);
  const { x, y } = randomBatch(s.batch, s.model.imgSize!, CLASSES);
  const depth = s.model.depth!;
  const micro = Math.min(s.batch, ctx.microBatch ?? (ctx.quick ? s.batch : DEFAULT_MICRO_BATCH));
  const fwd = (t: tf.Tensor) => model.apply(t);
  const timing = await timeSteps(() => trainStep(model, opt, fwd, x, y, micro), {
    ...ctx,
    label: `train step (micro-batch ${micro})`,
  });
  const trainable = model.numParameters({ trainableOnly: true });
  tf.dispose([x, y]);
  return {
    batchSize: s.batch,
    imageSize: s.model.imgSize!,
    imagesPerRepeat: s.batch,
    timing,
    flops: vitLoraTrainFlops(shapeOf(s), { r: LORA.r, blocks: blocks ?? range(0, depth) }),
    extra: { trainableParams: trainable, loraBlocks: (blocks ?? range(0, depth)).join(","), microBatch: micro },
  };
}

async function inference(ctx: WorkloadContext, merged: boolean): Promise<WorkloadOutcome> {
  const s = setting(ctx.quick);
  const { model, lm } = buildLoraVit(s);
  perturbLoraB(lm);
  model.eval();
  const { x } = randomBatch(s.batch, s.model.imgSize!, CLASSES, 1);
  const extra: Record<string, number | string | boolean | null> = { merged };
  if (merged) {
    // The check that merging is exact, on the benchmark's own input: merged logits vs unmerged logits.
    const before = tf.tidy(() => model.apply(x));
    lm.merge();
    const after = tf.tidy(() => model.apply(x));
    extra.mergedVsUnmergedMaxAbsDiff = await maxAbsDiffOf(before, after);
    tf.dispose([before, after]);
  }
  const timing = await timeSteps(() => inferStep(model, x), {
    ...ctx,
    label: merged ? "merged inference" : "inference",
  });
  x.dispose();
  const depth = s.model.depth!;
  return {
    batchSize: s.batch,
    imageSize: s.model.imgSize!,
    imagesPerRepeat: s.batch,
    timing,
    flops: vitInferenceFlops(shapeOf(s), merged ? undefined : { r: LORA.r, blocks: depth }),
    fastPathOf: merged ? "vit_infer" : undefined,
    extra,
  };
}

/** LoRA on the last blocks, trained on cached prefix tokens: fill once (timed apart), then time suffix-only steps. */
async function prefixTrain(ctx: WorkloadContext): Promise<WorkloadOutcome> {
  const s = setting(ctx.quick);
  const depth = s.model.depth!;
  const last = ctx.quick ? 1 : LAST_BLOCKS;
  const blocks = range(depth - last, depth);
  const { model } = buildLoraVit(s, blocks);
  model.train();
  const split = splitVitAtBlock(model);
  const cache = new PrefixTokenCache(split);
  const opt = new Optimizer(defaultParamGroups(model, ADAMW), ADAMW);
  // Two distinct batches, as two batches of an epoch; steps alternate between them once both are cached.
  const batches = [0, 1].map((k) => ({
    ...randomBatch(s.batch, s.model.imgSize!, CLASSES, 10 + k),
    ids: range(0, s.batch).map((i) => `b${k}-${i}`),
  }));
  const [, fillS] = await timed(() => batches.forEach((b) => cache.fill(b.ids, b.x)));
  ctx.log(`prefix cache: ${cache.size} items, ${(cache.bytes / 2 ** 20).toFixed(1)} MiB, ${fillS.toFixed(2)} s`);
  const micro = Math.min(s.batch, ctx.microBatch ?? (ctx.quick ? s.batch : DEFAULT_MICRO_BATCH));
  const step = (i: number) => {
    const b = batches[i % batches.length];
    const tokens = cache.get(b.ids); // [B, T, D]
    // Same step as prefixTrainStep (lib/bench/frozen_prefix.ts), with the micro-batching the full-forward pair uses.
    const loss =
      micro >= s.batch
        ? prefixTrainStep(split, opt, tokens, b.y)
        : trainStep(model, opt, split.suffix, tokens, b.y, micro);
    tokens.dispose();
    return loss;
  };
  const timing = await timeSteps(step, { ...ctx, label: `cached-prefix step (micro-batch ${micro})` });
  const items = cache.size;
  const bytes = cache.bytes;
  tf.dispose(batches.flatMap((b) => [b.x, b.y]));
  cache.clear();
  return {
    batchSize: s.batch,
    imageSize: s.model.imgSize!,
    imagesPerRepeat: s.batch,
    timing,
    flops: vitLoraTrainFlops(shapeOf(s), { r: LORA.r, blocks, cachedPrefixBlocks: split.prefixBlocks }),
    fastPathOf: "vit_last4_train",
    extra: {
      prefixBlocks: split.prefixBlocks,
      cacheFillS: round(fillS, 3),
      cacheFillImgPerS: round(items / fillS, 2),
      cacheBytesPerItem: bytes / items,
      loraBlocks: blocks.join(","),
      microBatch: micro,
    },
  };
}

function range(a: number, b: number): number[] {
  return Array.from({ length: b - a }, (_, i) => a + i);
}

/** The ViT workloads, reference pair first. */
export const VIT_WORKLOADS: WorkloadSpec[] = [
  { name: "vit_lora_train", title: "ViT-S/16 LoRA(qkv r8)+head train step, AdamW, B16@224", run: (c) => loraTrain(c) },
  { name: "vit_infer", title: "ViT-S/16 + LoRA inference (unmerged), B16@224", run: (c) => inference(c, false) },
  {
    name: "vit_infer_merged",
    title: "ViT-S/16 + LoRA inference, merged weights, B16@224",
    run: (c) => inference(c, true),
  },
  {
    name: "vit_last4_train",
    title: "ViT-S/16 LoRA on blocks 8-11 + head, full forward, B16@224",
    run: (c) =>
      loraTrain(c, range(setting(c.quick).model.depth! - (c.quick ? 1 : LAST_BLOCKS), setting(c.quick).model.depth!)),
  },
  {
    name: "vit_last4_prefix_train",
    title: "ViT-S/16 LoRA on blocks 8-11 + head, cached frozen prefix, B16@224",
    run: prefixTrain,
  },
];
