/** The contract between the benchmark runner and one workload, plus helpers shared by the workload files. */
import * as tf from "@tensorflow/tfjs";
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

/** Max |a − b| over two same-shaped tensors (reads both back; for small outputs such as logits). */
export function maxAbsDiffOf(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);
}
