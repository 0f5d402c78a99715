/**
 * The pieces runExperiment composes per method: fit() options from a RunConfig and a metrics.jsonl writer that stays correct across resumes.
 */
import * as fs from "node:fs";
import { writeFileAtomic } from "../io/atomic";
import type { TrainingCallbacks } from "../train/callbacks";
import type { FitOptions } from "../train/fit";
import type { RunConfig } from "./run_config";

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
