/**
 * Label-based classification metrics with scikit-learn 1.2 semantics: confusion matrix, accuracy, balanced accuracy,
 * precision / recall / F-beta (binary, micro, macro, weighted, per class).
 *
 * Zero division: like sklearn's default `zero_division="warn"` (which returns 0), a precision with no predicted
 * positives, a recall with no true positives, and an F-score whose precision and recall are both 0 are all 0. No warning
 * is printed. Labels are sorted distinct values of y_true ∪ y_pred unless `labels` is given.
 */
import { DataError } from "../errors";
import { checkNonEmpty, checkSameLength, toLabels, uniqueLabels } from "./validate";

/** How per-class scores are combined; sklearn's `average` argument (null there is `perClassPrf` here). */
export type PrfAverage = "binary" | "micro" | "macro" | "weighted";

/** Options shared by label-based metrics. */
export interface LabelOptions {
  /** Classes to report, in this order; default sorted distinct labels of y_true ∪ y_pred. */
  labels?: ArrayLike<number>;
}

/** Options of the precision / recall / F functions. */
export interface PrfOptions extends LabelOptions {
  /** Default "binary" like sklearn. */
  average?: PrfAverage;
  /** The positive class for average "binary"; default 1. */
  posLabel?: number;
  /** F-beta's beta; default 1 (F1). */
  beta?: number;
}

/** Per-class precision, recall, F-beta and support (count of true samples), aligned with `labels`. */
export interface PerClassPrf {
  labels: number[];
  precision: number[];
  recall: number[];
  fscore: number[];
  support: number[];
}

/** Averaged precision, recall and F-beta. */
export interface AveragedPrf {
  precision: number;
  recall: number;
  fscore: number;
}

function pairLabels(yTrue: ArrayLike<number>, yPred: ArrayLike<number>, fn: string): [Int32Array, Int32Array] {
  const t = toLabels(yTrue, `${fn}: yTrue`);
  const p = toLabels(yPred, `${fn}: yPred`);
  checkSameLength(t.length, p.length, `${fn}: yPred`);
  checkNonEmpty(t.length, `${fn}: yTrue`);
  return [t, p];
}

/** Confusion matrix, rows = true class, columns = predicted class, in the order of `labels` (sklearn semantics). */
export function confusionMatrix(
  yTrue: ArrayLike<number>,
  yPred: ArrayLike<number>,
  opts: LabelOptions = {},
): number[][] {
  const [t, p] = pairLabels(yTrue, yPred, "confusionMatrix");
  const labels = opts.labels === undefined ? uniqueLabels(t, p) : Array.from(opts.labels);
  const index = new Map<number, number>();
  labels.forEach((l, i) => index.set(l, i));
  if (opts.labels !== undefined && !Array.from(t).some((v) => index.has(v))) {
    throw new DataError("No label given to confusionMatrix occurs in yTrue", {
      where: "confusionMatrix: labels",
      expected: "at least one label present in yTrue",
      got: `labels [${labels.join(", ")}], yTrue classes [${uniqueLabels(t).join(", ")}]`,
      fix: "pass the class indices used by yTrue (0..K-1)",
    });
  }
  const k = labels.length;
  const cm: number[][] = Array.from({ length: k }, () => new Array<number>(k).fill(0));
  for (let i = 0; i < t.length; i++) {
    const a = index.get(t[i]);
    const b = index.get(p[i]);
    // Samples whose true or predicted class is outside `labels` are dropped, as sklearn does.
    if (a !== undefined && b !== undefined) cm[a][b] += 1;
  }
  return cm;
}

/** Fraction of samples whose predicted class equals the true class. */
export function accuracy(yTrue: ArrayLike<number>, yPred: ArrayLike<number>): number {
  const [t, p] = pairLabels(yTrue, yPred, "accuracy");
  let hit = 0;
  for (let i = 0; i < t.length; i++) if (t[i] === p[i]) hit++;
  return hit / t.length;
}

/**
 * Balanced accuracy: mean per-class recall over classes present in y_true (sklearn). A class that is never predicted
 * contributes recall 0; a class predicted but absent from y_true is skipped (sklearn warns; this is silent).
 * `adjusted` rescales so chance is 0 and perfect is 1.
 */
export function balancedAccuracy(yTrue: ArrayLike<number>, yPred: ArrayLike<number>, adjusted = false): number {
  const cm = confusionMatrix(yTrue, yPred);
  const perClass: number[] = [];
  for (let i = 0; i < cm.length; i++) {
    let rowSum = 0;
    for (const v of cm[i]) rowSum += v;
    if (rowSum > 0) perClass.push(cm[i][i] / rowSum);
  }
  let score = perClass.reduce((a, b) => a + b, 0) / perClass.length;
  if (adjusted) {
    const chance = 1 / perClass.length;
    score = (score - chance) / (1 - chance);
  }
  return score;
}

/** Per-class true-positive, predicted and true counts (sklearn's multilabel_confusion_matrix sums). */
export interface PrfCounts {
  tp: number[];
  pred: number[];
  true: number[];
}

/** Counts per label for multiclass inputs. */
function multiclassCounts(t: Int32Array, p: Int32Array, labels: number[]): PrfCounts {
  const index = new Map<number, number>();
  labels.forEach((l, i) => index.set(l, i));
  const k = labels.length;
  const c: PrfCounts = { tp: new Array(k).fill(0), pred: new Array(k).fill(0), true: new Array(k).fill(0) };
  for (let i = 0; i < t.length; i++) {
    const a = index.get(t[i]);
    const b = index.get(p[i]);
    if (a !== undefined) c.true[a]++;
    if (b !== undefined) c.pred[b]++;
    if (a !== undefined && t[i] === p[i]) c.tp[a]++;
  }
  return c;
}

