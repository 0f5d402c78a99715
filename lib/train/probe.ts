/**
 * Probes on frozen features: multinomial logistic regression fitted with L-BFGS (scikit-learn's
 * LogisticRegression(solver="lbfgs") objective, C = d·K/100 by default as in the UNI recipe) and a cosine kNN.
 * Pure float64 host code: a 1280×8 probe on a few thousand rows takes seconds and needs no tfjs.
 */
import { ConfigError, ShapeError } from "../errors";

/** Row-major features [n, d]. */
export interface FeatureMatrix {
  data: Float32Array;
  n: number;
  d: number;
}

/** A fitted linear probe: logits = x·Wᵀ + b, W [K, d] (PyTorch Linear layout). */
export interface LinearProbe {
  weight: Float64Array;
  bias: Float64Array;
  k: number;
  d: number;
  iterations: number;
  converged: boolean;
}

/** scikit-learn's default C for UNI-style probes: d·K/100. */
export function autoC(d: number, k: number): number {
  return (d * k) / 100;
}

/**
 * Fits multinomial logistic regression: minimises mean CE + ‖W‖²/(2·C·n) (the intercept is not penalised), which
 * has the same minimiser as scikit-learn's C·ΣCE + ½‖W‖².
 */
export function fitLogisticRegression(
  x: FeatureMatrix,
  y: ArrayLike<number>,
  k: number,
  o: { C: number; maxIter?: number; tol?: number },
): LinearProbe {
  const { n, d } = x;
  if (y.length !== n)
    throw new ShapeError("Labels do not match features", {
      where: "fitLogisticRegression",
      expected: `${n} labels`,
      got: String(y.length),
    });
  if (!(o.C > 0)) throw new ConfigError("C must be positive", { where: "method.C", expected: "> 0", got: String(o.C) });
  const nw = k * d;
  const lam = 1 / (o.C * n);
  const f = (theta: Float64Array, grad: Float64Array): number => {
    grad.fill(0);
    let loss = 0;
    const z = new Float64Array(k);
    for (let i = 0; i < n; i++) {
      const row = i * d;
      for (let c = 0; c < k; c++) {
        let s = theta[nw + c];
        const w = c * d;
        for (let j = 0; j < d; j++) s += theta[w + j] * x.data[row + j];
        z[c] = s;
      }
      let mx = -Infinity;
      for (let c = 0; c < k; c++) mx = Math.max(mx, z[c]);
      let sum = 0;
      for (let c = 0; c < k; c++) sum += z[c] = Math.exp(z[c] - mx);
      const yi = y[i];
      loss += -Math.log(z[yi] / sum);
      for (let c = 0; c < k; c++) {
        const g = (z[c] / sum - (c === yi ? 1 : 0)) / n;
        grad[nw + c] += g;
        const w = c * d;
        for (let j = 0; j < d; j++) grad[w + j] += g * x.data[row + j];
      }
    }
    loss /= n;
    for (let j = 0; j < nw; j++) {
      loss += 0.5 * lam * theta[j] * theta[j];
      grad[j] += lam * theta[j];
    }
    return loss;
  };
  const r = lbfgs(f, new Float64Array(nw + k), { maxIter: o.maxIter ?? 1000, tol: o.tol ?? 1e-4 });
  return { weight: r.x.slice(0, nw), bias: r.x.slice(nw), k, d, iterations: r.iterations, converged: r.converged };
}

/** Class probabilities [n, k] of a linear probe (softmax of x·Wᵀ + b). */
export function probeProbabilities(p: LinearProbe, x: FeatureMatrix): Float32Array {
  if (x.d !== p.d)
    throw new ShapeError("Feature width does not match the probe", {
      where: "probeProbabilities",
      expected: `d = ${p.d}`,
      got: String(x.d),
    });
  const out = new Float32Array(x.n * p.k);
  const z = new Float64Array(p.k);
  for (let i = 0; i < x.n; i++) {
    let mx = -Infinity;
    for (let c = 0; c < p.k; c++) {
      let s = p.bias[c];
      for (let j = 0; j < p.d; j++) s += p.weight[c * p.d + j] * x.data[i * p.d + j];
      z[c] = s;
      mx = Math.max(mx, s);
    }
    let sum = 0;
    for (let c = 0; c < p.k; c++) sum += z[c] = Math.exp(z[c] - mx);
    for (let c = 0; c < p.k; c++) out[i * p.k + c] = z[c] / sum;
  }
  return out;
}

