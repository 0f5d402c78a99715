/**
 * L-BFGS in float64 on the host (Nocedal & Wright, Algorithms 7.4 and 3.5/3.6): the two-loop recursion over the last
 * m (s, y) pairs, with a strong-Wolfe line search (bracketing, then zoom by safeguarded cubic interpolation).
 * Stopping follows scipy's L-BFGS-B, which scikit-learn's lbfgs solver calls: max |g| ≤ gtol, or a relative
 * decrease of f below ftol, or maxIter iterations.
 */

/** f and its gradient at x (the gradient is written into `g`). */
export type Objective = (x: Float64Array, g: Float64Array) => number;

/** L-BFGS settings (scipy's defaults). */
export interface LbfgsOptions {
  /** History size (scipy maxcor 10). */
  m?: number;
  /** Stop when max |g_i| ≤ gtol (scikit-learn passes its `tol`, 1e-4). */
  gtol?: number;
  /** Stop when (f_k − f_k+1) / max(|f_k|, |f_k+1|, 1) ≤ ftol (scipy: factr 1e7 × machine eps). */
  ftol?: number;
  maxIter?: number;
  /** Sufficient decrease and curvature constants of the strong Wolfe conditions. */
  c1?: number;
  c2?: number;
}

/** Result of a minimisation. */
export interface LbfgsResult {
  x: Float64Array;
  f: number;
  gradMax: number;
  iterations: number;
  evaluations: number;
  converged: boolean;
  reason: "gtol" | "ftol" | "maxIter" | "lineSearch";
}

/** Minimises f from x0 with L-BFGS. */
export function lbfgs(fn: Objective, x0: Float64Array, opts: LbfgsOptions = {}): LbfgsResult {
  const m = opts.m ?? 10;
  const gtol = opts.gtol ?? 1e-5;
  const ftol = opts.ftol ?? 1e7 * 2.220446049250313e-16;
  const maxIter = opts.maxIter ?? 15000;
  const n = x0.length;
  const x = Float64Array.from(x0);
  const g = new Float64Array(n);
  let evals = 1;
  let f = fn(x, g);
  const S: Float64Array[] = [];
  const Y: Float64Array[] = [];
  const rho: number[] = [];
  const d = new Float64Array(n);
  let iter = 0;
  let reason: LbfgsResult["reason"] = "maxIter";
  while (true) {
    if (maxAbs(g) <= gtol) {
      reason = "gtol";
      break;
    }
    if (iter >= maxIter) break;
    twoLoop(g, S, Y, rho, d);
    let dg = dot(d, g);
    if (!(dg < 0)) {
      // Not a descent direction (numerical trouble): restart from steepest descent.
      S.length = Y.length = rho.length = 0;
      for (let i = 0; i < n; i++) d[i] = -g[i];
      dg = dot(d, g);
    }
    const step0 = S.length === 0 ? Math.min(1, 1 / Math.sqrt(dot(g, g))) : 1;
    const ls = wolfeSearch(fn, x, f, g, d, dg, step0, opts.c1 ?? 1e-4, opts.c2 ?? 0.9);
    evals += ls.evals;
    if (!ls.ok) {
      reason = "lineSearch";
      break;
    }
    iter++;
    const s = new Float64Array(n);
    const y = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      s[i] = ls.x[i] - x[i];
      y[i] = ls.g[i] - g[i];
    }
    const fPrev = f;
    x.set(ls.x);
    g.set(ls.g);
    f = ls.f;
    const sy = dot(s, y);
    if (sy > 1e-10 * dot(y, y)) {
      if (S.length === m) {
        S.shift();
        Y.shift();
        rho.shift();
      }
      S.push(s);
      Y.push(y);
      rho.push(1 / sy);
    }
    if ((fPrev - f) / Math.max(Math.abs(fPrev), Math.abs(f), 1) <= ftol) {
      reason = "ftol";
      break;
    }
  }
  return {
    x,
    f,
    gradMax: maxAbs(g),
    iterations: iter,
    evaluations: evals,
    converged: reason === "gtol" || reason === "ftol",
    reason,
  };
}

