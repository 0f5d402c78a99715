/**
 * Frozen-backbone features (pre-logits, eval mode, no augmentation) and an on-disk feature cache keyed by the model,
 * its weights, the transform and the exact item list, so probes, kNN and `peftlab extract` share one extraction.
 */
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { writeSafetensors, readSafetensors } from "../io/safetensors";
import { DataLoader } from "../data/loader";
import type { TransformOptions } from "../data/pipeline";
import type { ImageDataset } from "../data/types";
import type { ImageClassifier } from "../models/types";
import type { FeatureMatrix } from "./probe";

/** Features of a dataset, row i for item i. */
export interface DatasetFeatures extends FeatureMatrix {
  ids: string[];
}

/** The feature cache folder: `PEFTLAB_CACHE`/features, default ~/.cache/peftlab/features. */
export function featureCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const root =
    env.PEFTLAB_CACHE && env.PEFTLAB_CACHE !== "" ? env.PEFTLAB_CACHE : path.join(os.homedir(), ".cache", "peftlab");
  return path.join(root, "features");
}

/** Runs the backbone over `ds` (in dataset order) and returns [N, numFeatures] features. */
export async function extractFeatures(
  model: ImageClassifier,
  ds: ImageDataset,
  o: {
    transform: TransformOptions;
    batchSize: number;
    workers?: number;
    onBatch?: (done: number, total: number) => void;
  },
): Promise<DatasetFeatures> {
  const dl = new DataLoader(ds, {
    batchSize: o.batchSize,
    transform: { ...o.transform, augment: undefined },
    augment: false,
    shuffle: false,
    workers: o.workers,
  });
  const wasTraining = model.training;
  model.eval();
  const d = model.numFeatures;
  const out = new Float32Array(ds.items.length * d);
  const ids: string[] = [];
  try {
    for await (const b of dl.epoch()) {
      const f = tf.tidy(() => model.forwardFeatures(b.x)); // [B, d]
      out.set(await f.data(), ids.length * d);
      f.dispose();
      ids.push(...b.ids);
      o.onBatch?.(ids.length, ds.items.length);
    }
  } finally {
    model.train(wasTraining);
    await dl.close();
  }
  return { data: out, n: ids.length, d, ids };
}

/** Cache key of an extraction: model identity, transform and the ordered item ids and paths. */
export function featureCacheKey(modelKey: string, transform: TransformOptions, ds: ImageDataset): string {
  const h = createHash("sha256");
  h.update(
    JSON.stringify({ modelKey, size: transform.size, resize: transform.resize, normalize: transform.normalize }),
  );
  for (const it of ds.items) h.update(`${it.id}\0${it.path ?? ""}\n`);
  return h.digest("hex").slice(0, 24);
}

/** Features from the cache when present, else extracted and written to it (atomically). */
export async function cachedFeatures(
  model: ImageClassifier,
  modelKey: string,
  ds: ImageDataset,
  o: { transform: TransformOptions; batchSize: number; workers?: number; cacheDir?: string; log?: (s: string) => void },
): Promise<DatasetFeatures & { cacheFile: string; cached: boolean }> {
  const dir = o.cacheDir ?? featureCacheDir();
  const file = path.join(dir, `${featureCacheKey(modelKey, o.transform, ds)}.safetensors`);
  if (fs.existsSync(file)) {
    const { tensors } = readSafetensors(file);
    const f = tensors.get("features")!;
    return {
      data: f.data as Float32Array,
      n: f.shape[0],
      d: f.shape[1],
      ids: ds.items.map((it) => it.id),
      cacheFile: file,
      cached: true,
    };
  }
  const t0 = Date.now();
  const feats = await extractFeatures(model, ds, o);
  o.log?.(`extracted ${feats.n} × ${feats.d} features in ${((Date.now() - t0) / 1000).toFixed(1)} s → ${file}`);
  writeSafetensors(file, new Map([["features", { dtype: "float32", shape: [feats.n, feats.d], data: feats.data }]]), {
    metadata: { model: modelKey, items: String(feats.n) },
  });
  return { ...feats, cacheFile: file, cached: false };
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
