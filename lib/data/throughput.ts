/** Measures decode + augment throughput (images/s) of a dataset through the loader, as `npm run bench` reports it. */
import { DataLoader, type DataLoaderOptions } from "./loader";
import type { TransformOptions } from "./pipeline";
import type { ImageDataset } from "./types";

/** Result of a throughput run. */
export interface ThroughputResult {
  images: number;
  seconds: number;
  imagesPerSecond: number;
  workers: number;
  concurrency: number;
}

/** The augmentation used by default: seed 000's training transform at 224 (RandomResizedCrop(0.7, 1) + hflip). */
export const DEFAULT_BENCH_TRANSFORM: TransformOptions = {
  size: 224,
  augment: { randomResizedCrop: { scale: [0.7, 1] }, hflip: 0.5 },
  normalize: "imagenet",
};

/**
 * Decodes and augments `images` items (first epoch, seeded order) with caching off, so every image is decoded from
 * its file; tensors are created and disposed as in training.
 */
export async function throughput(
  ds: ImageDataset,
  o: { images?: number; batchSize?: number; transform?: TransformOptions } & Pick<
    DataLoaderOptions,
    "workers" | "concurrency" | "prefetch" | "seed"
  > = {},
): Promise<ThroughputResult> {
  const n = Math.min(o.images ?? 256, ds.items.length);
  const sub = { ...ds, items: ds.items.slice(0, n) };
  const loader = new DataLoader(sub, {
    batchSize: o.batchSize ?? 32,
    transform: o.transform ?? DEFAULT_BENCH_TRANSFORM,
    cacheBytes: 0,
    workers: o.workers,
    concurrency: o.concurrency,
    prefetch: o.prefetch,
    seed: o.seed ?? 0,
  });
  const { concurrency, workers } = loader.decoding;
  const t0 = performance.now();
  let count = 0;
  try {
    for (;;) {
      const b = await loader.next();
      if (!b) break;
      count += b.ids.length;
    }
  } finally {
    await loader.close();
  }
  const seconds = (performance.now() - t0) / 1000;
  return {
    images: count,
    seconds,
    imagesPerSecond: count / seconds,
    workers,
    concurrency,
  };
}
