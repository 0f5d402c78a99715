/**
 * One training run of a paper notebook, top to bottom: fit() trains with a lib/peft Strategy, the weights of the best validation epoch are kept in memory (`bestWeightsCallback`, the paper's
 * "checkpoint-best" without disk writes), then val and test are evaluated from those weights. The result is a
 * RunRecord body (for runSweep / recordsTable) plus the test predictions for ROC curves and confusion matrices.
 */
import { currentBackend } from "../backend";
import { ConfigError } from "../errors";
import type { StateDict } from "../io/host_tensor";
import type { ImageClassifier } from "../models/types";
import type { Strategy } from "../peft/strategies/types";
import type { JsonValue } from "../results/run_record";
import type { RunBody } from "../results/run_log";
import type { TrainingCallbacks } from "./callbacks";
import { evaluate, type EvalResult, type EvalSource } from "./evaluate";
import { fit, type FitOptions, type TrainSource } from "./fit";

/** Keeps a host copy of the weights of the best epoch by `monitor`; `restore()` loads them back into the model. */
export function bestWeightsCallback(
  model: ImageClassifier,
  monitor: string,
  mode: "min" | "max",
): TrainingCallbacks & { restore(): number | null; bestEpoch(): number | null } {
  let best: { value: number; epoch: number; weights: StateDict } | undefined;
  return {
    onEpochEnd({ epoch, logs }) {
      const v = logs[monitor];
      if (v === undefined) {
        throw new ConfigError("Monitored metric is not in the epoch logs", {
          where: "bestWeightsCallback(monitor)",
          expected: `one of ${Object.keys(logs).join(", ")}`,
          got: monitor,
          fix: "pass a validation source to fit() and monitor a val_* key",
        });
      }
      if (Number.isNaN(v)) return;
      if (!best || (mode === "max" ? v > best.value : v < best.value)) {
        best = { value: v, epoch: epoch + 1, weights: model.stateDict() };
      }
    },
    restore() {
      if (best) model.loadStateDict(best.weights);
      return best?.epoch ?? null;
    },
    bestEpoch: () => best?.epoch ?? null,
  };
}

/** What one run needs. `config` is its identifying settings, stored in the record. */
export interface TrainEvalSpec {
  model: ImageClassifier;
  /** A lib/peft strategy (FT, LP, LoRA, …); it sets what trains. */
  strategy: Strategy;
  train: TrainSource;
  val: EvalSource;
  test: EvalSource;
  fit: Omit<FitOptions, "strategy" | "val" | "callbacks">;
  /** Metric kept for model selection, e.g. "val_roc_auc" (default "val_loss"). */
  monitor?: string;
  /** fit() callbacks, e.g. freezeBatchNormStats(model) for LoRA on a CNN, or a live dashboard. */
  callbacks?: TrainingCallbacks[];
  /** Record fields. */
  modelId: string;
  method: string;
  dataset: string;
  seed: number;
  dataFraction?: number;
  scale: "ci" | "full";
  config: { [key: string]: JsonValue };
  /** Parameters outside `model` that the method still counts (a frozen prefix that was cached). */
  frozenParamsOutside?: number;
}

/** A finished run: the record body, its per-epoch history and the test predictions. */
export interface TrainEvalResult {
  record: RunBody;
  history: Record<string, number>[];
  test: EvalResult;
}

/** Trains with fit(), restores the best validation epoch, evaluates val and test, and builds the record. */
export async function trainEvaluate(s: TrainEvalSpec): Promise<TrainEvalResult> {
  const startedAt = new Date();
  const monitor = s.monitor ?? "val_loss";
  const mode = /loss/.test(monitor) ? "min" : "max";
  const keep = bestWeightsCallback(s.model, monitor, mode);
  const fr = await fit(s.model, s.train, {
    ...s.fit,
    strategy: s.strategy,
    val: s.val,
    monitor,
    mode,
    callbacks: [...(s.callbacks ?? []), keep],
  });
  // What trained by the end (LP-FT and gradual unfreezing change the set during training).
  const trainable = s.model.numParameters({ trainableOnly: true });
  const total = s.model.numParameters() + (s.frozenParamsOutside ?? 0);
  const bestEpoch = keep.restore();
  const val = await evaluate(s.model, s.val, s.fit.task);
  const test = await evaluate(s.model, s.test, s.fit.task);
  const finishedAt = new Date();
  const history = fr.history.map((h) => ({ ...h }));
  return {
    record: {
      config: s.config,
      modelId: s.modelId,
      method: s.method,
      dataset: s.dataset,
      seed: s.seed,
      dataFraction: s.dataFraction,
      metrics: { val: { loss: val.loss, ...val.report.values }, test: { loss: test.loss, ...test.report.values } },
      trainableParams: trainable,
      totalParams: total,
      wallTimeS: (finishedAt.getTime() - startedAt.getTime()) / 1000,
      backend: currentBackend()?.name ?? "unknown",
      scale: s.scale,
      startedAt: startedAt.toISOString(),
      finishedAt: finishedAt.toISOString(),
      extra: {
        bestEpoch,
        monitor,
        steps: fr.steps,
        history: history.map((h) => sanitize(h)),
        strategy: s.strategy.name,
        hyperparameters: sanitize(s.strategy.hyperparameters),
      },
    },
    history,
    test,
  };
}

/** JSON-safe copy (NaN/Infinity → null; functions dropped). */
function sanitize(v: unknown): JsonValue {
  if (v === null || v === undefined) return null;
  if (typeof v === "number") return Number.isFinite(v) ? v : null;
  if (typeof v === "string" || typeof v === "boolean") return v;
  if (Array.isArray(v)) return v.map(sanitize);
  if (typeof v === "object") {
    const out: { [k: string]: JsonValue } = {};
    for (const [k, x] of Object.entries(v)) if (typeof x !== "function" && x !== undefined) out[k] = sanitize(x);
    return out;
  }
  return null;
}