/** d = −H·g by the two-loop recursion, with H0 = (sᵀy / yᵀy)·I. */
function twoLoop(g: Float64Array, S: Float64Array[], Y: Float64Array[], rho: number[], d: Float64Array): void {
  const k = S.length;
  const q = Float64Array.from(g);
  const alpha = new Array<number>(k);
  for (let i = k - 1; i >= 0; i--) {
    alpha[i] = rho[i] * dot(S[i], q);
    axpy(-alpha[i], Y[i], q);
  }
  const gamma = k > 0 ? dot(S[k - 1], Y[k - 1]) / dot(Y[k - 1], Y[k - 1]) : 1;
  for (let j = 0; j < q.length; j++) q[j] *= gamma;
  for (let i = 0; i < k; i++) {
    const beta = rho[i] * dot(Y[i], q);
    axpy(alpha[i] - beta, S[i], q);
  }
  for (let j = 0; j < q.length; j++) d[j] = -q[j];
}

interface Point {
  a: number;
  f: number;
  dg: number;
  x: Float64Array;
  g: Float64Array;
}

/** Strong-Wolfe line search along d (N&W Algorithm 3.5 with zoom, Algorithm 3.6). */
function wolfeSearch(
  fn: Objective,
  x0: Float64Array,
  f0: number,
  g0: Float64Array,
  d: Float64Array,
  dg0: number,
  step0: number,
  c1: number,
  c2: number,
): { ok: boolean; x: Float64Array; f: number; g: Float64Array; evals: number } {
  let evals = 0;
  const at = (a: number): Point => {
    const x = new Float64Array(x0.length);
    for (let i = 0; i < x.length; i++) x[i] = x0[i] + a * d[i];
    const g = new Float64Array(x0.length);
    const f = fn(x, g);
    evals++;
    return { a, f, dg: dot(g, d), x, g };
  };
  const armijo = (p: Point) => p.f <= f0 + c1 * p.a * dg0;
  const curvature = (p: Point) => Math.abs(p.dg) <= -c2 * dg0;
  let prev: Point = { a: 0, f: f0, dg: dg0, x: x0, g: g0 };
  let a = step0;
  for (let i = 0; i < 40; i++) {
    const cur = at(a);
    if (!Number.isFinite(cur.f) || !armijo(cur) || (i > 0 && cur.f >= prev.f)) {
      return finish(zoom(prev, cur));
    }
    if (curvature(cur)) return finish(cur);
    if (cur.dg >= 0) return finish(zoom(cur, prev));
    prev = cur;
    a *= 2;
  }
  return finish(null);

  function zoom(lo: Point, hi: Point): Point | null {
    for (let j = 0; j < 40; j++) {
      const a = interpolate(lo, hi);
      const p = at(a);
      if (!Number.isFinite(p.f) || !armijo(p) || p.f >= lo.f) {
        hi = p;
      } else {
        if (curvature(p)) return p;
        if (p.dg * (hi.a - lo.a) >= 0) hi = lo;
        lo = p;
      }
      if (Math.abs(hi.a - lo.a) < 1e-16 * Math.max(1, lo.a)) break;
    }
    // Interval collapsed: accept lo if it decreased f (scipy would stop with ABNORMAL otherwise).
    return lo.a > 0 && lo.f < f0 ? lo : null;
  }

  function finish(p: Point | null) {
    return p ? { ok: true, x: p.x, f: p.f, g: p.g, evals } : { ok: false, x: x0, f: f0, g: g0, evals };
  }
}

/** Minimiser of the cubic through (a, f, f') at both ends, kept inside the middle 80% of the interval. */
function interpolate(p: Point, q: Point): number {
  const lo = Math.min(p.a, q.a);
  const hi = Math.max(p.a, q.a);
  const d1 = p.dg + q.dg - (3 * (p.f - q.f)) / (p.a - q.a);
  const disc = d1 * d1 - p.dg * q.dg;
  let a = (lo + hi) / 2;
  if (Number.isFinite(q.f) && disc >= 0) {
    const d2 = Math.sign(q.a - p.a) * Math.sqrt(disc);
    const c = q.a - (q.a - p.a) * ((q.dg + d2 - d1) / (q.dg - p.dg + 2 * d2));
    if (Number.isFinite(c)) a = c;
  }
  const w = hi - lo;
  return Math.min(Math.max(a, lo + 0.1 * w), hi - 0.1 * w);
}

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

function axpy(alpha: number, x: Float64Array, y: Float64Array): void {
  for (let i = 0; i < x.length; i++) y[i] += alpha * x[i];
}

function maxAbs(a: Float64Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}
