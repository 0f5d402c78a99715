/**
 * Expected calibration error and reliability-diagram bins (Guo et al. 2017 / Naeini et al. 2015 convention).
 *
 * Definition: with top-label confidence c_i = max_k p_ik, prediction ŷ_i = argmax_k p_ik (first index on ties) and
 * B equal-width bins over [0, 1] where bin b holds b/B < c ≤ (b+1)/B (c = 0 goes to the first bin),
 *   ECE = Σ_b |B_b|/n · |acc(B_b) − conf(B_b)|,
 * acc = fraction of ŷ_i = y_i in the bin, conf = mean c_i in the bin. Default B = 15, the common choice.
 * Binary scores p (probability of class 1) are treated as the two-class distribution [1 − p, p].
 */
import { DataError } from "../errors";
import {
  checkNonEmpty,
  checkSameLength,
  isScoreMatrix,
  type MatrixInput,
  toLabels,
  toScoreMatrixChecked,
  toScores,
} from "./validate";

/** One reliability-diagram bin. `accuracy` and `confidence` are NaN for an empty bin. */
export interface ReliabilityBin {
  lower: number;
  upper: number;
  count: number;
  accuracy: number;
  confidence: number;
}

/** Top-label confidences and correctness per sample, from binary scores [N] or class probabilities [N, K]. */
export function topLabelConfidence(
  yTrue: ArrayLike<number>,
  probs: ArrayLike<number> | MatrixInput,
): { conf: Float64Array; correct: Uint8Array } {
  const n = yTrue.length;
  checkNonEmpty(n, "calibration: yTrue");
  const conf = new Float64Array(n);
  const correct = new Uint8Array(n);
  const isMatrix = isScoreMatrix(probs) || (probs.length > 0 && typeof probs[0] === "object");
  if (!isMatrix) {
    const p = toScores(probs as ArrayLike<number>, "calibration: scores");
    checkSameLength(n, p.length, "calibration: scores");
    const t = toLabels(yTrue, "calibration: yTrue", 2);
    for (let i = 0; i < n; i++) {
      checkProbability(p[i], `calibration: scores[${i}]`);
      const pred = p[i] > 1 - p[i] ? 1 : 0;
      conf[i] = pred === 1 ? p[i] : 1 - p[i];
      correct[i] = pred === t[i] ? 1 : 0;
    }
    return { conf, correct };
  }
  const m = toScoreMatrixChecked(probs as MatrixInput, "calibration: probs");
  checkSameLength(n, m.rows, "calibration: probs");
  const t = toLabels(yTrue, "calibration: yTrue", m.cols);
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let j = 0; j < m.cols; j++) {
      checkProbability(m.data[i * m.cols + j], `calibration: probs[${i}][${j}]`);
      if (m.data[i * m.cols + j] > m.data[i * m.cols + best]) best = j;
    }
    conf[i] = m.data[i * m.cols + best];
    correct[i] = best === t[i] ? 1 : 0;
  }
  return { conf, correct };
}

function checkProbability(v: number, where: string): void {
  if (v < 0 || v > 1) {
    throw new DataError("Calibration needs probabilities", {
      where,
      expected: "a value in [0, 1]",
      got: `${v}`,
      fix: "apply sigmoid (binary, multi-label) or softmax (multi-class) to the logits first",
    });
  }
}

/** Bin index of a confidence: b/B < c ≤ (b+1)/B, comparing against the same edges as `binEdges`. */
function binOf(c: number, edges: number[]): number {
  const nBins = edges.length - 1;
  let b = Math.min(nBins - 1, Math.max(0, Math.ceil(c * nBins) - 1));
  // Correct for rounding in c * nBins so membership follows the edge comparisons exactly.
  while (b > 0 && c <= edges[b]) b--;
  while (b < nBins - 1 && c > edges[b + 1]) b++;
  return b;
}

/** Equal-width bin edges over [0, 1] (like numpy `linspace(0, 1, nBins + 1)`). */
export function binEdges(nBins: number): number[] {
  if (!Number.isInteger(nBins) || nBins < 1) {
    throw new DataError("Invalid number of calibration bins", {
      where: "calibration: nBins",
      expected: "an integer ≥ 1",
      got: `${nBins}`,
      fix: "use the default 15 bins",
    });
  }
  return Array.from({ length: nBins + 1 }, (_, b) => b / nBins);
}

/** Reliability-diagram data: per equal-width bin, count, accuracy and mean confidence. */
export function reliabilityBins(
  yTrue: ArrayLike<number>,
  probs: ArrayLike<number> | MatrixInput,
  nBins = 15,
): ReliabilityBin[] {
  const edges = binEdges(nBins);
  const { conf, correct } = topLabelConfidence(yTrue, probs);
  const count = new Array<number>(nBins).fill(0);
  const hit = new Array<number>(nBins).fill(0);
  const sumConf = new Array<number>(nBins).fill(0);
  for (let i = 0; i < conf.length; i++) {
    const b = binOf(conf[i], edges);
    count[b]++;
    hit[b] += correct[i];
    sumConf[b] += conf[i];
  }
  return count.map((c, b) => ({
    lower: edges[b],
    upper: edges[b + 1],
    count: c,
    accuracy: c === 0 ? NaN : hit[b] / c,
    confidence: c === 0 ? NaN : sumConf[b] / c,
  }));
}

/** Expected calibration error, Σ_b |B_b|/n · |acc(B_b) − conf(B_b)| with top-label confidence (see file header). */
export function expectedCalibrationError(
  yTrue: ArrayLike<number>,
  probs: ArrayLike<number> | MatrixInput,
  nBins = 15,
): number {
  const bins = reliabilityBins(yTrue, probs, nBins);
  const n = yTrue.length;
  let ece = 0;
  for (const b of bins) if (b.count > 0) ece += (b.count / n) * Math.abs(b.accuracy - b.confidence);
  return ece;
}
