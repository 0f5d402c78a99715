/**
 * The pieces runExperiment composes per method: its options, what a method returns, fit() options from a RunConfig
 * and a metrics.jsonl writer that stays correct across resumes.
 */
import * as fs from "node:fs";
import { writeFileAtomic } from "../io/atomic";
import type { TrainingCallbacks } from "../train/callbacks";
import type { EvalResult } from "../train/evaluate";
import type { FitResult } from "../train/fit";
import type { JsonValue } from "../results/run_record";
import type { FitOptions } from "../train/fit";
import type { RunConfig } from "./run_config";

/** Options of runExperiment. */
export interface RunExperimentOptions {
  /** The run folder (default: no files, except the feature cache). */
  out?: string;
  callbacks?: TrainingCallbacks[];
  /** Continue from the run folder's checkpoints. Without it an existing checkpoint is an error. */
  resume?: boolean;
  /** Progress lines (default: stderr). */
  log?: (line: string) => void;
  warn?: (line: string) => void;
  /** Feature cache folder (default featureCacheDir()). */
  cacheDir?: string;
  /** For kill/resume tests: stop after this many optimiser updates (fit's stopAfterSteps). */
  stopAfterSteps?: number;
}

/** What one method of runExperiment (probe or trained) returns to it. */
export interface MethodResult {
  metrics: Record<string, Record<string, number>>;
  trainable: number;
  total: number;
  testEval?: Pick<EvalResult, "scores" | "labels" | "ids" | "numOutputs">;
  fit?: FitResult;
  stopped?: boolean;
  extra?: { [k: string]: JsonValue };
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
