/**
 * ROC curves and AUROC, following scikit-learn's `_binary_clf_curve`, `roc_curve` and `roc_auc_score`:
 * - samples are sorted by decreasing score and one curve point is kept per distinct score, so tied scores move the
 *   curve diagonally (ties count half), and AUC is the trapezoid rule over those points;
 * - `roc_curve` drops collinear intermediate points by default (`drop_intermediate`), and starts at (0, 0);
 * - multi-class AUROC is one-vs-rest from probabilities (rows must sum to 1); multi-label AUROC averages per-label AUCs.
 * AUROC is undefined when y_true holds a single class: that throws a DataError, like sklearn's ValueError.
 */
import { DataError, ShapeError } from "../errors";
import {
  checkNonEmpty,
  checkSameLength,
  column,
  type MatrixInput,
  type ScoreMatrix,
  toBinaryLabels,
  toLabels,
  toScoreMatrixChecked,
  toScores,
} from "./validate";

/** Points of a ROC curve: false- and true-positive rates at each threshold (score ≥ threshold is positive). */
export interface RocCurvePoints {
  fpr: number[];
  tpr: number[];
  /** Decreasing; the first is +Infinity (sklearn ≥1.3; 1.2 wrote max score + 1) for the (0, 0) point. */
  thresholds: number[];
}

/** Cumulative false/true positive counts per distinct threshold, in decreasing score order (`_binary_clf_curve`). */
export function binaryClfCurve(
  yTrue: Int32Array,
  scores: Float64Array,
): { fps: number[]; tps: number[]; thresholds: number[] } {
  const n = scores.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => scores[b] - scores[a]);
  const fps: number[] = [];
  const tps: number[] = [];
  const thresholds: number[] = [];
  let tp = 0;
  for (let k = 0; k < n; k++) {
    const i = order[k];
    tp += yTrue[i];
    // Keep only the last index of each run of equal scores: ties are one threshold.
    if (k === n - 1 || scores[order[k + 1]] !== scores[i]) {
      tps.push(tp);
      fps.push(k + 1 - tp);
      thresholds.push(scores[i]);
    }
  }
  return { fps, tps, thresholds };
}

/** Checks y_true holds both classes; AUROC and the ROC rates are undefined otherwise. */
function checkTwoClasses(t: Int32Array, where: string): void {
  let pos = 0;
  for (let i = 0; i < t.length; i++) pos += t[i];
  if (pos === 0 || pos === t.length) {
    throw new DataError("Only one class present in y_true; ROC AUC is not defined in that case", {
      where,
      expected: "both negatives (0) and positives (1) in y_true",
      got: `all ${t.length} samples are class ${pos === 0 ? 0 : 1}`,
      fix: "evaluate on a split that contains both classes (e.g. a stratified split), or skip AUROC for this label",
    });
  }
}

/** ROC curve points for binary labels (0/1) and scores of class 1; sklearn's `roc_curve` semantics. */
export function rocCurve(yTrue: ArrayLike<number>, scores: ArrayLike<number>, dropIntermediate = true): RocCurvePoints {
  const t = toBinaryLabels(yTrue, "rocCurve: yTrue");
  const s = toScores(scores, "rocCurve: scores");
  checkSameLength(t.length, s.length, "rocCurve: scores");
  checkNonEmpty(t.length, "rocCurve: yTrue");
  checkTwoClasses(t, "rocCurve: yTrue");
  return rocFromChecked(t, s, dropIntermediate);
}

function rocFromChecked(t: Int32Array, s: Float64Array, dropIntermediate: boolean): RocCurvePoints {
  let { fps, tps, thresholds } = binaryClfCurve(t, s);
  if (dropIntermediate && fps.length > 2) {
    // Keep the end points and every point where the curve bends (second difference non-zero in fps or tps).
    const keep: number[] = [0];
    for (let i = 1; i < fps.length - 1; i++) {
      const d2f = fps[i + 1] - 2 * fps[i] + fps[i - 1];
      const d2t = tps[i + 1] - 2 * tps[i] + tps[i - 1];
      if (d2f !== 0 || d2t !== 0) keep.push(i);
    }
    keep.push(fps.length - 1);
    fps = keep.map((i) => fps[i]);
    tps = keep.map((i) => tps[i]);
    thresholds = keep.map((i) => thresholds[i]);
  }
  const fn = fps[fps.length - 1];
  const tn = tps[tps.length - 1];
  return {
    fpr: [0, ...fps.map((v) => v / fn)],
    tpr: [0, ...tps.map((v) => v / tn)],
    thresholds: [Infinity, ...thresholds],
  };
}

/** Area under a curve by the trapezoid rule (numpy `trapz(y, x)`); x must be monotonic. */
export function trapezoidAuc(x: ArrayLike<number>, y: ArrayLike<number>): number {
  let area = 0;
  for (let i = 1; i < x.length; i++) area += ((x[i] - x[i - 1]) * (y[i] + y[i - 1])) / 2;
  return area;
}

/** Binary AUROC from 0/1 labels and scores of class 1 (sklearn `roc_auc_score`, ties handled exactly as there). */
export function rocAuc(yTrue: ArrayLike<number>, scores: ArrayLike<number>): number {
  const c = rocCurve(yTrue, scores, true);
  return trapezoidAuc(c.fpr, c.tpr);
}

