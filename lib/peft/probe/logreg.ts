/**
 * Logistic-regression linear probe, as scikit-learn's LogisticRegression(solver="lbfgs") fits it and as UNI's
 * linear-probe recipe configures it (C = d·K/100). Runs in float64 on the host with lib/peft/probe/lbfgs.ts.
 *
 * Objective (scikit-learn ≤1.2 form): Σ_i CE(x_i, y_i) + 1/(2C)·‖W‖², intercept not penalised.
 * - K > 2 classes: multinomial softmax with K weight vectors and K intercepts (sklearn's default for lbfgs).
 * - K = 2: sklearn fits one binary logistic vector (multi_class "auto" → ovr), p(class 1) = σ(w·x + b).
 */
import { ConfigError, ShapeError } from "../../errors";
import { lbfgs, type LbfgsResult } from "./lbfgs";

/** Probe settings. */
export interface LogRegOptions {
  /** Inverse L2 strength; default UNI's d·K/100. */
  C?: number;
  /** scikit-learn's max_iter (default 1000, UNI's value). */
  maxIter?: number;
  /** Gradient tolerance (scikit-learn's tol, 1e-4, on the summed objective). */
  tol?: number;
}

/** A fitted probe. W is [K', d] row-major (K' = 1 for binary), b is [K']. */
export interface LogRegModel {
  classes: number[];
  d: number;
  C: number;
  W: Float64Array;
  b: Float64Array;
  binary: boolean;
  fit: Omit<LbfgsResult, "x">;
}

/** A row-major [n, d] matrix of features. */
export interface FeatureMatrix {
  data: Float64Array | Float32Array;
  n: number;
  d: number;
}

/** Builds a FeatureMatrix from nested arrays. */
export function featureMatrix(rows: ArrayLike<number>[]): FeatureMatrix {
  const n = rows.length;
  const d = n > 0 ? rows[0].length : 0;
  const data = new Float64Array(n * d);
  rows.forEach((r, i) => {
    if (r.length !== d)
      throw new ShapeError("Ragged feature rows", { where: `row ${i}`, expected: `${d} values`, got: `${r.length}` });
    for (let j = 0; j < d; j++) data[i * d + j] = r[j];
  });
  return { data, n, d };
}

/** UNI's regularisation: C = d·K/100. */
export function uniC(d: number, numClasses: number): number {
  return (d * numClasses) / 100;
}

/** Fits the probe (scikit-learn's lbfgs LogisticRegression). */
export function fitLogisticRegression(X: FeatureMatrix, y: ArrayLike<number>, opts: LogRegOptions = {}): LogRegModel {
  if (y.length !== X.n) {
    throw new ShapeError("Labels and features differ in length", {
      where: "fitLogisticRegression",
      expected: `${X.n} labels`,
      got: `${y.length}`,
    });
  }
  const classes = [...new Set(Array.from(y))].sort((a, b) => a - b);
  if (classes.length < 2) {
    throw new ConfigError("Logistic regression needs at least two classes", {
      where: "y",
      expected: "≥ 2 distinct labels",
      got: `${classes.length}`,
    });
  }
  const K = classes.length;
  const C = opts.C ?? uniC(X.d, K);
  if (!(C > 0))
    throw new ConfigError("C must be positive", { where: "LogRegOptions.C", expected: "> 0", got: String(C) });
  const idx = Int32Array.from(Array.from(y), (v) => classes.indexOf(v));
  const binary = K === 2;
  const rows = binary ? 1 : K;
  const fn = binary ? binaryObjective(X, idx, C) : softmaxObjective(X, idx, K, C);
  const res = lbfgs(fn, new Float64Array(rows * (X.d + 1)), { gtol: opts.tol ?? 1e-4, maxIter: opts.maxIter ?? 1000 });
  const { x, ...fit } = res;
  return { classes, d: X.d, C, W: x.slice(0, rows * X.d), b: x.slice(rows * X.d), binary, fit };
}

