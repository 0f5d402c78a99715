/** Turning scores into predictions: argmax over classes, thresholds for binary and multi-label scores. */
import { ConfigError } from "../errors";
import { type MatrixInput, type ScoreMatrix, toScoreMatrixChecked, toScores } from "./validate";

/** Index of the largest score in each row (the first one on ties, like numpy's argmax). */
export function argmaxRows(scores: MatrixInput): Int32Array {
  const m = toScoreMatrixChecked(scores, "argmaxRows: scores");
  const out = new Int32Array(m.rows);
  for (let i = 0; i < m.rows; i++) {
    let best = 0;
    for (let j = 1; j < m.cols; j++) if (m.data[i * m.cols + j] > m.data[i * m.cols + best]) best = j;
    out[i] = best;
  }
  return out;
}

function checkThreshold(threshold: number, where: string): void {
  if (!Number.isFinite(threshold)) {
    throw new ConfigError("Threshold must be a finite number", {
      where,
      expected: "a finite number (0.5 for probabilities, 0 for logits)",
      got: `${threshold}`,
      fix: "pass threshold: 0.5",
    });
  }
}

/** Binary predictions: 1 where score ≥ threshold (default 0.5, for probabilities of class 1), else 0. */
export function thresholdScores(scores: ArrayLike<number>, threshold = 0.5): Int32Array {
  checkThreshold(threshold, "thresholdScores: threshold");
  const s = toScores(scores, "thresholdScores: scores");
  return Int32Array.from(s, (v) => (v >= threshold ? 1 : 0));
}

/** Multi-label predictions: indicator matrix with 1 where score ≥ threshold (default 0.5). */
export function thresholdMatrix(scores: MatrixInput, threshold = 0.5): ScoreMatrix {
  checkThreshold(threshold, "thresholdMatrix: threshold");
  const m = toScoreMatrixChecked(scores, "thresholdMatrix: scores");
  return { data: Float64Array.from(m.data, (v) => (v >= threshold ? 1 : 0)), rows: m.rows, cols: m.cols };
}

/** Row-wise softmax of logits [N, K] (max-subtracted for stability). */
export function softmaxRows(logits: MatrixInput): ScoreMatrix {
  const m = toScoreMatrixChecked(logits, "softmaxRows: logits");
  const data = new Float64Array(m.data.length);
  for (let i = 0; i < m.rows; i++) {
    let mx = -Infinity;
    for (let j = 0; j < m.cols; j++) mx = Math.max(mx, m.data[i * m.cols + j]);
    let sum = 0;
    for (let j = 0; j < m.cols; j++) sum += data[i * m.cols + j] = Math.exp(m.data[i * m.cols + j] - mx);
    for (let j = 0; j < m.cols; j++) data[i * m.cols + j] /= sum;
  }
  return { data, rows: m.rows, cols: m.cols };
}

/** Element-wise logistic sigmoid of logits. */
export function sigmoidScores(logits: ArrayLike<number>): Float64Array {
  const s = toScores(logits, "sigmoidScores: logits");
  return s.map((x) => (x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x))));
}
