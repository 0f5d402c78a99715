/**
 * Probes in run configs, on lib/peft's probes: frozen features through lib/peft's feature cache (keyed by the
 * backbone's weights hash, the preprocessing and each item's id and pixels; atomic; a corrupt entry is rebuilt),
 * scikit-learn's logistic regression, DINO's weighted kNN, or a linear head trained by fit().
 *
 * A run folder stores every linear probe as `probe.safetensors` with weight [K, d] and bias [K] whose softmax gives the
 * class probabilities. scikit-learn's binary model (one vector w, b) is stored as the rows [0; w] and [0; b]:
 * softmax([0, z]) = [1 − σ(z), σ(z)] exactly. A class absent from the training split gets bias −∞ (probability 0,
 * as scikit-learn never predicts an unseen class).
 */
import * as path from "node:path";
import { DataLoader } from "../data/loader";
import type { TransformOptions } from "../data/pipeline";
import type { ImageDataset } from "../data/types";
import { readSafetensors, writeSafetensors } from "../io/safetensors";
import type { ImageClassifier } from "../models/types";
import { cacheRoot } from "../paths";
import {
  extractFeatures as cachedExtract,
  type CachedFeatures,
  type FeatureBatch,
  type FeatureMatrix,
  type LogRegModel,
  predictProba,
} from "../peft/probe";

/** Features of a dataset's items, row i for `ids[i]`. */
export interface DatasetFeatures extends FeatureMatrix {
  data: Float32Array;
  ids: string[];
}

/** The feature cache folder: `cacheRoot()`/features, default ~/.cache/peftlab/features. */
export function featureCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(cacheRoot(env), "features");
}

/** The preprocessing part of a cache key: what the eval transform does to an image (no augmentation). */
export function preprocessingOf(t: TransformOptions): Record<string, unknown> {
  return { size: t.size, resize: t.resize ?? t.size, normalize: t.normalize ?? null };
}

/** Frozen pre-logits features of every item of `ds` (dataset order), through lib/peft's feature cache. */
export async function datasetFeatures(
  model: ImageClassifier,
  ds: ImageDataset,
  o: { transform: TransformOptions; batchSize: number; workers?: number; cacheDir?: string; log?: (s: string) => void },
): Promise<DatasetFeatures & { key: string; computed: number; cacheDir: string }> {
  const transform = { ...o.transform, augment: undefined };
  const dl = new DataLoader(ds, {
    batchSize: o.batchSize,
    transform,
    augment: false,
    shuffle: false,
    workers: o.workers,
  });
  const cacheDir = o.cacheDir ?? featureCacheDir();
  const t0 = Date.now();
  let f: CachedFeatures;
  try {
    async function* batches(): AsyncGenerator<FeatureBatch> {
      for await (const b of dl.epoch()) yield { x: b.x, y: b.y, ids: b.ids }; // the loader disposes each batch
    }
    f = await cachedExtract(model, batches(), { dir: cacheDir, preprocessing: preprocessingOf(transform), log: o.log });
  } finally {
    await dl.close();
  }
  const s = ((Date.now() - t0) / 1000).toFixed(1);
  o.log?.(`features ${f.n} × ${f.d}: ${f.computed} extracted, ${f.n - f.computed} from the cache ${f.key} (${s} s)`);
  return { data: f.features, n: f.n, d: f.d, ids: f.ids, key: f.key, computed: f.computed, cacheDir };
}

/** The rows of `feats` for the items of `subset` (by id). */
export function selectRows(feats: DatasetFeatures, subset: ImageDataset): DatasetFeatures {
  const row = new Map(feats.ids.map((id, i) => [id, i]));
  const out = new Float32Array(subset.items.length * feats.d);
  subset.items.forEach((it, i) => {
    const r = row.get(it.id)!;
    out.set(feats.data.subarray(r * feats.d, (r + 1) * feats.d), i * feats.d);
  });
  return { data: out, n: subset.items.length, d: feats.d, ids: subset.items.map((it) => it.id) };
}

/** A softmax linear probe over K classes: weight [K, d] row-major, bias [K]. */
export interface SoftmaxProbe {
  weight: Float32Array;
  bias: Float32Array;
  k: number;
  d: number;
}

/** The K-row softmax form of a fitted logistic regression (see the file comment for binary and absent classes). */
export function softmaxProbeOf(m: LogRegModel, k: number): SoftmaxProbe {
  const d = m.d;
  const weight = new Float32Array(k * d);
  const bias = new Float32Array(k).fill(-Infinity);
  if (m.binary) {
    const [c0, c1] = m.classes;
    bias[c0] = 0;
    weight.set(m.W.subarray(0, d), c1 * d);
    bias[c1] = m.b[0];
  } else {
    m.classes.forEach((c, r) => {
      weight.set(m.W.subarray(r * d, (r + 1) * d), c * d);
      bias[c] = m.b[r];
    });
  }
  return { weight, bias, k, d };
}

/** Class probabilities [n, K] of a softmax probe (lib/peft's predictProba on the multinomial form). */
export function softmaxProbeProba(p: SoftmaxProbe, x: FeatureMatrix): Float32Array {
  const m: LogRegModel = {
    classes: Array.from({ length: p.k }, (_, i) => i),
    d: p.d,
    C: Number.NaN,
    W: Float64Array.from(p.weight),
    b: Float64Array.from(p.bias),
    binary: false,
    fit: { f: Number.NaN, gradMax: Number.NaN, iterations: 0, evaluations: 0, converged: true, reason: "gtol" },
  };
  return Float32Array.from(predictProba(m, x));
}

/** Writes `probe.safetensors` (weight [K, d], bias [K]) with string metadata. */
export function saveSoftmaxProbe(out: string, p: SoftmaxProbe, meta: Record<string, string>): void {
  writeSafetensors(
    path.join(out, "probe.safetensors"),
    new Map([
      ["weight", { dtype: "float32", shape: [p.k, p.d], data: p.weight }],
      ["bias", { dtype: "float32", shape: [p.k], data: p.bias }],
    ]),
    { metadata: { format: "pt", ...meta } },
  );
}

/** Reads a run folder's `probe.safetensors`. */
export function loadSoftmaxProbe(dir: string): SoftmaxProbe {
  const t = readSafetensors(path.join(dir, "probe.safetensors")).tensors;
  const w = t.get("weight")!;
  return { weight: w.data as Float32Array, bias: t.get("bias")!.data as Float32Array, k: w.shape[0], d: w.shape[1] };
}

/** Pads kNN class scores [n, K'] (K' = largest training label + 1) to K columns. */
export function padColumns(scores: Float64Array, n: number, from: number, k: number): Float32Array {
  const out = new Float32Array(n * k);
  for (let i = 0; i < n; i++) for (let c = 0; c < Math.min(from, k); c++) out[i * k + c] = scores[i * from + c];
  return out;
}
