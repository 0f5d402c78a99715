/**
 * Small in-memory datasets for the paper notebooks: a MedMNIST-style .npz is decoded once into host float arrays at
 * the model's input size and normalisation, split by its own keys, and subsampled with lib/data's stratified
 * fraction sampler. `HostBatches` then serves them (or any cached feature maps) as fit()'s TrainSource and
 * evaluate()'s EvalSource, without re-decoding images every epoch. Meant for datasets that fit in memory (CI scale,
 * MedMNIST); the full-scale datasets go through lib/data's DataLoader instead.
 */
import * as tf from "@tensorflow/tfjs";
import { ConfigError, DataError } from "../errors";
import { npzDataset } from "../data/sources_npz";
import { epochOrder } from "../data/samplers";
import { stratifiedFraction } from "../data/splits";
import { splitOf, type ImageDataset } from "../data/types";
import type { TrainSource } from "../train/fit";
import type { EvalSource } from "../train/evaluate";

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

/** Options of HostBatches. */
export interface HostBatchesOptions {
  batchSize: number;
  /** Shuffle every epoch (train); false keeps item order (eval). */
  shuffle: boolean;
  seed: number;
  /** Labels as int32 class indices (cross-entropy) or float32 0/1 (BCE on one logit). */
  labelDtype: "int32" | "float32";
  /** Items per (pseudo-)epoch, drawn from the epoch's permutation; default all. */
  itemsPerEpoch?: number;
}

/** Batches over host arrays with an exact, seekable position: a TrainSource and an EvalSource. */
export class HostBatches implements TrainSource, EvalSource {
  private pos = { epoch: 0, batch: 0 };
  private readonly per: number;
  constructor(
    readonly data: HostImages,
    private readonly o: HostBatchesOptions,
  ) {
    this.per = data.itemShape.reduce((a, b) => a * b, 1);
    if (!(o.batchSize >= 1) || data.n === 0) {
      throw new ConfigError("HostBatches needs items and a positive batch size", {
        where: "HostBatches",
        expected: "n ≥ 1, batchSize ≥ 1",
        got: `n ${data.n}, batchSize ${o.batchSize}`,
      });
    }
  }

  private get epochItems(): number {
    return Math.min(this.data.n, this.o.itemsPerEpoch ?? this.data.n);
  }
  batchesPerEpoch(): number {
    return Math.ceil(this.epochItems / this.o.batchSize);
  }
  state() {
    return { epoch: this.pos.epoch, batch: this.pos.batch, seed: this.o.seed };
  }
  seek(s: { epoch: number; batch: number; seed: number }): void {
    this.pos = { epoch: s.epoch, batch: s.batch };
  }
  async next() {
    if (this.pos.batch >= this.batchesPerEpoch()) {
      this.pos = { epoch: this.pos.epoch + 1, batch: 0 };
      return null;
    }
    const order = epochOrder(this.data.n, this.o.seed, this.pos.epoch, this.o.shuffle).slice(0, this.epochItems);
    const idx = order.slice(this.pos.batch * this.o.batchSize, (this.pos.batch + 1) * this.o.batchSize);
    this.pos = { ...this.pos, batch: this.pos.batch + 1 };
    return this.batchOf(idx);
  }
  async *epoch() {
    for (;;) {
      const b = await this.next();
      if (b === null) return;
      yield b;
    }
  }

  private batchOf(idx: number[]) {
    const xs = new Float32Array(idx.length * this.per);
    idx.forEach((r, i) => xs.set(this.data.x.subarray(r * this.per, (r + 1) * this.per), i * this.per));
    const x = tf.tensor(xs, [idx.length, ...this.data.itemShape]); // [B, ...item]
    const lab = idx.map((r) => this.data.labels[r]);
    const y =
      this.o.labelDtype === "int32" ? tf.tensor1d(Int32Array.from(lab), "int32") : tf.tensor1d(Float32Array.from(lab)); // [B]
    return { x, y, ids: idx.map((r) => this.data.ids[r]), dispose: () => tf.dispose([x, y]) };
  }
}

/** Runs `fn` over `data` in batches (eval, no gradient) and returns its outputs as new host items (same labels, ids). */
export function mapHostImages(data: HostImages, fn: (x: tf.Tensor) => tf.Tensor, batchSize = 64): HostImages {
  let out: Float32Array | undefined;
  let itemShape: number[] = [];
  const per = data.itemShape.reduce((a, b) => a * b, 1);
  for (let s = 0; s < data.n; s += batchSize) {
    const m = Math.min(batchSize, data.n - s);
    const y = tf.tidy(() => fn(tf.tensor(data.x.subarray(s * per, (s + m) * per), [m, ...data.itemShape]))); // [m, ...]
    if (!out) {
      itemShape = y.shape.slice(1);
      out = new Float32Array(data.n * itemShape.reduce((a, b) => a * b, 1));
    }
    out.set(y.dataSync() as Float32Array, (s * out.length) / data.n);
    y.dispose();
  }
  return { x: out ?? new Float32Array(0), n: data.n, itemShape, labels: data.labels, ids: data.ids };
}
