/**
 * Percentile bootstrap confidence intervals for any metric: resample the evaluation set with replacement (optionally
 * within strata, e.g. classes, so each replicate keeps the class balance), recompute the metric, and take the
 * alpha/2 and 1 - alpha/2 percentiles (numpy's linear interpolation) of the replicates.
 * Replicates where the metric is undefined (it throws a DataError, e.g. AUROC on a one-class resample, or gives NaN)
 * are dropped and counted in `nFailed`.
 */
import { ConfigError, DataError } from "../errors";
import { mulberry32 } from "./prng";
import { isScoreMatrix, type MatrixInput, type ScoreMatrix, toScoreMatrix } from "./validate";

/** Bootstrap settings. */
export interface BootstrapOptions {
  /** Number of resamples; default 1000. */
  nResamples?: number;
  /** Two-sided level: the interval covers 1 - alpha; default 0.05 (95%). */
  alpha?: number;
  /** PRNG seed; default 0. The same seed gives the same interval. */
  seed?: number;
  /** Stratum of each sample; resampling happens within each stratum, keeping its size. */
  strata?: ArrayLike<number>;
}

/** A point estimate with its percentile bootstrap interval. */
export interface BootstrapResult {
  estimate: number;
  lower: number;
  upper: number;
  /** Sample standard deviation (ddof = 1) of the successful replicates. */
  std: number;
  alpha: number;
  nResamples: number;
  nFailed: number;
}

/** Percentile of sorted values with numpy's default linear interpolation; q in [0, 1]. */
export function percentileSorted(sorted: ArrayLike<number>, q: number): number {
  const pos = q * (sorted.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(sorted.length - 1, lo + 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

/** Draws one resample of indices 0..n-1 (within strata when given). */
function drawIndices(n: number, groups: number[][] | null, rng: ReturnType<typeof mulberry32>): Int32Array {
  const idx = new Int32Array(n);
  if (groups === null) {
    for (let i = 0; i < n; i++) idx[i] = rng.nextInt(n);
    return idx;
  }
  let k = 0;
  for (const g of groups) for (let i = 0; i < g.length; i++) idx[k++] = g[rng.nextInt(g.length)];
  return idx;
}

function groupByStratum(strata: ArrayLike<number>, n: number): number[][] {
  if (strata.length !== n) {
    throw new ConfigError("strata must give one value per sample", {
      where: "bootstrap: strata",
      expected: `${n} values`,
      got: `${strata.length}`,
      fix: "pass yTrue (or another per-sample grouping) as strata",
    });
  }
  const m = new Map<number, number[]>();
  for (let i = 0; i < n; i++) {
    const g = m.get(strata[i]);
    if (g === undefined) m.set(strata[i], [i]);
    else g.push(i);
  }
  return [...m.keys()].sort((a, b) => a - b).map((k) => m.get(k) as number[]);
}

function checkOptions(nResamples: number, alpha: number): void {
  if (!Number.isInteger(nResamples) || nResamples < 1 || !(alpha > 0 && alpha < 1)) {
    throw new ConfigError("Invalid bootstrap options", {
      where: "bootstrap: nResamples / alpha",
      expected: "nResamples an integer ≥ 1 and 0 < alpha < 1",
      got: `nResamples=${nResamples}, alpha=${alpha}`,
      fix: "use e.g. nResamples 1000 and alpha 0.05 for a 95% interval",
    });
  }
}

/** Bootstrap CI for `metric(indices)` over `n` samples; `metric` receives the identity resample for the estimate. */
export function bootstrapCI(
  n: number,
  metric: (idx: Int32Array) => number,
  opts: BootstrapOptions = {},
): BootstrapResult {
  const nResamples = opts.nResamples ?? 1000;
  const alpha = opts.alpha ?? 0.05;
  checkOptions(nResamples, alpha);
  const identity = Int32Array.from({ length: n }, (_, i) => i);
  const estimate = metric(identity);
  const groups = opts.strata === undefined ? null : groupByStratum(opts.strata, n);
  const rng = mulberry32(opts.seed ?? 0);
  const values: number[] = [];
  let nFailed = 0;
  for (let r = 0; r < nResamples; r++) {
    const idx = drawIndices(n, groups, rng);
    let v: number;
    try {
      v = metric(idx);
    } catch (e) {
      if (!(e instanceof DataError)) throw e;
      v = NaN;
    }
    if (Number.isNaN(v)) nFailed++;
    else values.push(v);
  }
  if (values.length === 0) {
    throw new DataError("Every bootstrap replicate of the metric was undefined", {
      where: "bootstrapCI",
      expected: "at least one replicate with a defined metric",
      got: `${nFailed} of ${nResamples} failed`,
      fix: "use strata (e.g. yTrue) so every resample keeps both classes, or a larger evaluation set",
    });
  }
  values.sort((a, b) => a - b);
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  const ss = values.reduce((a, b) => a + (b - mean) * (b - mean), 0);
  return {
    estimate,
    lower: percentileSorted(values, alpha / 2),
    upper: percentileSorted(values, 1 - alpha / 2),
    std: values.length > 1 ? Math.sqrt(ss / (values.length - 1)) : NaN,
    alpha,
    nResamples,
    nFailed,
  };
}

/** What a metric sees after resampling: vectors become `number[]`, matrices become a `ScoreMatrix`. */
export type Resampled<X> = X extends ArrayLike<number> ? number[] : ScoreMatrix;

/** Rows `idx` of a matrix, or elements `idx` of a vector (the resampled view a metric receives). */
export function takeRows(x: ArrayLike<number> | MatrixInput, idx: Int32Array): number[] | ScoreMatrix {
  if (!isMatrixLike(x)) {
    const v = x as ArrayLike<number>;
    return Array.from(idx, (i) => v[i]);
  }
  const m = toScoreMatrix(x as MatrixInput, "takeRows");
  const data = new Float64Array(idx.length * m.cols);
  for (let r = 0; r < idx.length; r++) {
    for (let j = 0; j < m.cols; j++) data[r * m.cols + j] = m.data[idx[r] * m.cols + j];
  }
  return { data, rows: idx.length, cols: m.cols };
}

function isMatrixLike(x: ArrayLike<number> | MatrixInput): boolean {
  return isScoreMatrix(x) || (x.length > 0 && typeof (x as ArrayLike<unknown>)[0] === "object");
}

/**
 * Bootstrap CI of `metric(yTrue, scores)` by resampling paired rows. `stratified: true` resamples within each class
 * of a 1-D yTrue (for multi-label yTrue pass `strata` explicitly).
 */
export function bootstrapMetric<Y extends ArrayLike<number> | MatrixInput, S extends ArrayLike<number> | MatrixInput>(
  yTrue: Y,
  scores: S,
  metric: (yTrue: Resampled<Y>, scores: Resampled<S>) => number,
  opts: BootstrapOptions & { stratified?: boolean } = {},
): BootstrapResult {
  const n = isScoreMatrix(yTrue) ? yTrue.rows : yTrue.length;
  const strata = opts.strata ?? (opts.stratified && !isMatrixLike(yTrue) ? (yTrue as ArrayLike<number>) : undefined);
  return bootstrapCI(n, (idx) => metric(takeRows(yTrue, idx) as Resampled<Y>, takeRows(scores, idx) as Resampled<S>), {
    ...opts,
    strata,
  });
}
