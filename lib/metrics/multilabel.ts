/** Thresholded multi-label metrics over 0/1 indicator matrices [N, L], with sklearn semantics. */
import { averagePrf, prfFromCounts, type AveragedPrf, type PerClassPrf, type PrfCounts } from "./classification";
import { checkMultilabel } from "./roc";
import type { MatrixInput } from "./validate";

/** Per-label counts from indicator matrices. */
function multilabelCounts(yTrue: MatrixInput, yPred: MatrixInput, fn: string): { c: PrfCounts; labels: number[] } {
  const { t, s } = checkMultilabel(yTrue, yPred, fn);
  checkMultilabel(yPred, yPred, `${fn} (yPred as indicators)`);
  const L = t.cols;
  const c: PrfCounts = { tp: new Array(L).fill(0), pred: new Array(L).fill(0), true: new Array(L).fill(0) };
  for (let i = 0; i < t.rows; i++) {
    for (let j = 0; j < L; j++) {
      const a = t.data[i * L + j];
      const b = s.data[i * L + j];
      c.true[j] += a;
      c.pred[j] += b;
      c.tp[j] += a * b;
    }
  }
  return { c, labels: Array.from({ length: L }, (_, j) => j) };
}

/** Per-label precision, recall, F1 and support for multi-label indicators (zero_division = 0). */
export function multilabelPerLabelPrf(yTrue: MatrixInput, yPred: MatrixInput): PerClassPrf {
  const { c, labels } = multilabelCounts(yTrue, yPred, "multilabelPerLabelPrf");
  return prfFromCounts(c, labels);
}

/** Averaged multi-label precision, recall and F1 ("micro", "macro" or "weighted", as sklearn). */
export function multilabelPrf(
  yTrue: MatrixInput,
  yPred: MatrixInput,
  average: "micro" | "macro" | "weighted",
): AveragedPrf {
  const { c, labels } = multilabelCounts(yTrue, yPred, "multilabelPrf");
  return averagePrf(c, labels, average);
}

/** Subset accuracy: fraction of samples whose whole label set is predicted exactly (sklearn `accuracy_score`). */
export function subsetAccuracy(yTrue: MatrixInput, yPred: MatrixInput): number {
  const { t, s } = checkMultilabel(yTrue, yPred, "subsetAccuracy");
  let hit = 0;
  for (let i = 0; i < t.rows; i++) {
    let ok = true;
    for (let j = 0; j < t.cols && ok; j++) ok = t.data[i * t.cols + j] === s.data[i * t.cols + j];
    if (ok) hit++;
  }
  return hit / t.rows;
}

/** Hamming loss: fraction of wrong label entries (sklearn `hamming_loss`). */
export function hammingLoss(yTrue: MatrixInput, yPred: MatrixInput): number {
  const { t, s } = checkMultilabel(yTrue, yPred, "hammingLoss");
  let wrong = 0;
  for (let k = 0; k < t.data.length; k++) if (t.data[k] !== s.data[k]) wrong++;
  return wrong / t.data.length;
}
