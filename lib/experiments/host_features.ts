/**
 * Frozen pre-logits features of a backbone as host items ([N, d] rows with labels and ids): from image files through
 * lib/peft's on-disk feature cache, or from images already decoded into host arrays.
 */
import type { TransformOptions } from "../data/pipeline";
import type { ImageDataset } from "../data/types";
import { type HostImages, mapHostImages, mapHostImagesAsync } from "../data/host_data";
import type { ImageClassifier } from "../models/types";
import { datasetFeatures } from "./run_probe";

/** Frozen features of a dataset through lib/peft's on-disk feature cache (via lib/train), as host items ([N, d]). */
export async function cachedHostFeatures(
  model: ImageClassifier,
  modelKey: string,
  ds: ImageDataset,
  transform: TransformOptions,
  o: { batchSize?: number; cacheDir?: string } = {},
): Promise<HostImages & { cached: boolean }> {
  // lib/peft's cache keys entries by the backbone's weights hash, so `modelKey` only names the model in logs.
  void modelKey;
  const f = await datasetFeatures(model, ds, { transform, batchSize: o.batchSize ?? 32, cacheDir: o.cacheDir });
  const labels = Float32Array.from(ds.items, (it) => it.label ?? 0);
  return { x: f.data, n: f.n, itemShape: [f.d], labels, ids: f.ids, cached: f.computed === 0 };
}

/** Runs `f` with `model` in eval mode; its training flag comes back when `f` returns or its promise settles. */
function inEvalMode<T>(model: ImageClassifier, f: () => T): T {
  const was = model.training;
  model.eval();
  let r: T;
  try {
    r = f();
  } catch (e) {
    model.train(was);
    throw e;
  }
  if (r instanceof Promise) return r.finally(() => model.train(was)) as T;
  model.train(was);
  return r;
}

/** hostFeatures with asynchronous reads (works on webgpu, where synchronous reads fail). */
export async function hostFeaturesAsync(model: ImageClassifier, h: HostImages, batchSize = 64): Promise<HostImages> {
  return inEvalMode(model, () => mapHostImagesAsync(h, (x) => model.forwardFeatures(x), batchSize)); // [N, d]
}

/** Pre-logits features of host images (model in eval mode, no augmentation). */
export function hostFeatures(model: ImageClassifier, h: HostImages, batchSize = 64): HostImages {
  return inEvalMode(model, () => mapHostImages(h, (x) => model.forwardFeatures(x), batchSize)); // [N, d]
}
