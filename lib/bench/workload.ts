/** The contract between the benchmark runner and one workload, plus helpers shared by the workload files. */
import * as tf from "@tensorflow/tfjs";
import { addNChunked } from "../nn/add_n";
import type { Module } from "../nn/module";
import { lossGradients } from "./frozen_prefix";
import { crossEntropy } from "../train/loss";
import type { Optimizer } from "../train/optim";
import type { FlopCount } from "./flops";
import type { Timing } from "./measure";

/** What the runner tells a workload. */
export interface WorkloadContext {
  /** Tiny shapes (seconds, for tests and smoke runs) instead of the real ones. */
  quick: boolean;
  warmup: number;
  repeats: number;
  /** Images for the data workloads (feature_cache, data_loader); their own default otherwise. */
  images?: number;
  /** Micro-batch of the ViT full-forward training steps (gradient accumulation); the workload's default otherwise. */
  microBatch?: number;
  /** Progress lines (stderr of the worker). */
  log: (line: string) => void;
}

/** What a workload measured. */
export interface WorkloadOutcome {
  batchSize: number | null;
  imageSize: number | null;
  imagesPerRepeat: number;
  timing: Timing;
  flops: FlopCount | null;
  fastPathOf?: string;
  extra?: Record<string, number | string | boolean | null>;
}

/** A workload that cannot run here (missing shared data, say), with the reason shown in the table. */
export interface WorkloadSkip {
  skipped: string;
}

/** One benchmark workload. */
export interface WorkloadSpec {
  name: string;
  /** One line for the table and `--help`. */
  title: string;
  run(ctx: WorkloadContext): Promise<WorkloadOutcome | WorkloadSkip>;
}

/** Random NHWC images and labels 0…classes−1, as the PyTorch reference scripts use. */
export function randomBatch(
  batch: number,
  size: number,
  classes: number,
  seed = 0,
): { x: tf.Tensor4D; y: tf.Tensor1D } {
  return {
    x: tf.randomNormal([batch, size, size, 3], 0, 1, "float32", seed),
    y: tf.tensor1d(
      Array.from({ length: batch }, (_, i) => (i * 5 + seed) % classes),
      "int32",
    ),
  };
}

/** Runs `f` and returns its result with the wall seconds it took. */
export async function timed<T>(f: () => Promise<T> | T): Promise<[T, number]> {
  const t0 = performance.now();
  const r = await f();
  return [r, (performance.now() - t0) / 1000];
}

/** Max |a − b| over two same-shaped tensors (one asynchronous read of a scalar; every backend). */
export async function maxAbsDiffOf(a: tf.Tensor, b: tf.Tensor): Promise<number> {
  const d = tf.tidy(() => tf.max(tf.abs(tf.sub(a, b)))); // []
  const v = (await d.data())[0];
  d.dispose();
  return v;
}

/**
 * One optimiser step of mean cross-entropy of `forward(x)`. With `micro` < batch the batch is split into micro-batches
 * whose gradients are accumulated, weighted by size: the same update as the whole batch for models without batch
 * statistics (ViT); for BatchNorm models the statistics become per micro-batch. Why: tfjs's autodiff keeps every
 * forward and backward intermediate until the gradient call ends, about 1 GB per 224² image for ViT-S, so ViT-S at
 * batch 16 (or MobileNetV2 at 32) in one call overflows wasm's 4 GB memory.
 */
export async function trainStep(
  model: Module,
  opt: Optimizer,
  forward: (x: tf.Tensor) => tf.Tensor,
  x: tf.Tensor,
  y: tf.Tensor,
  micro: number,
): Promise<number> {
  const b = x.shape[0];
  const acc = new Map<string, tf.Tensor>();
  const losses: tf.Tensor[] = []; // weighted micro-batch losses, read back once after the update (no GPU stall)
  for (let s = 0; s < b; s += micro) {
    const n = Math.min(micro, b - s);
    const xs = n === b ? x : tf.slice(x, s, n);
    const ys = n === b ? y : tf.slice(y, s, n);
    const { loss, grads } = lossGradients(model, () => crossEntropy(forward(xs), ys));
    losses.push(tf.mul(loss, n / b));
    for (const [k, g] of grads) {
      const prev = acc.get(k);
      acc.set(
        k,
        tf.tidy(() => (prev ? tf.add(prev, tf.mul(g, n / b)) : tf.mul(g, n / b))),
      );
      prev?.dispose();
    }
    tf.dispose([loss, ...grads.values()]);
    if (xs !== x) tf.dispose([xs, ys]);
  }
  opt.apply(acc);
  tf.dispose([...acc.values()]);
  const sum = addNChunked(losses); // []
  const total = (await sum.data())[0];
  tf.dispose([sum, ...losses]);
  return total;
}