/** Binary AUROC on already-validated arrays (no copies); throws when only one class is present. */
function rocAucChecked(t: Int32Array, s: Float64Array, where: string): number {
  checkTwoClasses(t, where);
  const c = rocFromChecked(t, s, true);
  return trapezoidAuc(c.fpr, c.tpr);
}

/** How per-class or per-label AUCs are combined. */
export type AucAverage = "macro" | "weighted";

function averageScores(scores: number[], weights: number[] | null): number {
  if (weights === null) return scores.reduce((a, b) => a + b, 0) / scores.length;
  const wsum = weights.reduce((a, b) => a + b, 0);
  if (wsum === 0) return 0;
  return scores.reduce((a, v, i) => a + v * weights[i], 0) / wsum;
}

/** Per-class one-vs-rest AUROCs from class probabilities [N, K]; every class must occur in y_true (sklearn). */
export function rocAucOvrPerClass(yTrue: ArrayLike<number>, probs: MatrixInput): number[] {
  const m = toScoreMatrixChecked(probs, "rocAucOvr: probs");
  checkSameLength(yTrue.length, m.rows, "rocAucOvr: probs");
  checkNonEmpty(m.rows, "rocAucOvr: yTrue");
  const t = toLabels(yTrue, "rocAucOvr: yTrue", m.cols);
  checkProbabilities(m);
  const present = new Set(t);
  if (present.size !== m.cols) {
    throw new DataError("Number of classes in y_true not equal to the number of columns in the scores", {
      where: "rocAucOvr: yTrue",
      expected: `all ${m.cols} classes present in y_true`,
      got: `${present.size} classes present`,
      fix: "evaluate on a split containing every class, or report per-class AUROC for the classes present",
    });
  }
  const out: number[] = [];
  for (let c = 0; c < m.cols; c++) {
    const bin = t.map((v) => (v === c ? 1 : 0));
    out.push(rocAucChecked(bin, column(m, c), `rocAucOvr: class ${c}`));
  }
  return out;
}

/** One-vs-rest multi-class AUROC from probabilities (sklearn `roc_auc_score(multi_class="ovr")`, macro default). */
export function rocAucOvr(yTrue: ArrayLike<number>, probs: MatrixInput, average: AucAverage = "macro"): number {
  const per = rocAucOvrPerClass(yTrue, probs);
  if (average === "macro") return averageScores(per, null);
  const counts = new Array<number>(per.length).fill(0);
  for (let i = 0; i < yTrue.length; i++) counts[yTrue[i]]++;
  return averageScores(per, counts);
}

/** sklearn requires multi-class OvR scores to be probabilities: each row sums to 1 within np.allclose tolerance. */
function checkProbabilities(m: ScoreMatrix): void {
  for (let i = 0; i < m.rows; i++) {
    let s = 0;
    for (let j = 0; j < m.cols; j++) s += m.data[i * m.cols + j];
    if (!(Math.abs(1 - s) <= 1e-8 + 1e-5 * Math.abs(s))) {
      throw new DataError("Scores for multi-class AUROC must be probabilities that sum to 1 over classes", {
        where: `rocAucOvr: probs[${i}]`,
        expected: "row sum 1",
        got: `${s}`,
        fix: "apply softmax to the logits first",
      });
    }
  }
}

/** Per-label AUROCs for multi-label indicators [N, L] and scores [N, L]; throws if a label has a single class. */
export function rocAucPerLabel(yTrue: MatrixInput, scores: MatrixInput): number[] {
  const { t, s } = checkMultilabel(yTrue, scores, "rocAucPerLabel");
  const out: number[] = [];
  for (let c = 0; c < s.cols; c++) {
    const y = toBinaryLabels(column(t, c), `rocAucPerLabel: yTrue[:, ${c}]`);
    out.push(rocAucChecked(y, column(s, c), `rocAucPerLabel: label ${c}`));
  }
  return out;
}

/** Multi-label AUROC: mean (or support-weighted mean) over labels of per-label AUROC, as seed 002 reports. */
export function rocAucMultilabel(yTrue: MatrixInput, scores: MatrixInput, average: AucAverage = "macro"): number {
  const per = rocAucPerLabel(yTrue, scores);
  if (average === "macro") return averageScores(per, null);
  const t = toScoreMatrixChecked(yTrue, "rocAucMultilabel: yTrue");
  const weights = per.map((_, c) => column(t, c).reduce((a, b) => a + b, 0));
  return averageScores(per, weights);
}

/** Validates paired multi-label indicator and score matrices. */
export function checkMultilabel(
  yTrue: MatrixInput,
  scores: MatrixInput,
  fn: string,
): { t: ScoreMatrix; s: ScoreMatrix } {
  const t = toScoreMatrixChecked(yTrue, `${fn}: yTrue`);
  const s = toScoreMatrixChecked(scores, `${fn}: scores`);
  checkSameLength(t.rows, s.rows, `${fn}: scores`);
  checkNonEmpty(t.rows, `${fn}: yTrue`);
  if (t.cols !== s.cols) {
    throw new ShapeError("Label and score matrices have different numbers of labels", {
      where: `${fn}: scores`,
      expected: `${t.cols} columns (as yTrue)`,
      got: `${s.cols}`,
      fix: "pass one score column per label",
    });
  }
  toBinaryLabels(t.data, `${fn}: yTrue (flattened)`);
  return { t, s };
}
