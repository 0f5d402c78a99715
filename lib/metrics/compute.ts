/**
 * `computeMetrics`: every metric that applies to a task, from labels and scores, as plain data (used by
 * `peftlab metrics` and evaluation). Scalar metric keys are stable snake_case names, like sklearn's scorer names.
 *
 * Scalar label metrics use sklearn's default label set (sorted classes of y_true ∪ y_pred), so each equals the
 * corresponding sklearn call with default arguments; `perClass` and `confusionMatrix` always list classes 0..K-1.
 * A metric that is undefined on this data (AUROC with one class present) is NaN, with a line in `warnings`.
 */
import { ConfigError, DataError, ShapeError } from "../errors";
import { expectedCalibrationError } from "./calibration";
import { accuracy, balancedAccuracy, confusionMatrix, perClassPrf, precisionRecallF } from "./classification";
import { cohenKappa } from "./kappa";
import { hammingLoss, multilabelPerLabelPrf, multilabelPrf, subsetAccuracy } from "./multilabel";
import { argmaxRows, thresholdMatrix, thresholdScores } from "./predictions";
import { checkMultilabel, rocAuc, rocAucOvrPerClass, rocAucPerLabel, rocCurve, type RocCurvePoints } from "./roc";
import { column, isScoreMatrix, type MatrixInput, type ScoreMatrix, toLabels, toScoreMatrix } from "./validate";

/** The kinds of classification task. */
export type MetricsTask = "binary" | "multiclass" | "multilabel";

/** Input of `computeMetrics`. */
export interface ComputeMetricsInput {
  task: MetricsTask;
  /** Class indices [N] (binary: 0/1), or a 0/1 indicator matrix [N, L] for multi-label. */
  yTrue: ArrayLike<number> | MatrixInput;
  /** Binary: probability of class 1 [N] (or [N, 2] probabilities); multi-class: probabilities [N, K]; multi-label: [N, L]. */
  scores: ArrayLike<number> | MatrixInput;
  /** Decision threshold on probabilities for binary and multi-label tasks; default 0.5 (score ≥ threshold). */
  threshold?: number;
  /** Calibration bins for `ece`; default 15. */
  eceBins?: number;
}

/** One row of the per-class (or per-label) table. */
export interface PerClassRow {
  label: number;
  precision: number;
  recall: number;
  f1: number;
  support: number;
  /** One-vs-rest (or per-label) AUROC; NaN when undefined. */
  auroc: number;
}

/** Everything `computeMetrics` returns. */
export interface MetricsReport {
  task: MetricsTask;
  n: number;
  numClasses: number;
  values: Record<string, number>;
  perClass: PerClassRow[];
  confusionMatrix?: number[][];
  roc?: RocCurvePoints;
  warnings: string[];
}

/** Every applicable metric for a binary, multi-class or multi-label task, as plain data. */
export function computeMetrics(input: ComputeMetricsInput): MetricsReport {
  const threshold = input.threshold ?? 0.5;
  const bins = input.eceBins ?? 15;
  switch (input.task) {
    case "binary":
      return binaryMetrics(
        toLabels(input.yTrue as ArrayLike<number>, "computeMetrics: yTrue", 2),
        binaryScores(input.scores),
        threshold,
        bins,
      );
    case "multiclass":
      return multiclassMetrics(
        input.yTrue as ArrayLike<number>,
        toScoreMatrix(input.scores as MatrixInput, "computeMetrics: scores"),
        bins,
      );
    case "multilabel":
      return multilabelMetrics(input.yTrue as MatrixInput, input.scores as MatrixInput, threshold);
    default:
      throw new ConfigError("Unknown metrics task", {
        where: "computeMetrics: task",
        expected: '"binary", "multiclass" or "multilabel"',
        got: JSON.stringify(input.task),
        fix: "set task to one of the three",
      });
  }
}

/** Binary scores as a vector of class-1 probabilities; accepts [N], [N, 1] or [N, 2]. */
function binaryScores(s: ArrayLike<number> | MatrixInput): ArrayLike<number> {
  const matrix = isScoreMatrix(s) || (s.length > 0 && typeof (s as ArrayLike<unknown>)[0] === "object");
  if (!matrix) return s as ArrayLike<number>;
  const m = toScoreMatrix(s as MatrixInput, "computeMetrics: scores");
  if (m.cols === 1 || m.cols === 2) return column(m, m.cols - 1);
  throw new ShapeError("Binary scores must have 1 or 2 columns", {
    where: "computeMetrics: scores",
    expected: "[N] or [N, 1] probabilities of class 1, or [N, 2] class probabilities",
    got: `[${m.rows}, ${m.cols}]`,
    fix: 'use task "multiclass" for more than two classes',
  });
}

/** Runs `fn`, turning a DataError (metric undefined on this data) into NaN plus a warning. */
function orNaN(warnings: string[], name: string, fn: () => number): number {
  try {
    return fn();
  } catch (e) {
    if (!(e instanceof DataError)) throw e;
    warnings.push(`${name}: ${e.message}`);
    return NaN;
  }
}

function perClassRows(yTrue: ArrayLike<number>, yPred: ArrayLike<number>, k: number, auroc: number[]): PerClassRow[] {
  const labels = Array.from({ length: k }, (_, i) => i);
  const pc = perClassPrf(yTrue, yPred, { labels });
  return labels.map((label, i) => ({
    label,
    precision: pc.precision[i],
    recall: pc.recall[i],
    f1: pc.fscore[i],
    support: pc.support[i],
    auroc: auroc[i] ?? NaN,
  }));
}

