/**
 * Shared setup of the fit() tests: a tiny conv net (with dropout, so RNG state matters) on a few real PBC images
 * at 16×16, and one training function used by the in-process tests and by the kill -9 child (fit_child.ts).
 */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { imageFolderDataset, kShot, stratifiedSplit, DataLoader, type ImageDataset } from "../../lib/data";
import { Conv2d, Dropout, Linear } from "../../lib/nn/layers";
import { Module } from "../../lib/nn/module";
import { createVit, type VisionTransformer } from "../../lib/models/vit";
import { SeedSequence } from "../../lib/nn/init";
import { sharedPath } from "../../lib/paths";
import { fit, type FitOptions, type FitResult } from "../../lib/train/fit";
import { evaluate } from "../../lib/train/evaluate";

/** conv 3→6 (stride 2) → ReLU → global mean → dropout → Linear(6, K). */
export class TinyNet extends Module {
  conv: Conv2d;
  drop: Dropout;
  fc: Linear;
  constructor(k: number, seed = 0) {
    super();
    const seeds = new SeedSequence(seed);
    this.conv = this.registerModule("conv", new Conv2d(3, 6, 3, { stride: 2, padding: 1, seeds }));
    this.drop = this.registerModule("drop", new Dropout(0.2, 1));
    this.fc = this.registerModule("fc", new Linear(6, k, { seeds }));
  }
  forward(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => this.fc.apply(this.drop.apply(tf.mean(tf.relu(this.conv.apply(x)), [1, 2])))); // [B, K]
  }
}

/** 6 PBC images per class for training, 2 for validation and test (48 / 16 / 16), from the shared data. */
export function tinyPbc(perClass = 6): { train: ImageDataset; val: ImageDataset; test: ImageDataset } {
  const all = imageFolderDataset(sharedPath("data", "pbc-jpeg"));
  const small = kShot(all, perClass + 4, 0);
  const s = stratifiedSplit(
    small,
    { train: perClass / (perClass + 4), val: 2 / (perClass + 4), test: 2 / (perClass + 4) },
    0,
  );
  return { train: s.train, val: s.val, test: s.test };
}

export const TINY_TRANSFORM = { size: 16, normalize: "imagenet" as const };

/**
 * A 16×16 ViT (patch 8, D 16, 3 blocks) with every stochastic layer on: dropout 0.1 everywhere (pos, attention
 * probabilities, projections, MLP, head) and drop path rising to 0.1, as timm fine-tuning recipes (notebook 03) use.
 */
export function tinyVit(): VisionTransformer {
  return createVit({
    imgSize: 16,
    patchSize: 8,
    embedDim: 16,
    depth: 3,
    numHeads: 2,
    numClasses: 8,
    dropRate: 0.1,
    posDropRate: 0.1,
    attnDropRate: 0.1,
    projDropRate: 0.1,
    dropPathRate: 0.1,
    seed: 0,
  });
}

/** Which tiny model trainTiny trains. */
export type TinyKind = "cnn" | "vit";

/** Trains a TinyNet (or the tiny ViT) with fit() and returns its test metrics and fit result. */
export async function trainTiny(
  data: { train: ImageDataset; val: ImageDataset; test: ImageDataset },
  opts: Partial<FitOptions> & { batchSize?: number; kind?: TinyKind } = {},
): Promise<{ fit: FitResult; test: Record<string, number>; testLoss: number; model: Module }> {
  const model = opts.kind === "vit" ? tinyVit() : new TinyNet(8, 0);
  const train = new DataLoader(data.train, {
    batchSize: opts.batchSize ?? 8,
    transform: { ...TINY_TRANSFORM, augment: { hflip: 0.5 } },
    seed: 3,
    shuffle: true,
  });
  const val = new DataLoader(data.val, { batchSize: 8, transform: TINY_TRANSFORM });
  const test = new DataLoader(data.test, { batchSize: 8, transform: TINY_TRANSFORM });
  const { batchSize: _b, kind: _k, ...fo } = opts;
  const r = await fit(model, train, {
    task: "multiclass",
    epochs: 3,
    optimizer: { name: "adamw", lr: 0.05 },
    val,
    seed: 7,
    ...fo,
  });
  const e = await evaluate(model, test, "multiclass");
  await Promise.all([train.close(), val.close(), test.close()]);
  return { fit: r, test: e.report.values, testLoss: e.loss, model };
}

/** The child script's path (spawned by the kill -9 test). */
export const CHILD = path.join(__dirname, "fit_child.ts");

/**
 * Spawns the kill -9 child (fit_child.ts) training `kind` with a checkpoint after every update into `dir`, and
 * SIGKILLs it as soon as a checkpoint at update ≥ `killAt` is published. Resolves once the child is dead.
 */
export async function killChildAt(dir: string, killAt: number, kind: TinyKind): Promise<void> {
  const child = spawn(process.execPath, ["--require", "tsx/cjs", CHILD, dir, kind], {
    stdio: ["ignore", "pipe", "pipe"],
    cwd: path.join(__dirname, "../.."),
  });
  let err = "";
  child.stderr.on("data", (b) => (err += String(b)));
  const exited = new Promise<number | null>((r) => child.on("exit", (code) => r(code)));
  const t0 = Date.now();
  for (;;) {
    const f = path.join(dir, "latest.json");
    if (fs.existsSync(f) && JSON.parse(fs.readFileSync(f, "utf8")).step >= killAt) break;
    if (Date.now() - t0 > 180000 || child.exitCode !== null) {
      child.kill("SIGKILL");
      throw new Error(`the child made no progress (exit ${child.exitCode}): ${err}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  child.kill("SIGKILL");
  if ((await exited) !== null) throw new Error(`the child finished before it was killed: ${err}`);
}
