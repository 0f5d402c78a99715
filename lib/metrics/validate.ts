/**
 * Input checking and normalisation shared by every metric. Metrics take plain arrays or typed arrays; matrices are
 * either arrays of rows or a flat row-major buffer with its shape (what a tensor's `dataSync()` gives).
 */
import { DataError, ShapeError } from "../errors";

/** A row-major matrix over a flat buffer: element (i, j) is `data[i * cols + j]`. */
export interface ScoreMatrix {
  data: ArrayLike<number>;
  rows: number;
  cols: number;
}

/** Either a `ScoreMatrix` or an array of equal-length rows (`number[][]`). */
export type MatrixInput = ScoreMatrix | ArrayLike<ArrayLike<number>>;

/** True when `x` is a flat `ScoreMatrix` rather than an array of rows. */
export function isScoreMatrix(x: unknown): x is ScoreMatrix {
  return typeof x === "object" && x !== null && "data" in x && "rows" in x && "cols" in x;
}

/** Normalises a matrix input to a `ScoreMatrix`, checking the rows are equal length and the buffer size matches. */
export function toScoreMatrix(x: MatrixInput, where: string): ScoreMatrix {
  if (isScoreMatrix(x)) {
    if (x.data.length !== x.rows * x.cols) {
      throw new ShapeError("Matrix buffer does not match its shape", {
        where,
        expected: `data.length = rows*cols = ${x.rows * x.cols}`,
        got: `${x.data.length}`,
        fix: "pass { data, rows, cols } with a row-major buffer of exactly rows*cols values",
      });
    }
    return x;
  }
  const rows = x.length;
  if (rows === 0) return { data: new Float64Array(0), rows: 0, cols: 0 };
  const cols = x[0].length;
  const data = new Float64Array(rows * cols);
  for (let i = 0; i < rows; i++) {
    const r = x[i];
    if (r.length !== cols) {
      throw new ShapeError("Matrix rows have different lengths", {
        where: `${where}[${i}]`,
        expected: `${cols} columns like row 0`,
        got: `${r.length}`,
        fix: "give every row one value per class or label",
      });
    }
    for (let j = 0; j < cols; j++) data[i * cols + j] = r[j];
  }
  return { data, rows, cols };
}

/** Throws a ShapeError unless `got` equals `expected` (sample counts of paired inputs). */
export function checkSameLength(expected: number, got: number, where: string): void {
  if (expected !== got) {
    throw new ShapeError("Inputs have different numbers of samples", {
      where,
      expected: `${expected} samples (as y_true)`,
      got: `${got}`,
      fix: "pass one prediction or score per ground-truth label, in the same order",
    });
  }
}

/** Throws a DataError unless the input has at least one sample. */
export function checkNonEmpty(n: number, where: string): void {
  if (n === 0) {
    throw new DataError("Empty input", {
      where,
      expected: "at least one sample",
      got: "0",
      fix: "check the split or filter that produced these labels",
    });
  }
}

/**
 * Checks class labels are non-negative integers (below `numClasses` when given) and returns them as an Int32Array.
 */
export function toLabels(y: ArrayLike<number>, where: string, numClasses?: number): Int32Array {
  const out = new Int32Array(y.length);
  for (let i = 0; i < y.length; i++) {
    const v = y[i];
    const bad = !Number.isInteger(v) || v < 0 || (numClasses !== undefined && v >= numClasses);
    if (bad) {
      const range = numClasses === undefined ? "a non-negative integer" : `an integer in [0, ${numClasses - 1}]`;
      throw new DataError("Label out of range", {
        where: `${where}[${i}]`,
        expected: range,
        got: `${v}`,
        fix: "encode classes as 0..K-1 (e.g. with a class list) before computing metrics",
      });
    }
    out[i] = v;
  }
  return out;
}

/** Checks binary labels are 0 or 1 and returns them as an Int32Array. */
export function toBinaryLabels(y: ArrayLike<number>, where: string): Int32Array {
  return toLabels(y, where, 2);
}

/** Checks every score is a finite number (NaN or ±Infinity scores make rankings meaningless) and returns a copy. */
export function toScores(s: ArrayLike<number>, where: string): Float64Array {
  const out = new Float64Array(s.length);
  for (let i = 0; i < s.length; i++) {
    const v = s[i];
    if (typeof v !== "number" || !Number.isFinite(v)) {
      throw new DataError("Score is not a finite number", {
        where: `${where}[${i}]`,
        expected: "a finite number",
        got: `${v}`,
        fix: "check the model output for NaN (diverged training, log of 0) before computing metrics",
      });
    }
    out[i] = v;
  }
  return out;
}

/** Checks a matrix of scores is finite and returns it as a `ScoreMatrix` over a Float64Array. */
export function toScoreMatrixChecked(x: MatrixInput, where: string): ScoreMatrix {
  const m = toScoreMatrix(x, where);
  const data = new Float64Array(m.data.length);
  for (let k = 0; k < m.data.length; k++) {
    const v = m.data[k];
    if (typeof v !== "number" || !Number.isFinite(v)) {
      const i = Math.floor(k / Math.max(1, m.cols));
      throw new DataError("Score is not a finite number", {
        where: `${where}[${i}][${k - i * m.cols}]`,
        expected: "a finite number",
        got: `${v}`,
        fix: "check the model output for NaN (diverged training, log of 0) before computing metrics",
      });
    }
    data[k] = v;
  }
  return { data, rows: m.rows, cols: m.cols };
}

/** Column `j` of a matrix as a new Float64Array. */
export function column(m: ScoreMatrix, j: number): Float64Array {
  const out = new Float64Array(m.rows);
  for (let i = 0; i < m.rows; i++) out[i] = m.data[i * m.cols + j];
  return out;
}

/** Sorted distinct values of one or more label arrays (sklearn's `unique_labels` for integer labels). */
export function uniqueLabels(...ys: ArrayLike<number>[]): number[] {
  const s = new Set<number>();
  for (const y of ys) for (let i = 0; i < y.length; i++) s.add(y[i]);
  return [...s].sort((a, b) => a - b);
}