function labelMetrics(t: ArrayLike<number>, p: ArrayLike<number>): Record<string, number> {
  const v: Record<string, number> = { accuracy: accuracy(t, p), balanced_accuracy: balancedAccuracy(t, p) };
  for (const avg of ["macro", "weighted", "micro"] as const) {
    const r = precisionRecallF(t, p, { average: avg });
    v[`precision_${avg}`] = r.precision;
    v[`recall_${avg}`] = r.recall;
    v[`f1_${avg}`] = r.fscore;
  }
  v.cohen_kappa = cohenKappa(t, p, "none");
  v.cohen_kappa_linear = cohenKappa(t, p, "linear");
  v.cohen_kappa_quadratic = cohenKappa(t, p, "quadratic");
  return v;
}

function binaryMetrics(t: Int32Array, scores: ArrayLike<number>, threshold: number, bins: number): MetricsReport {
  const p = thresholdScores(scores, threshold);
  if (p.length !== t.length) {
    throw new ShapeError("Inputs have different numbers of samples", {
      where: "computeMetrics: scores",
      expected: `${t.length} samples (as yTrue)`,
      got: `${p.length}`,
      fix: "pass one score per label, in the same order",
    });
  }
  const warnings: string[] = [];
  const bin = precisionRecallF(t, p, { average: "binary", posLabel: 1 });
  const values: Record<string, number> = {
    ...labelMetrics(t, p),
    precision: bin.precision,
    recall: bin.recall,
    f1: bin.fscore,
    specificity: precisionRecallF(t, p, { average: "binary", posLabel: 0 }).recall,
  };
  values.roc_auc = orNaN(warnings, "roc_auc", () => rocAuc(t, scores));
  values.ece = orNaN(warnings, "ece", () => expectedCalibrationError(t, scores, bins));
  let roc: RocCurvePoints | undefined;
  if (!Number.isNaN(values.roc_auc)) roc = rocCurve(t, scores);
  return {
    task: "binary",
    n: t.length,
    numClasses: 2,
    values,
    perClass: perClassRows(t, p, 2, []),
    confusionMatrix: confusionMatrix(t, p, { labels: [0, 1] }),
    roc,
    warnings,
  };
}

function multiclassMetrics(yTrue: ArrayLike<number>, m: ScoreMatrix, bins: number): MetricsReport {
  const k = m.cols;
  const t = toLabels(yTrue, "computeMetrics: yTrue", k);
  const p = argmaxRows(m);
  if (p.length !== t.length) {
    throw new ShapeError("Inputs have different numbers of samples", {
      where: "computeMetrics: scores",
      expected: `${t.length} rows (as yTrue)`,
      got: `${p.length}`,
      fix: "pass one probability row per label, in the same order",
    });
  }
  const warnings: string[] = [];
  const values = labelMetrics(t, p);
  let perAuc: number[] = [];
  try {
    perAuc = rocAucOvrPerClass(t, m);
  } catch (e) {
    if (!(e instanceof DataError)) throw e;
    warnings.push(`roc_auc_ovr: ${e.message}`);
  }
  const support = Array.from({ length: k }, (_, c) => t.filter((v) => v === c).length);
  values.roc_auc_ovr = perAuc.length === k ? perAuc.reduce((a, b) => a + b, 0) / k : NaN;
  values.roc_auc_ovr_weighted =
    perAuc.length === k ? perAuc.reduce((a, v, c) => a + v * support[c], 0) / t.length : NaN;
  values.ece = orNaN(warnings, "ece", () => expectedCalibrationError(t, m, bins));
  const labels = Array.from({ length: k }, (_, i) => i);
  return {
    task: "multiclass",
    n: t.length,
    numClasses: k,
    values,
    perClass: perClassRows(t, p, k, perAuc),
    confusionMatrix: confusionMatrix(t, p, { labels }),
    warnings,
  };
}

function multilabelMetrics(yTrue: MatrixInput, scores: MatrixInput, threshold: number): MetricsReport {
  const { t, s } = checkMultilabel(yTrue, scores, "computeMetrics");
  const pred = thresholdMatrix(s, threshold);
  const warnings: string[] = [];
  const perAuc: number[] = [];
  for (let c = 0; c < t.cols; c++) {
    perAuc.push(orNaN(warnings, `roc_auc label ${c}`, () => rocAucPerLabel(colMatrix(t, c), colMatrix(s, c))[0]));
  }
  const defined = perAuc.filter((v) => !Number.isNaN(v));
  const values: Record<string, number> = {
    roc_auc_macro: defined.length === 0 ? NaN : defined.reduce((a, b) => a + b, 0) / defined.length,
    roc_auc_n_labels: defined.length,
    subset_accuracy: subsetAccuracy(t, pred),
    hamming_loss: hammingLoss(t, pred),
  };
  if (defined.length < perAuc.length)
    warnings.push(`roc_auc_macro averages the ${defined.length} labels with both classes`);
  for (const avg of ["macro", "weighted", "micro"] as const) {
    const r = multilabelPrf(t, pred, avg);
    values[`precision_${avg}`] = r.precision;
    values[`recall_${avg}`] = r.recall;
    values[`f1_${avg}`] = r.fscore;
  }
  const pc = multilabelPerLabelPrf(t, pred);
  const perClass = pc.labels.map((label, i) => ({
    label,
    precision: pc.precision[i],
    recall: pc.recall[i],
    f1: pc.fscore[i],
    support: pc.support[i],
    auroc: perAuc[i],
  }));
  return { task: "multilabel", n: t.rows, numClasses: t.cols, values, perClass, warnings };
}

function colMatrix(m: ScoreMatrix, c: number): ScoreMatrix {
  return { data: column(m, c), rows: m.rows, cols: 1 };
}
