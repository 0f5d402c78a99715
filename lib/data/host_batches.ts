/**
 * HostBatches: the one batch source over host arrays (images, cached features or feature maps) with an exact,
 * seekable position. It satisfies lib/train's TrainSource and EvalSource structurally (lib/data is a leaf). Three
 * orders: item order (eval), a fresh permutation every epoch (train; `itemsPerEpoch` keeps a prefix of it), or
 * balanced pseudo-epochs with equal class shares, resampled every epoch (`balanced`, seed 001's sampler).
 */
import * as tf from "@tensorflow/tfjs";
import { ConfigError } from "../errors";
import type { HostImages } from "./host_data";
import { balancedEpoch, epochOrder } from "./samplers";
import type { ImageDataset } from "./types";

/** Options of HostBatches. */
export interface HostBatchesOptions {
  batchSize: number;
  /** Shuffle every epoch (train); false keeps item order (eval). Ignored when `balanced` is set. */
  shuffle: boolean;
  seed: number;
  /** Labels as int32 class indices (cross-entropy) or float32 0/1 (BCE on one logit). */
  labelDtype: "int32" | "float32";
  /** Items per (pseudo-)epoch, drawn from the epoch's permutation; default all. Required with `balanced`. */
  itemsPerEpoch?: number;
  /**
   * Balanced pseudo-epochs of `itemsPerEpoch` items with equal class shares, resampled every epoch (lib/data's
   * balancedEpoch; may repeat items of small classes). Labels are class indices 0 … numClasses − 1.
   */
  balanced?: { numClasses: number };
}

/** Batches over host arrays with an exact, seekable position: a TrainSource and an EvalSource. */
export class HostBatches {
  private pos = { epoch: 0, batch: 0 };
  private readonly per: number;
  /** The items as a dataset for balancedEpoch (ids are row indices). */
  private readonly balancedDs?: ImageDataset;
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
    if (o.balanced) {
      if (!(Number.isInteger(o.itemsPerEpoch) && (o.itemsPerEpoch ?? 0) >= 1)) {
        throw new ConfigError("Balanced HostBatches need the pseudo-epoch size", {
          where: "HostBatches.itemsPerEpoch",
          expected: "an integer ≥ 1 with balanced",
          got: String(o.itemsPerEpoch),
        });
      }
      this.balancedDs = {
        name: "host",
        classes: Array.from({ length: o.balanced.numClasses }, (_, i) => String(i)),
        task: "multiclass",
        items: Array.from(data.labels, (l, i) => ({ id: String(i), label: l })),
      };
    }
  }

  private get epochItems(): number {
    if (this.balancedDs) return this.o.itemsPerEpoch ?? 0;
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
    const order = this.balancedDs
      ? balancedEpoch(this.balancedDs, { size: this.epochItems, seed: this.o.seed, epoch: this.pos.epoch })
      : epochOrder(this.data.n, this.o.seed, this.pos.epoch, this.o.shuffle).slice(0, this.epochItems);
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