/** Cosine kNN: class scores are the fraction of the k nearest training rows in each class. */
export function knnProbabilities(
  train: FeatureMatrix,
  y: ArrayLike<number>,
  numClasses: number,
  x: FeatureMatrix,
  k: number,
): Float32Array {
  const kk = Math.min(k, train.n);
  const tn = unitRows(train);
  const xn = unitRows(x);
  const out = new Float32Array(x.n * numClasses);
  const sims = new Float64Array(train.n);
  for (let i = 0; i < x.n; i++) {
    for (let t = 0; t < train.n; t++) {
      let s = 0;
      for (let j = 0; j < x.d; j++) s += xn[i * x.d + j] * tn[t * x.d + j];
      sims[t] = s;
    }
    const idx = Array.from({ length: train.n }, (_, t) => t).sort((a, b) => sims[b] - sims[a] || a - b);
    for (let m = 0; m < kk; m++) out[i * numClasses + y[idx[m]]] += 1 / kk;
  }
  return out;
}

function unitRows(x: FeatureMatrix): Float64Array {
  const out = new Float64Array(x.data.length);
  for (let i = 0; i < x.n; i++) {
    let s = 0;
    for (let j = 0; j < x.d; j++) s += x.data[i * x.d + j] ** 2;
    const inv = 1 / Math.max(Math.sqrt(s), 1e-12);
    for (let j = 0; j < x.d; j++) out[i * x.d + j] = x.data[i * x.d + j] * inv;
  }
  return out;
}

/** Limited-memory BFGS (two-loop recursion, m = 10) with a backtracking Armijo line search. */
export function lbfgs(
  f: (x: Float64Array, g: Float64Array) => number,
  x0: Float64Array,
  o: { maxIter: number; tol: number; m?: number },
): { x: Float64Array; fx: number; iterations: number; converged: boolean } {
  const m = o.m ?? 10;
  const n = x0.length;
  let x = x0.slice();
  let g = new Float64Array(n);
  let fx = f(x, g);
  const S: Float64Array[] = [];
  const Y: Float64Array[] = [];
  const dot = (a: Float64Array, b: Float64Array) => {
    let s = 0;
    for (let i = 0; i < n; i++) s += a[i] * b[i];
    return s;
  };
  let it = 0;
  for (; it < o.maxIter; it++) {
    if (maxAbs(g) <= o.tol) return { x, fx, iterations: it, converged: true };
    // Two-loop recursion: dir = −H·g.
    const q = g.slice();
    const alpha: number[] = [];
    for (let i = S.length - 1; i >= 0; i--) {
      const a = dot(S[i], q) / dot(Y[i], S[i]);
      alpha[i] = a;
      for (let j = 0; j < n; j++) q[j] -= a * Y[i][j];
    }
    const gamma = S.length
      ? dot(S[S.length - 1], Y[Y.length - 1]) / dot(Y[Y.length - 1], Y[Y.length - 1])
      : 1 / Math.max(1, Math.sqrt(dot(g, g)));
    for (let j = 0; j < n; j++) q[j] *= gamma;
    for (let i = 0; i < S.length; i++) {
      const b = dot(Y[i], q) / dot(Y[i], S[i]);
      for (let j = 0; j < n; j++) q[j] += S[i][j] * (alpha[i] - b);
    }
    for (let j = 0; j < n; j++) q[j] = -q[j];
    let slope = dot(g, q);
    if (slope >= 0) {
      // Not a descent direction (numerical trouble): restart from steepest descent.
      S.length = 0;
      Y.length = 0;
      for (let j = 0; j < n; j++) q[j] = -g[j];
      slope = dot(g, q);
    }
    let step = 1;
    const xn = new Float64Array(n);
    const gn = new Float64Array(n);
    let fn = Infinity;
    for (let ls = 0; ls < 40; ls++) {
      for (let j = 0; j < n; j++) xn[j] = x[j] + step * q[j];
      fn = f(xn, gn);
      if (fn <= fx + 1e-4 * step * slope) break;
      step *= 0.5;
    }
    if (!(fn < fx) && Math.abs(fn - fx) <= 1e-12 * Math.max(1, Math.abs(fx)))
      return { x, fx, iterations: it, converged: true };
    const s = new Float64Array(n);
    const yv = new Float64Array(n);
    for (let j = 0; j < n; j++) {
      s[j] = xn[j] - x[j];
      yv[j] = gn[j] - g[j];
    }
    if (dot(s, yv) > 1e-10) {
      S.push(s);
      Y.push(yv);
      if (S.length > m) {
        S.shift();
        Y.shift();
      }
    }
    const rel = Math.abs(fx - fn) / Math.max(Math.abs(fx), Math.abs(fn), 1);
    x = xn;
    g = gn;
    fx = fn;
    if (rel <= 2.220446049250313e-16 * 1e7) return { x, fx, iterations: it + 1, converged: true }; // scipy's factr=1e7
  }
  return { x, fx, iterations: it, converged: maxAbs(g) <= o.tol };
}

function maxAbs(a: Float64Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}