/** Class probabilities [n, K] row-major. */
export function predictProba(m: LogRegModel, X: FeatureMatrix): Float64Array {
  const K = m.classes.length;
  const out = new Float64Array(X.n * K);
  const rows = m.binary ? 1 : K;
  const z = new Float64Array(rows);
  for (let i = 0; i < X.n; i++) {
    logits(m.W, m.b, X, i, rows, z);
    if (m.binary) {
      const p = 1 / (1 + Math.exp(-z[0]));
      out[i * 2] = 1 - p;
      out[i * 2 + 1] = p;
    } else {
      const lse = logSumExp(z);
      for (let k = 0; k < K; k++) out[i * K + k] = Math.exp(z[k] - lse);
    }
  }
  return out;
}

/** Predicted labels (argmax of the probabilities, first on ties like numpy). */
export function predict(m: LogRegModel, X: FeatureMatrix): number[] {
  const p = predictProba(m, X);
  const K = m.classes.length;
  const out: number[] = [];
  for (let i = 0; i < X.n; i++) {
    let best = 0;
    for (let k = 1; k < K; k++) if (p[i * K + k] > p[i * K + best]) best = k;
    out.push(m.classes[best]);
  }
  return out;
}

function logits(W: Float64Array, b: Float64Array, X: FeatureMatrix, i: number, rows: number, z: Float64Array): void {
  const d = X.d;
  const off = i * d;
  for (let k = 0; k < rows; k++) {
    let s = b[k];
    const wo = k * d;
    for (let j = 0; j < d; j++) s += W[wo + j] * X.data[off + j];
    z[k] = s;
  }
}

function logSumExp(z: Float64Array): number {
  let mx = -Infinity;
  for (const v of z) mx = Math.max(mx, v);
  let s = 0;
  for (const v of z) s += Math.exp(v - mx);
  return mx + Math.log(s);
}

/** Σ softmax CE + ‖W‖²/(2C); params = [W (K·d), b (K)]. */
function softmaxObjective(X: FeatureMatrix, y: Int32Array, K: number, C: number) {
  const d = X.d;
  const z = new Float64Array(K);
  return (x: Float64Array, g: Float64Array): number => {
    const W = x.subarray(0, K * d);
    const b = x.subarray(K * d);
    g.fill(0);
    let f = 0;
    for (let i = 0; i < X.n; i++) {
      logits(W, b, X, i, K, z);
      const lse = logSumExp(z);
      f += lse - z[y[i]];
      for (let k = 0; k < K; k++) {
        const r = Math.exp(z[k] - lse) - (k === y[i] ? 1 : 0); // p − onehot
        const go = k * d;
        for (let j = 0; j < d; j++) g[go + j] += r * X.data[i * d + j];
        g[K * d + k] += r;
      }
    }
    return f + penalty(W, g, C);
  };
}

/** Σ binary CE + ‖w‖²/(2C); params = [w (d), b]. */
function binaryObjective(X: FeatureMatrix, y: Int32Array, C: number) {
  const d = X.d;
  const z = new Float64Array(1);
  return (x: Float64Array, g: Float64Array): number => {
    const w = x.subarray(0, d);
    const b = x.subarray(d);
    g.fill(0);
    let f = 0;
    for (let i = 0; i < X.n; i++) {
      logits(w, b, X, i, 1, z);
      const t = z[0];
      f += (t > 0 ? t + Math.log1p(Math.exp(-t)) : Math.log1p(Math.exp(t))) - y[i] * t; // softplus(t) − y·t
      const r = 1 / (1 + Math.exp(-t)) - y[i];
      for (let j = 0; j < d; j++) g[j] += r * X.data[i * d + j];
      g[d] += r;
    }
    return f + penalty(w, g, C);
  };
}

function penalty(W: Float64Array, g: Float64Array, C: number): number {
  let s = 0;
  for (let j = 0; j < W.length; j++) {
    s += W[j] * W[j];
    g[j] += W[j] / C;
  }
  return s / (2 * C);
}
