/**
 * The pieces runExperiment composes per method: in-memory feature batches (linear heads on cached features), fit()
 * options from a RunConfig, and a metrics.jsonl writer that stays correct across resumes.
 */
import * as fs from "node:fs";
import * as tf from "@tensorflow/tfjs";
import { writeFileAtomic } from "../io/atomic";
import { epochOrder } from "../data/samplers";
import type { TrainingCallbacks } from "../train/callbacks";
import type { EvalSource } from "../train/evaluate";
import type { FitOptions, TrainSource } from "../train/fit";
import type { RunConfig } from "./run_config";
import type { DatasetFeatures } from "./run_probe";

/** Batches of cached features and labels with an exact, seekable position (a TrainSource and an EvalSource). */
export class FeatureBatches implements TrainSource, EvalSource {
  private pos = { epoch: 0, batch: 0 };
  constructor(
    private readonly x: DatasetFeatures,
    private readonly y: ArrayLike<number>,
    private readonly ids: string[],
    private readonly batchSize: number,
    private readonly seed: number,
    private readonly shuffle: boolean,
  ) {}

  batchesPerEpoch(): number {
    return Math.ceil(this.x.n / this.batchSize);
  }
  state() {
    return { epoch: this.pos.epoch, batch: this.pos.batch, seed: this.seed };
  }
  seek(s: { epoch: number; batch: number; seed: number }): void {
    this.pos = { epoch: s.epoch, batch: s.batch };
  }
  async next() {
    if (this.pos.batch >= this.batchesPerEpoch()) {
      this.pos = { epoch: this.pos.epoch + 1, batch: 0 };
      return null;
    }
    const order = epochOrder(this.x.n, this.seed, this.pos.epoch, this.shuffle);
    const idx = order.slice(this.pos.batch * this.batchSize, (this.pos.batch + 1) * this.batchSize);
    this.pos = { ...this.pos, batch: this.pos.batch + 1 };
    const d = this.x.d;
    const xs = new Float32Array(idx.length * d);
    idx.forEach((r, i) => xs.set(this.x.data.subarray(r * d, (r + 1) * d), i * d));
    const x = tf.tensor2d(xs, [idx.length, d]); // [B, d]
    const y = tf.tensor1d(
      Int32Array.from(idx, (r) => this.y[r]),
      "int32",
    ); // [B]
    return { x, y, ids: idx.map((r) => this.ids[r]), dispose: () => tf.dispose([x, y]) };
  }
  async *epoch() {
    for (;;) {
      const b = await this.next();
      if (b === null) return;
      yield b;
    }
  }
}

/** fit() options from a RunConfig (the same object fit takes, plus the run's wiring). */
export function fitOptionsFrom(cfg: RunConfig, extra: Partial<FitOptions>): FitOptions {
  const t = cfg.training;
  const sched = t.schedule;
  return {
    task: cfg.task,
    epochs: t.epochs,
    optimizer: t.optimizer,
    schedule:
      sched?.kind === "warmup_cosine_auto"
        ? (_spe, total) => ({
            kind: "warmup_cosine",
            warmupSteps: Math.min(sched.warmupSteps, total - 1),
            totalSteps: total,
            minLr: sched.minLr,
          })
        : sched,
    gradAccumSteps: t.gradAccumSteps,
    maxGradNorm: t.maxGradNorm,
    loss: t.loss,
    monitor: t.monitor,
    mode: t.mode,
    earlyStoppingPatience: t.earlyStoppingPatience,
    checkpointEverySteps: t.checkpointEverySteps,
    seed: cfg.seed,
    ...extra,
  };
}

/** Writes each epoch's logs to a JSONL file; lines of epochs at or after a resumed epoch are replaced, not doubled. */
export function metricsJsonlWriter(file: string): TrainingCallbacks {
  return {
    onEpochEnd({ logs }) {
      const prev = fs.existsSync(file)
        ? fs
            .readFileSync(file, "utf8")
            .split("\n")
            .filter((l) => l.trim() !== "")
        : [];
      const keep = prev.filter((l) => {
        try {
          return (JSON.parse(l) as { epoch: number }).epoch < logs.epoch;
        } catch {
          return false;
        }
      });
      writeFileAtomic(file, [...keep, JSON.stringify(logs)].join("\n") + "\n");
    },
  };
}
