/**
 * Weighted kNN probe as in DINO's eval_knn (Caron et al. 2021), used by UNI and THUNDER: features are L2-normalised,
 * similarity is cosine, the k = 20 nearest training items vote with weight exp(sim / T), T = 0.07, and the class with
 * the largest summed weight wins. Class scores are returned normalised to sum to 1.
 */
import { ConfigError, ShapeError } from "../../errors";

/** kNN settings (DINO's defaults). */
export interface KnnOptions {
  k?: number;
  temperature?: number;
}

/** Row-major features [n, d] and integer labels. */
export interface LabelledFeatures {
  features: Float32Array | Float64Array;
  n: number;
  d: number;
  labels: ArrayLike<number>;
}

function normalised(f: Float32Array | Float64Array, n: number, d: number): Float64Array {
  const out = new Float64Array(n * d);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let j = 0; j < d; j++) s += f[i * d + j] ** 2;
    const inv = 1 / Math.max(Math.sqrt(s), 1e-12); // torch F.normalize's eps
    for (let j = 0; j < d; j++) out[i * d + j] = f[i * d + j] * inv;
  }
  return out;
}

/** Class scores [m, K] (row-major) for query features [m, d]; K = max label + 1. */
export function knnPredictProba(
  train: LabelledFeatures,
  query: { features: Float32Array | Float64Array; n: number; d: number },
  opts: KnnOptions = {},
): { proba: Float64Array; numClasses: number } {
  const k = Math.min(opts.k ?? 20, train.n);
  const T = opts.temperature ?? 0.07;
  if (!(k > 0) || !(T > 0))
    throw new ConfigError("Bad kNN settings", {
      where: "KnnOptions",
      expected: "k ≥ 1 and temperature > 0",
      got: `k=${k}, T=${T}`,
    });
  if (query.d !== train.d)
    throw new ShapeError("Query and train features differ in width", {
      where: "knnPredictProba",
      expected: `${train.d}`,
      got: `${query.d}`,
    });
  const K = Math.max(...Array.from(train.labels)) + 1;
  const a = normalised(train.features, train.n, train.d);
  const q = normalised(query.features, query.n, query.d);
  const proba = new Float64Array(query.n * K);
  const sims = new Float64Array(train.n);
  const idx = Array.from({ length: train.n }, (_, i) => i);
  for (let i = 0; i < query.n; i++) {
    for (let t = 0; t < train.n; t++) {
      let s = 0;
      for (let j = 0; j < train.d; j++) s += q[i * train.d + j] * a[t * train.d + j];
      sims[t] = s;
    }
    idx.sort((x, y) => sims[y] - sims[x] || x - y);
    let total = 0;
    for (let r = 0; r < k; r++) {
      const w = Math.exp(sims[idx[r]] / T);
      proba[i * K + train.labels[idx[r]]] += w;
      total += w;
    }
    for (let c = 0; c < K; c++) proba[i * K + c] /= total;
  }
  return { proba, numClasses: K };
}

/** Predicted labels (argmax of the weighted votes). */
export function knnPredict(
  train: LabelledFeatures,
  query: { features: Float32Array | Float64Array; n: number; d: number },
  opts: KnnOptions = {},
): number[] {
  const { proba, numClasses: K } = knnPredictProba(train, query, opts);
  return Array.from({ length: query.n }, (_, i) => {
    let best = 0;
    for (let c = 1; c < K; c++) if (proba[i * K + c] > proba[i * K + best]) best = c;
    return best;
  });
}
