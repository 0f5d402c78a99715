/**
 * Deterministic splits: stratified (fractions such as 70/10/20), group-aware (no patient or slide in two splits),
 * Monte-Carlo repetitions, k-shot per class and stratified fractions of a training set.
 * Per-class orders come from one seeded permutation per class, so a 2-shot set contains the 1-shot set and a 10 %
 * fraction contains the 1 % one for the same seed.
 */
import { ConfigError, DataError } from "../errors";
import { createRng, deriveSeed } from "./rng";
import { type ImageDataset, type ImageItem, strataKey, withItems } from "./types";

/** Split name → fraction; the fractions must sum to 1 (±1e-6). */
export type SplitFractions = Record<string, number>;

function checkFractions(f: SplitFractions): [string, number][] {
  const e = Object.entries(f);
  const sum = e.reduce((a, [, v]) => a + v, 0);
  if (e.length === 0 || e.some(([, v]) => !(v >= 0)) || Math.abs(sum - 1) > 1e-6) {
    throw new ConfigError("Split fractions must be non-negative and sum to 1", {
      where: "fractions",
      expected: "e.g. { train: 0.7, val: 0.1, test: 0.2 }",
      got: JSON.stringify(f),
      fix: "adjust the fractions",
    });
  }
  return e;
}

/** Largest-remainder allocation of n items over fractions (sums exactly to n). */
export function allocate(n: number, fr: number[]): number[] {
  const raw = fr.map((f) => f * n);
  const out = raw.map(Math.floor);
  let left = n - out.reduce((a, b) => a + b, 0);
  const order = raw.map((r, i) => [r - Math.floor(r), i]).sort((a, b) => b[0] - a[0] || a[1] - b[1]);
  for (let k = 0; left > 0; k = (k + 1) % order.length, left--) out[order[k][1]]++;
  return out;
}

/** Items grouped by stratum (class, or label vector for multi-label), each group in a seeded order. */
function strata(items: ImageItem[], seed: number): Map<string, ImageItem[]> {
  const m = new Map<string, ImageItem[]>();
  for (const it of items) {
    const k = strataKey(it);
    const a = m.get(k);
    if (a) a.push(it);
    else m.set(k, [it]);
  }
  const keys = [...m.keys()].sort();
  const out = new Map<string, ImageItem[]>();
  for (const k of keys) out.set(k, createRng(deriveSeed(seed, hashString(k))).shuffle([...m.get(k)!]));
  return out;
}

/** FNV-1a of a string, for deriving per-stratum seeds. */
export function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

/** Stratified split by fractions: each class is divided in the same proportions. Items keep dataset order. */
export function stratifiedSplit(
  ds: ImageDataset,
  fractions: SplitFractions,
  seed: number,
): Record<string, ImageDataset> {
  const e = checkFractions(fractions);
  const assign = new Map<ImageItem, string>();
  for (const group of strata(ds.items, seed).values()) {
    const counts = allocate(
      group.length,
      e.map(([, f]) => f),
    );
    let p = 0;
    e.forEach(([name], i) => {
      for (let k = 0; k < counts[i]; k++) assign.set(group[p++], name);
    });
  }
  return collect(
    ds,
    e.map(([n]) => n),
    (it) => assign.get(it)!,
  );
}

function collect(ds: ImageDataset, names: string[], which: (it: ImageItem) => string): Record<string, ImageDataset> {
  const buckets: Record<string, ImageItem[]> = {};
  for (const n of names) buckets[n] = [];
  for (const it of ds.items) {
    const s = which(it);
    buckets[s].push({ ...it, split: s });
  }
  const out: Record<string, ImageDataset> = {};
  for (const n of names) out[n] = withItems(ds, buckets[n], `${ds.name}/${n}`);
  return out;
}

/** The group of an item; items without one are their own group. */
export function groupOf(it: ImageItem): string {
  return it.group ?? `id:${it.id}`;
}

/**
 * Group-aware split: whole groups (patients, slides) go to one split, filled greedily towards the item-count targets
 * in a seeded group order. Verified leak-free before returning.
 */
export function groupSplit(ds: ImageDataset, fractions: SplitFractions, seed: number): Record<string, ImageDataset> {
  const e = checkFractions(fractions);
  const groups = new Map<string, number>();
  for (const it of ds.items) groups.set(groupOf(it), (groups.get(groupOf(it)) ?? 0) + 1);
  const names = [...groups.keys()].sort();
  createRng(seed).shuffle(names);
  const target = e.map(([, f]) => f * ds.items.length);
  const have = e.map(() => 0);
  const where = new Map<string, string>();
  for (const g of names) {
    // The split furthest below its target (relative) takes the next group.
    let best = 0;
    let bestGap = -Infinity;
    e.forEach(([, f], i) => {
      if (f === 0) return;
      const gap = (target[i] - have[i]) / target[i];
      if (gap > bestGap) {
        bestGap = gap;
        best = i;
      }
    });
    where.set(g, e[best][0]);
    have[best] += groups.get(g)!;
  }
  const out = collect(
    ds,
    e.map(([n]) => n),
    (it) => where.get(groupOf(it))!,
  );
  assertNoGroupLeak(out);
  return out;
}

