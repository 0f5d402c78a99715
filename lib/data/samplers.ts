/**
 * Samplers: per-epoch orders (seeded shuffles), balanced pseudo-epochs resampled every epoch, and class weights.
 * Each returns indices into `ds.items`; the loader takes them through its `order` option.
 */
import { ConfigError, DataError } from "../errors";
import { createRng, deriveSeed, permutation } from "./rng";
import { classCounts, type ImageDataset } from "./types";

/** The item order of one epoch: a permutation seeded by (seed, epoch), or 0..n−1 when not shuffling. */
export function epochOrder(n: number, seed: number, epoch: number, shuffle = true): number[] {
  return shuffle ? permutation(n, deriveSeed(seed, epoch)) : Array.from({ length: n }, (_, i) => i);
}

/**
 * A balanced pseudo-epoch (seed 001: 1,280 patches, 50 % mitotic / 50 % imposter, resampled each epoch): `size`
 * indices split over classes by `proportions` (default equal), without replacement while a class has enough items.
 */
export function balancedEpoch(
  ds: ImageDataset,
  o: { size: number; seed: number; epoch: number; proportions?: number[] },
): number[] {
  const K = ds.classes.length;
  const prop = o.proportions ?? new Array<number>(K).fill(1 / K);
  if (prop.length !== K || Math.abs(prop.reduce((a, b) => a + b, 0) - 1) > 1e-6) {
    throw new ConfigError("proportions must have one entry per class and sum to 1", {
      where: "balancedEpoch.proportions",
      got: JSON.stringify(prop),
    });
  }
  const byClass: number[][] = Array.from({ length: K }, () => []);
  ds.items.forEach((it, i) => {
    if (it.label === undefined)
      throw new ConfigError("balancedEpoch needs single-label items", { where: `item ${it.id}` });
    byClass[it.label].push(i);
  });
  const rng = createRng(deriveSeed(o.seed, o.epoch, 0xba1));
  const out: number[] = [];
  const counts = prop.map((p) => Math.round(p * o.size));
  counts[counts.length - 1] += o.size - counts.reduce((a, b) => a + b, 0);
  byClass.forEach((idx, c) => {
    if (counts[c] > 0 && idx.length === 0) {
      throw new DataError(`Class "${ds.classes[c]}" has no images to sample`, {
        where: ds.name,
        expected: "≥ 1 image",
        got: "0",
      });
    }
    const order = rng.shuffle([...idx]);
    for (let k = 0; k < counts[c]; k++) out.push(k < order.length ? order[k] : idx[rng.int(idx.length)]);
  });
  return rng.shuffle(out);
}

/** sklearn compute_class_weight("balanced"): n / (K · count_c); a class with no items is an error. */
export function classWeights(ds: ImageDataset): number[] {
  const counts = classCounts(ds);
  const n = ds.items.length;
  return counts.map((c, i) => {
    if (c === 0)
      throw new DataError(`Class "${ds.classes[i]}" is empty, so it has no balanced weight`, {
        where: ds.name,
        expected: "≥ 1 item per class",
        got: "0",
      });
    return ds.task === "multiclass" ? n / (ds.classes.length * c) : (n - c) / c;
  });
}
