/**
 * Small in-memory datasets for the paper notebooks: a MedMNIST-style .npz is decoded once into host float arrays at
 * the model's input size and normalisation, split by its own keys, and subsampled with lib/data's stratified
 * fraction sampler. `HostBatches` (./host_batches) then serves them (or any cached feature maps) as fit()'s TrainSource and
 * evaluate()'s EvalSource, without re-decoding images every epoch. Meant for datasets that fit in memory (CI scale,
 * MedMNIST); the full-scale datasets go through lib/data's DataLoader instead.
 */
import * as tf from "@tensorflow/tfjs";
import { ConfigError, DataError } from "../errors";
import { DataLoader } from "./loader";
import type { TransformOptions } from "./pipeline";
import { npzDataset } from "./sources_npz";
import { kShot, stratifiedFraction } from "./splits";
import { hedShift, type HedShift } from "./stain_shift";
import { resolveNorm } from "./transforms";
import { splitOf, type ImageDataset } from "./types";

/** N items of one shape, row-major, with one label each (a class index, or 0/1 for a one-logit binary head). */
export interface HostImages {
  x: Float32Array;
  n: number;
  /** Shape of one item, e.g. [H, W, C] for images or feature maps. */
  itemShape: number[];
  labels: Float32Array;
  ids: string[];
}

/** Options of loadNpzSplits. */
export interface NpzSplitOptions {
  /** Square input side; images are resized bilinearly when it differs from the file's. */
  size: number;
  /** Per-channel mean and std applied to x/255 (grayscale is replicated to 3 channels first). */
  mean: [number, number, number];
  std: [number, number, number];
  /** Fraction of the training split kept (stratified, seeded; lib/data's stratifiedFraction). Default 1. */
  trainFraction?: number;
  /** Caps per split (stratified subsample), e.g. { train: 400, test: 800 } for CI runs. */
  maxItems?: Partial<Record<"train" | "val" | "test", number>>;
  /** Seed of the subsampling. */
  seed: number;
  /** Re-labels: new label = labelMap[old] (e.g. [1, 0] makes BreastMNIST's malignant, label 0, the positive class). */
  labelMap?: number[];
}

/** A dataset decoded into host arrays, by split. */
export interface HostSplits {
  name: string;
  classes: string[];
  train: HostImages;
  val: HostImages;
  test: HostImages;
}

/** Reads a MedMNIST-style .npz (train/val/test keys), subsamples, resizes and normalises every split into memory. */
export function loadNpzSplits(file: string, o: NpzSplitOptions): HostSplits {
  const ds = npzDataset(file);
  const lm = o.labelMap;
  if (lm && (lm.length !== ds.classes.length || [...lm].sort((a, b) => a - b).some((v, i) => v !== i))) {
    throw new ConfigError("labelMap must be a permutation of the class indices", {
      where: "loadNpzSplits(labelMap)",
      expected: `a permutation of 0..${ds.classes.length - 1} (${ds.classes.length} classes: ${ds.classes.join(" | ")})`,
      got: JSON.stringify(lm),
    });
  }
  if (ds.task !== "multiclass") {
    throw new DataError("loadNpzSplits reads single-label files only", {
      where: file,
      expected: "one label per image ((N,) or (N,1) labels)",
      got: ds.task,
      fix: "use lib/data's DataLoader for multi-label data (e.g. ChestMNIST, NIH ChestX-ray14)",
    });
  }
  const pick = (split: "train" | "val" | "test"): ImageDataset => {
    let part = splitOf(ds, split);
    if (split === "train" && (o.trainFraction ?? 1) < 1) part = stratifiedFraction(part, o.trainFraction!, o.seed);
    const cap = o.maxItems?.[split];
    if (cap !== undefined && part.items.length > cap) part = stratifiedFraction(part, cap / part.items.length, o.seed);
    return part;
  };
  const relabel = (h: HostImages): HostImages =>
    o.labelMap ? { ...h, labels: Float32Array.from(h.labels, (l) => o.labelMap![l]) } : h;
  const classes = o.labelMap ? ds.classes.map((_, j) => ds.classes[o.labelMap!.indexOf(j)]) : ds.classes;
  return {
    name: ds.name,
    classes,
    train: relabel(toHostImages(pick("train"), o)),
    val: relabel(toHostImages(pick("val"), o)),
    test: relabel(toHostImages(pick("test"), o)),
  };
}

/** Decodes in-memory items (pixels) to [N, size, size, 3] normalised floats. */
export function toHostImages(ds: ImageDataset, o: Pick<NpzSplitOptions, "size" | "mean" | "std">): HostImages {
  const n = ds.items.length;
  const per = o.size * o.size * 3;
  const x = new Float32Array(n * per);
  const chunk = 256;
  for (let s = 0; s < n; s += chunk) {
    const items = ds.items.slice(s, s + chunk);
    const out = tf.tidy(() => {
      const imgs = items.map((it) => {
        const p = it.pixels;
        if (!p) {
          throw new DataError("Item has no in-memory pixels", {
            where: `${ds.name}: ${it.id}`,
            expected: "pixels (an .npz source)",
            got: it.path ?? "nothing",
            fix: "load image files through lib/data's DataLoader instead",
          });
        }
        const t = tf.tensor3d(p.data, [p.height, p.width, p.channels], "int32"); // [H, W, C]
        const rgb =
          p.channels === 1 ? tf.tile(t, [1, 1, 3]) : p.channels === 4 ? tf.slice(t, [0, 0, 0], [-1, -1, 3]) : t;
        return rgb.toFloat();
      });
      let b = tf.stack(imgs) as tf.Tensor4D; // [B, H, W, 3]
      if (b.shape[1] !== o.size || b.shape[2] !== o.size) b = tf.image.resizeBilinear(b, [o.size, o.size], true);
      return b.div(255).sub(tf.tensor1d(o.mean)).div(tf.tensor1d(o.std)); // [B, S, S, 3]
    });
    x.set(out.dataSync() as Float32Array, s * per);
    out.dispose();
  }
  return {
    x,
    n,
    itemShape: [o.size, o.size, 3],
    labels: Float32Array.from(ds.items, (it) => it.label ?? 0),
    ids: ds.items.map((it) => it.id),
  };
}

