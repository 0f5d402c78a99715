/**
 * Probes on frozen host features as run records: the L-BFGS logistic probe (UNI / seed 001) and the linear head
 * trained by fit() (seed 000), each evaluated on every named test set.
 */
import { currentBackend } from "../backend";
import type { HostImages } from "../data/host_data";
import { computeMetrics, type MetricsReport, type MetricsTask } from "../metrics";
import { fitLogisticRegression, predictProba, uniC } from "../peft/probe/logreg";
import type { JsonValue } from "../results/run_record";
import type { RunBody } from "../results/run_log";
import { linearHeadPredictProba, trainLinearHead, type LinearHeadOptions } from "../train/linear_head";

/** Record fields every probe run needs. */
export interface ProbeRecordFields {
  modelId: string;
  method: string;
  dataset: string;
  seed: number;
  scale: "ci" | "full";
  dataFraction?: number;
  shots?: number;
  config: { [key: string]: JsonValue };
  /** Backbone parameters (frozen), for the trainable fraction. */
  backboneParams: number;
}

/** A probe's evaluation on one named test set. */
export interface ProbeEval {
  report: MetricsReport;
  scores: Float32Array;
  labels: Float32Array;
}

function evalScores(task: MetricsTask, labels: Float32Array, probs: ArrayLike<number>, k: number): ProbeEval {
  const n = labels.length;
  const s = Float32Array.from(probs);
  const scores = task === "binary" && k === 1 ? s : { data: s, rows: n, cols: k };
  const report = computeMetrics({
    task,
    yTrue: labels,
    scores: task === "binary" && k === 2 ? { data: s, rows: n, cols: 2 } : scores,
  });
  return { report, scores: s, labels };
}

/**
 * The UNI / seed-001 linear probe: scikit-learn-equivalent L-BFGS logistic regression on frozen features, C = d·K/100
 * unless given, evaluated on every named test set (e.g. in-domain and shifted).
 */
export function logisticProbeRun(
  train: HostImages,
  tests: Record<string, HostImages>,
  numClasses: number,
  f: ProbeRecordFields,
  o: { C?: number; maxIter?: number } = {},
): { record: RunBody; evals: Record<string, ProbeEval> } {
  const t0 = new Date();
  const d = train.itemShape[0];
  const C = o.C ?? uniC(d, numClasses);
  const fm = (h: HostImages) => ({ data: h.x, n: h.n, d });
  const model = fitLogisticRegression(fm(train), train.labels, { C, maxIter: o.maxIter ?? 1000 });
  const task: MetricsTask = numClasses === 2 ? "binary" : "multiclass";
  const evals: Record<string, ProbeEval> = {};
  for (const [name, h] of Object.entries(tests)) {
    const p = predictProba(model, fm(h)); // [n, K]
    evals[name] = evalScores(task, h.labels, p, numClasses);
  }
  const trainable = model.W.length + model.b.length;
  return { record: probeRecord(f, evals, trainable, t0, { C, iterations: model.fit.iterations }), evals };
}

/** The seed-000 head-only baseline: a linear head trained with AdamW + warm-up/cosine on cached features. */
export async function linearHeadRun(
  train: HostImages,
  tests: Record<string, HostImages>,
  numClasses: number,
  f: ProbeRecordFields,
  o: LinearHeadOptions,
): Promise<{ record: RunBody; evals: Record<string, ProbeEval> }> {
  const t0 = new Date();
  const d = train.itemShape[0];
  const head = await trainLinearHead({ features: train.x, n: train.n, d, labels: train.labels }, numClasses, o);
  const evals: Record<string, ProbeEval> = {};
  for (const [name, h] of Object.entries(tests)) {
    evals[name] = evalScores("multiclass", h.labels, await linearHeadPredictProba(head, h.x, h.n, d), numClasses);
  }
  const trainable = head.W.size + head.b.size;
  head.W.dispose();
  head.b.dispose();
  return { record: probeRecord(f, evals, trainable, t0, { ...o } as { [k: string]: JsonValue }), evals };
}

function probeRecord(
  f: ProbeRecordFields,
  evals: Record<string, ProbeEval>,
  trainable: number,
  t0: Date,
  extra: { [k: string]: JsonValue },
): RunBody {
  const t1 = new Date();
  return {
    config: f.config,
    modelId: f.modelId,
    method: f.method,
    dataset: f.dataset,
    seed: f.seed,
    dataFraction: f.dataFraction,
    shots: f.shots,
    metrics: Object.fromEntries(Object.entries(evals).map(([k, e]) => [k, { ...e.report.values }])),
    trainableParams: trainable,
    totalParams: trainable + f.backboneParams,
    wallTimeS: (t1.getTime() - t0.getTime()) / 1000,
    backend: currentBackend()?.name ?? "unknown",
    scale: f.scale,
    startedAt: t0.toISOString(),
    finishedAt: t1.toISOString(),
    extra,
  };
}
