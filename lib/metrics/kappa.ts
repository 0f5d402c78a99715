/** Cohen's kappa (unweighted, linear, quadratic), as sklearn's `cohen_kappa_score`. */
import { confusionMatrix, type LabelOptions } from "./classification";

/** Disagreement weighting: none (0/1), linear |i-j|, quadratic (i-j)², over label positions, not label values. */
export type KappaWeights = "none" | "linear" | "quadratic";

/**
 * Cohen's kappa between two label arrays: 1 - Σ w·O / Σ w·E with O the confusion matrix and E the outer product of
 * its marginals scaled to the same total. Positions i, j index the sorted labels (or `labels`), as sklearn does.
 */
export function cohenKappa(
  y1: ArrayLike<number>,
  y2: ArrayLike<number>,
  weights: KappaWeights = "none",
  opts: LabelOptions = {},
): number {
  const cm = confusionMatrix(y1, y2, opts);
  const k = cm.length;
  const rowSum = new Array<number>(k).fill(0);
  const colSum = new Array<number>(k).fill(0);
  let total = 0;
  for (let i = 0; i < k; i++) {
    for (let j = 0; j < k; j++) {
      rowSum[i] += cm[i][j];
      colSum[j] += cm[i][j];
      total += cm[i][j];
    }
  }
  let num = 0;
  let den = 0;
  for (let i = 0; i < k; i++) {
    for (let j = 0; j < k; j++) {
      const d = Math.abs(i - j);
      const w = weights === "none" ? (i === j ? 0 : 1) : weights === "linear" ? d : d * d;
      // sklearn: expected = outer(sum0, sum1) / sum(sum0), with sum0 the column sums (y2) and sum1 the row sums (y1).
      const expected = (colSum[i] * rowSum[j]) / total;
      num += w * cm[i][j];
      den += w * expected;
    }
  }
  return 1 - num / den;
}