/** Throws a DataError naming the first group found in two splits (splits given as a record or by items' `split`). */
export function assertNoGroupLeak(splits: Record<string, ImageDataset> | ImageDataset): void {
  const seen = new Map<string, string>();
  const entries: [string, ImageItem][] =
    "items" in splits && Array.isArray((splits as ImageDataset).items)
      ? (splits as ImageDataset).items.map((it) => [it.split ?? "(none)", it])
      : Object.entries(splits as Record<string, ImageDataset>).flatMap(([s, d]) =>
          d.items.map((it): [string, ImageItem] => [s, it]),
        );
  for (const [s, it] of entries) {
    if (it.group === undefined) continue;
    const prev = seen.get(it.group);
    if (prev !== undefined && prev !== s) {
      throw new DataError(`Group "${it.group}" leaks across splits`, {
        where: `item ${it.id}`,
        expected: `group "${it.group}" only in split "${prev}"`,
        got: `also in split "${s}"`,
        fix: "split with groupSplit (patient/slide level) instead of an item-level split",
      });
    }
    seen.set(it.group, s);
  }
}

/** k images per class (multiclass), the same per-class order for every k; a class with fewer than k is an error. */
export function kShot(ds: ImageDataset, shots: number, seed: number): ImageDataset {
  if (!(Number.isInteger(shots) && shots >= 1)) {
    throw new ConfigError("shots must be a positive integer", {
      where: "shots",
      expected: "1..50 (the papers use 1-50)",
      got: String(shots),
    });
  }
  requireMulticlass(ds, "kShot");
  const picked = new Set<ImageItem>();
  const by = strata(ds.items, seed);
  ds.classes.forEach((c, i) => {
    const g = by.get(String(i)) ?? [];
    if (g.length < shots) {
      throw new DataError(`Class "${c}" has fewer images than shots`, {
        where: `${ds.name} class ${i} (${c})`,
        expected: `≥ ${shots} images`,
        got: String(g.length),
        fix: "use fewer shots or a larger training pool",
      });
    }
    g.slice(0, shots).forEach((it) => picked.add(it));
  });
  return withItems(
    ds,
    ds.items.filter((it) => picked.has(it)),
    `${ds.name}/${shots}-shot`,
  );
}

/** A stratified fraction (0 < f ≤ 1) of a dataset: round(f·n_c) per class, at least 1 where the class has any. */
export function stratifiedFraction(ds: ImageDataset, fraction: number, seed: number): ImageDataset {
  if (!(fraction > 0 && fraction <= 1)) {
    throw new ConfigError("fraction must be in (0, 1]", {
      where: "fraction",
      expected: "0.001 … 1.0",
      got: String(fraction),
    });
  }
  const picked = new Set<ImageItem>();
  for (const g of strata(ds.items, seed).values()) {
    const n = Math.max(1, Math.round(fraction * g.length));
    g.slice(0, n).forEach((it) => picked.add(it));
  }
  return withItems(
    ds,
    ds.items.filter((it) => picked.has(it)),
    `${ds.name}/${fraction}`,
  );
}

/** One Monte-Carlo repetition: a held-out test set, then a training sample with an optional validation part. */
export interface MonteCarloSplit {
  seed: number;
  train: ImageDataset;
  val?: ImageDataset;
  test: ImageDataset;
}

/**
 * Monte-Carlo cross-validation (seed 001): per seed, `testFraction` of all items is test; `trainSize` of the rest is
 * sampled (stratified), and `valFraction` of that sample becomes validation. Group-aware when `byGroup`.
 */
export function monteCarloSplits(
  ds: ImageDataset,
  o: { seeds: number[]; testFraction?: number; trainSize?: number; valFraction?: number; byGroup?: boolean },
): MonteCarloSplit[] {
  const tf = o.testFraction ?? 0.2;
  return o.seeds.map((seed) => {
    const split = o.byGroup ? groupSplit : stratifiedSplit;
    const a = split(ds, { pool: 1 - tf, test: tf }, seed);
    const pool =
      o.trainSize !== undefined && o.trainSize < 1
        ? stratifiedFraction(a.pool, o.trainSize, deriveSeed(seed, 1))
        : a.pool;
    if (!o.valFraction) return { seed, train: rename(pool, "train"), test: a.test };
    const b = split(pool, { train: 1 - o.valFraction, val: o.valFraction }, deriveSeed(seed, 2));
    return { seed, train: b.train, val: b.val, test: a.test };
  });
}

function rename(ds: ImageDataset, split: string): ImageDataset {
  return withItems(
    ds,
    ds.items.map((it) => ({ ...it, split })),
    ds.name.replace(/\/[^/]*$/, `/${split}`),
  );
}

function requireMulticlass(ds: ImageDataset, fn: string): void {
  if (ds.task !== "multiclass") {
    throw new ConfigError(`${fn} needs a multiclass dataset`, {
      where: ds.name,
      expected: "multiclass",
      got: ds.task,
      fix: "use stratifiedFraction for multi-label data",
    });
  }
}

/** `perClass` items of each class (kShot, seeded), or the whole split when `perClass` is null or 0. */
export function perClassSubset(ds: ImageDataset, perClass: number | null, seed: number): ImageDataset {
  return perClass === null || perClass === 0 ? ds : kShot(ds, perClass, seed);
}