/** `data` through `fn` in batches (eval, no gradient): each output [m, ...] with the index of its first item. */
function* mappedBatches(
  data: HostImages,
  fn: (x: tf.Tensor) => tf.Tensor,
  batchSize: number,
): Generator<{ s: number; y: tf.Tensor }> {
  const per = data.itemShape.reduce((a, b) => a * b, 1);
  for (let s = 0; s < data.n; s += batchSize) {
    const m = Math.min(batchSize, data.n - s);
    yield { s, y: tf.tidy(() => fn(tf.tensor(data.x.subarray(s * per, (s + m) * per), [m, ...data.itemShape]))) };
  }
}

/** Gathers the outputs' values into new host items with `data`'s labels and ids. */
function hostGatherer(data: HostImages) {
  let out: Float32Array | undefined;
  let itemShape: number[] = [];
  return {
    put(s: number, shape: number[], values: Float32Array): void {
      if (!out) {
        itemShape = shape.slice(1);
        out = new Float32Array(data.n * itemShape.reduce((a, b) => a * b, 1));
      }
      out.set(values, (s * out.length) / data.n);
    },
    done: (): HostImages => ({
      x: out ?? new Float32Array(0),
      n: data.n,
      itemShape,
      labels: data.labels,
      ids: data.ids,
    }),
  };
}

/** Runs `fn` over `data` in batches (eval, no gradient) and returns its outputs as new host items (same labels, ids). */
export function mapHostImages(data: HostImages, fn: (x: tf.Tensor) => tf.Tensor, batchSize = 64): HostImages {
  const g = hostGatherer(data);
  for (const { s, y } of mappedBatches(data, fn, batchSize)) {
    g.put(s, y.shape, y.dataSync() as Float32Array);
    y.dispose();
  }
  return g.done();
}

/** mapHostImages with asynchronous reads: the one to use on webgpu (no synchronous reads there). */
export async function mapHostImagesAsync(
  data: HostImages,
  fn: (x: tf.Tensor) => tf.Tensor,
  batchSize = 64,
): Promise<HostImages> {
  const g = hostGatherer(data);
  for (const { s, y } of mappedBatches(data, fn, batchSize)) {
    g.put(s, y.shape, (await y.data()) as Float32Array);
    y.dispose();
  }
  return g.done();
}

/** Decodes a dataset once (eval transform: resize, centre crop, normalise) into host arrays. */
export async function decodeToHost(ds: ImageDataset, transform: TransformOptions, batchSize = 64): Promise<HostImages> {
  const dl = new DataLoader(ds, {
    batchSize,
    transform: { ...transform, augment: undefined },
    augment: false,
    shuffle: false,
  });
  const per = transform.size * transform.size * 3;
  const x = new Float32Array(ds.items.length * per);
  const labels: number[] = [];
  const ids: string[] = [];
  try {
    for await (const b of dl.epoch()) {
      x.set(await b.x.data(), ids.length * per);
      labels.push(...(await b.y.data()));
      ids.push(...b.ids);
    }
  } finally {
    await dl.close();
  }
  return { x, n: ids.length, itemShape: [transform.size, transform.size, 3], labels: Float32Array.from(labels), ids };
}

/** The rows `idx` of host items. */
export function subsetHost(h: HostImages, idx: readonly number[]): HostImages {
  const per = h.itemShape.reduce((a, b) => a * b, 1);
  const x = new Float32Array(idx.length * per);
  idx.forEach((r, i) => x.set(h.x.subarray(r * per, (r + 1) * per), i * per));
  return {
    x,
    n: idx.length,
    itemShape: [...h.itemShape],
    labels: Float32Array.from(idx, (r) => h.labels[r]),
    ids: idx.map((r) => h.ids[r]),
  };
}

/** The same items with the stain shift applied in pixel space (un-normalise → HED shift → normalise again). */
export function stainShiftHost(
  h: HostImages,
  normalize: TransformOptions["normalize"],
  shift: string | HedShift,
): HostImages {
  const { mean, std } = resolveNorm(normalize ?? "imagenet");
  const rgb = new Float32Array(h.x.length);
  for (let i = 0; i < h.x.length; i++) rgb[i] = h.x[i] * std[i % 3] + mean[i % 3];
  const shifted = hedShift(rgb, shift);
  for (let i = 0; i < shifted.length; i++) shifted[i] = (shifted[i] - mean[i % 3]) / std[i % 3];
  return { ...h, x: shifted, ids: h.ids.map((id) => `${id}#shifted`) };
}

/** k items per class (lib/data's kShot, the same per-class order for every k), as row indices. */
export function kShotIndices(h: HostImages, classes: string[], shots: number, seed: number): number[] {
  const ds: ImageDataset = {
    name: "host",
    classes,
    task: "multiclass",
    items: Array.from(h.labels, (l, i) => ({ id: String(i), label: l })),
  };
  return kShot(ds, shots, seed).items.map((it) => Number(it.id));
}