const div0 = (a: number, b: number): number => (b === 0 ? 0 : a / b);

/** F-beta from precision and recall as sklearn 1.2 computes it (0 when both are 0). */
function fbeta(p: number, r: number, beta: number): number {
  const b2 = beta * beta;
  const denom = b2 * p + r;
  return ((1 + b2) * p * r) / (denom === 0 ? 1 : denom);
}

/** Per-label precision, recall, F-beta from counts (zero_division = 0). */
export function prfFromCounts(c: PrfCounts, labels: number[], beta = 1): PerClassPrf {
  const precision = c.tp.map((tp, i) => div0(tp, c.pred[i]));
  const recall = c.tp.map((tp, i) => div0(tp, c.true[i]));
  const fscore = precision.map((p, i) => fbeta(p, recall[i], beta));
  return { labels, precision, recall, fscore, support: c.true.slice() };
}

/** Averages counts into one precision / recall / F-beta ("micro", "macro", "weighted"; "binary" = one label). */
export function averagePrf(
  c: PrfCounts,
  labels: number[],
  average: Exclude<PrfAverage, "binary">,
  beta = 1,
): AveragedPrf {
  if (average === "micro") {
    const sum = (a: number[]): number => a.reduce((x, y) => x + y, 0);
    const p = div0(sum(c.tp), sum(c.pred));
    const r = div0(sum(c.tp), sum(c.true));
    return { precision: p, recall: r, fscore: fbeta(p, r, beta) };
  }
  const pc = prfFromCounts(c, labels, beta);
  const weights = average === "weighted" ? c.true : c.true.map(() => 1);
  const wsum = weights.reduce((x, y) => x + y, 0);
  // sklearn returns zero_division (0) for a weighted average when no selected label has support.
  if (wsum === 0) return { precision: 0, recall: 0, fscore: 0 };
  const avg = (v: number[]): number => v.reduce((acc, x, i) => acc + x * weights[i], 0) / wsum;
  return { precision: avg(pc.precision), recall: avg(pc.recall), fscore: avg(pc.fscore) };
}

/** Per-class precision, recall, F-beta and support (sklearn `precision_recall_fscore_support(average=None)`). */
export function perClassPrf(
  yTrue: ArrayLike<number>,
  yPred: ArrayLike<number>,
  opts: LabelOptions & { beta?: number } = {},
): PerClassPrf {
  const [t, p] = pairLabels(yTrue, yPred, "perClassPrf");
  const labels = opts.labels === undefined ? uniqueLabels(t, p) : Array.from(opts.labels);
  return prfFromCounts(multiclassCounts(t, p, labels), labels, opts.beta ?? 1);
}

/** Resolves sklearn's average="binary" checks: the data must have at most two classes and contain posLabel. */
function binaryLabels(t: Int32Array, p: Int32Array, posLabel: number): number[] {
  const present = uniqueLabels(t, p);
  if (present.length > 2) {
    throw new DataError("Target is multiclass but average is 'binary'", {
      where: "precisionRecallF: average",
      expected: "at most 2 classes in yTrue ∪ yPred",
      got: `classes [${present.join(", ")}]`,
      fix: 'choose average "macro", "weighted" or "micro", or use perClassPrf',
    });
  }
  if (!present.includes(posLabel) && present.length >= 2) {
    throw new DataError("posLabel is not a valid label", {
      where: "precisionRecallF: posLabel",
      expected: `one of [${present.join(", ")}]`,
      got: `${posLabel}`,
      fix: "set posLabel to the positive class index",
    });
  }
  return [posLabel];
}

/** Averaged precision, recall and F-beta (sklearn `precision_recall_fscore_support` with an average). */
export function precisionRecallF(
  yTrue: ArrayLike<number>,
  yPred: ArrayLike<number>,
  opts: PrfOptions = {},
): AveragedPrf {
  const [t, p] = pairLabels(yTrue, yPred, "precisionRecallF");
  const average = opts.average ?? "binary";
  const beta = opts.beta ?? 1;
  if (average === "binary") {
    const labels = binaryLabels(t, p, opts.posLabel ?? 1);
    return averagePrf(multiclassCounts(t, p, labels), labels, "macro", beta);
  }
  const labels = opts.labels === undefined ? uniqueLabels(t, p) : Array.from(opts.labels);
  return averagePrf(multiclassCounts(t, p, labels), labels, average, beta);
}

/** Precision (sklearn `precision_score`; default average "binary", posLabel 1, zero_division 0). */
export function precision(yTrue: ArrayLike<number>, yPred: ArrayLike<number>, opts: PrfOptions = {}): number {
  return precisionRecallF(yTrue, yPred, opts).precision;
}

/** Recall (sklearn `recall_score`; default average "binary", posLabel 1, zero_division 0). */
export function recall(yTrue: ArrayLike<number>, yPred: ArrayLike<number>, opts: PrfOptions = {}): number {
  return precisionRecallF(yTrue, yPred, opts).recall;
}

/** F1 (sklearn `f1_score`; default average "binary", posLabel 1, zero_division 0). */
export function f1(yTrue: ArrayLike<number>, yPred: ArrayLike<number>, opts: Omit<PrfOptions, "beta"> = {}): number {
  return precisionRecallF(yTrue, yPred, { ...opts, beta: 1 }).fscore;
}
