/**
 * DataLoader: seeded per-epoch order, decode + augment ahead of the compute (bounded prefetch of whole batches,
 * bounded images in flight), an LRU cache of base images, batches as NHWC float32 tensors, and an exact data-order
 * position (epoch, batch) to resume from. Augmentation randomness is derived from (seed, epoch, position in epoch),
 * so a resumed loader produces the same batches as an uninterrupted one, whatever the prefetch timing.
 */
import * as os from "node:os";
import * as tf from "@tensorflow/tfjs";
import { ConfigError, DataError } from "../errors";
import type { TransformOptions } from "./pipeline";
import { InlineProcessor, type ItemProcessor, WorkerProcessor } from "./processor";
import { deriveSeed } from "./rng";
import { epochOrder } from "./samplers";
import type { ImageDataset, ImageItem } from "./types";

export interface DataLoaderOptions {
  batchSize: number;
  transform: TransformOptions;
  /** Apply `transform.augment` (default true when it is set; false gives the deterministic eval path). */
  augment?: boolean;
  /** Shuffle each epoch with the seed (default: same as augment). */
  shuffle?: boolean;
  seed?: number;
  dropLast?: boolean;
  /** Custom per-epoch order (indices into items), e.g. balancedEpoch; overrides shuffle. */
  order?: (epoch: number) => number[];
  /** Batches decoded ahead (default 2): host memory is about prefetch × batch bytes. */
  prefetch?: number;
  /**
   * Images decoded at once (default 4 per core, at most 16: sharp decodes on libuv's threadpool while this thread
   * normalises; on 2 cores 8 beat 2 by 7–25 % in `scratch` runs of the bench's data_loader, 2026-11-22).
   */
  concurrency?: number;
  /** LRU budget for decoded base images (default 256 MiB; 0 disables). */
  cacheBytes?: number;
  /** Skip unreadable images (reported in `skipped`) instead of throwing. */
  skipBad?: boolean;
  /** worker_threads to decode in (default 0: this thread + sharp's threadpool). */
  workers?: number;
  /** Dispose the previous batch's tensors when the next is taken (default true). */
  autoDispose?: boolean;
}

/** One batch: x [B,H,W,3] float32; y int32 [B] (multiclass) or float32 [B,L] (multilabel). */
export interface Batch {
  x: tf.Tensor4D;
  y: tf.Tensor;
  ids: string[];
  epoch: number;
  /** Batch index within the epoch. */
  index: number;
  dispose(): void;
}

/** A loader position: the next batch to produce. */
export interface LoaderState {
  epoch: number;
  batch: number;
  seed: number;
}

/** An image that could not be read and was skipped. */
export interface SkippedItem {
  id: string;
  path?: string;
  reason: string;
}

interface HostBatch {
  x: Float32Array;
  items: ImageItem[];
  epoch: number;
  index: number;
}

/** Batches over a dataset, decoded ahead of use. Call `close()` when done. */
export class DataLoader {
  readonly ds: ImageDataset;
  readonly skipped: SkippedItem[] = [];
  private readonly o: Required<Omit<DataLoaderOptions, "order" | "shuffle" | "augment">> & {
    shuffle: boolean;
    augment: boolean;
    order?: (e: number) => number[];
  };
  private readonly proc: ItemProcessor;

  /** Images decoded at once and worker threads, as resolved from the options and their defaults. */
  get decoding(): { concurrency: number; workers: number } {
    return { concurrency: this.o.concurrency, workers: this.o.workers };
  }
  private readonly orders = new Map<number, number[]>();
  private queue: { epoch: number; index: number; p: Promise<HostBatch> }[] = [];
  private pos = { epoch: 0, batch: 0 };
  private ahead = { epoch: 0, batch: 0 };
  private inFlight = 0;
  private waiters: (() => void)[] = [];
  private last?: Batch;
  private readonly bad = new Set<number>();

  constructor(ds: ImageDataset, opts: DataLoaderOptions) {
    if (!(Number.isInteger(opts.batchSize) && opts.batchSize > 0)) {
      throw new ConfigError("batchSize must be a positive integer", {
        where: "DataLoader.batchSize",
        got: String(opts.batchSize),
      });
    }
    if (ds.items.length === 0)
      throw new DataError("Dataset is empty", { where: ds.name, expected: "≥ 1 item", got: "0" });
    const augment = opts.augment ?? opts.transform.augment !== undefined;
    this.ds = ds;
    this.o = {
      batchSize: opts.batchSize,
      transform: opts.transform,
      augment,
      shuffle: opts.shuffle ?? augment,
      seed: opts.seed ?? 0,
      dropLast: opts.dropLast ?? false,
      order: opts.order,
      prefetch: Math.max(1, opts.prefetch ?? 2),
      concurrency: Math.max(1, opts.concurrency ?? Math.min(16, 4 * os.availableParallelism())),
      cacheBytes: opts.cacheBytes ?? 256 * 2 ** 20,
      skipBad: opts.skipBad ?? false,
      workers: opts.workers ?? 0,
      autoDispose: opts.autoDispose ?? true,
    };
    const t = augment ? opts.transform : { ...opts.transform, augment: undefined };
    this.proc =
      this.o.workers > 0
        ? new WorkerProcessor(t, this.o.cacheBytes, this.o.workers)
        : new InlineProcessor(t, this.o.cacheBytes);
  }

  /** Batches per epoch (for the default order; a custom order may differ). */
  batchesPerEpoch(epoch = this.pos.epoch): number {
    const n = this.orderOf(epoch).length;
    return this.o.dropLast ? Math.floor(n / this.o.batchSize) : Math.ceil(n / this.o.batchSize);
  }

  /** Where the loader is: the next batch `next()` returns. Save it with a checkpoint to resume exactly. */
  state(): LoaderState {
    return { epoch: this.pos.epoch, batch: this.pos.batch, seed: this.o.seed };
  }

  /** Moves to a saved position (drops anything prefetched). The seed must match the one the state was saved with. */
  seek(s: LoaderState): void {
    if (s.seed !== this.o.seed) {
      throw new ConfigError("Loader state was saved with another seed", {
        where: "DataLoader.seek",
        expected: String(this.o.seed),
        got: String(s.seed),
        fix: "construct the loader with the saved seed",
      });
    }
    this.drain();
    this.pos = { epoch: s.epoch, batch: s.batch };
    this.ahead = { ...this.pos };
  }

  /** The next batch of the current epoch, or null at the epoch's end (the position then moves to the next epoch). */
  async next(): Promise<Batch | null> {
    if (this.o.autoDispose) this.last?.dispose();
    this.last = undefined;
    if (this.pos.batch >= this.batchesPerEpoch(this.pos.epoch)) {
      this.pos = { epoch: this.pos.epoch + 1, batch: 0 };
      this.orders.delete(this.pos.epoch - 1);
      return null;
    }
    this.fill();
    const head = this.queue.shift()!;
    this.fill();
    const hb = await head.p;
    this.pos = { epoch: this.pos.epoch, batch: this.pos.batch + 1 };
    if (hb.items.length === 0) return this.next();
    this.last = this.toBatch(hb);
    return this.last;
  }

  /** Iterates the rest of the current epoch (`for await (const b of loader.epoch())`). */
  async *epoch(): AsyncGenerator<Batch> {
    for (;;) {
      const b = await this.next();
      if (b === null) return;
      yield b;
    }
  }

  /** Cache hits, misses and bytes held. */
  cacheStats() {
    return this.proc.cacheStats();
  }

  /** Stops prefetching, disposes the last batch and releases workers and the cache. */
  async close(): Promise<void> {
    this.drain();
    this.last?.dispose();
    await this.proc.close();
  }

  private orderOf(epoch: number): number[] {
    let o = this.orders.get(epoch);
    if (!o) {
      o = this.o.order ? this.o.order(epoch) : epochOrder(this.ds.items.length, this.o.seed, epoch, this.o.shuffle);
      this.orders.set(epoch, o);
    }
    return o;
  }

  private fill(): void {
    if (this.queue.length === 0) this.ahead = { ...this.pos };
    while (this.queue.length < this.o.prefetch) {
      let { epoch, batch } = this.ahead;
      if (batch >= this.batchesPerEpoch(epoch)) {
        epoch += 1;
        batch = 0;
      }
      const p = this.produce(epoch, batch);
      p.catch(() => undefined); // consumed by next(); avoid unhandled-rejection noise while it waits
      this.queue.push({ epoch, index: batch, p });
      this.ahead = { epoch, batch: batch + 1 };
    }
  }

  private drain(): void {
    this.queue = [];
  }

  private async produce(epoch: number, index: number): Promise<HostBatch> {
    const order = this.orderOf(epoch);
    const B = this.o.batchSize;
    const idx = order.slice(index * B, (index + 1) * B);
    const S = this.o.transform.size;
    const per = S * S * 3;
    const x = new Float32Array(idx.length * per);
    const ok = new Array<boolean>(idx.length).fill(true);
    await Promise.all(
      idx.map(async (itemIndex, k) => {
        const item = this.ds.items[itemIndex];
        if (this.bad.has(itemIndex)) {
          ok[k] = false; // known bad (reported once, the first time it failed)
          return;
        }
        const seed = this.o.augment ? deriveSeed(this.o.seed, epoch, index * B + k) : undefined;
        await this.acquire();
        try {
          await this.proc.process(item, itemIndex, seed, x, k * per);
        } catch (e) {
          if (!this.o.skipBad || !(e instanceof DataError)) throw e;
          ok[k] = false;
          if (this.bad.has(itemIndex)) return;
          this.bad.add(itemIndex);
          this.skipped.push({ id: item.id, path: item.path, reason: e.message });
        } finally {
          this.release();
        }
      }),
    );
    const items = idx.map((i) => this.ds.items[i]);
    if (ok.every(Boolean)) return { x, items, epoch, index };
    const keep = ok.map((v, k) => (v ? k : -1)).filter((k) => k >= 0);
    const xs = new Float32Array(keep.length * per);
    keep.forEach((k, j) => xs.set(x.subarray(k * per, (k + 1) * per), j * per));
    return { x: xs, items: keep.map((k) => items[k]), epoch, index };
  }

  private acquire(): Promise<void> {
    if (this.inFlight < this.o.concurrency) {
      this.inFlight++;
      return Promise.resolve();
    }
    return new Promise((r) => this.waiters.push(() => (this.inFlight++, r())));
  }

  private release(): void {
    this.inFlight--;
    const w = this.waiters.shift();
    if (w) w();
  }

  private toBatch(hb: HostBatch): Batch {
    const S = this.o.transform.size;
    const B = hb.items.length;
    const x = tf.tensor4d(hb.x, [B, S, S, 3], "float32"); // [B, H, W, 3]
    let y: tf.Tensor;
    if (this.ds.task === "multilabel") {
      const L = this.ds.classes.length;
      const ys = new Float32Array(B * L);
      hb.items.forEach((it, i) => ys.set(it.labels ?? [], i * L));
      y = tf.tensor2d(ys, [B, L], "float32"); // [B, L]
    } else {
      y = tf.tensor1d(
        Int32Array.from(hb.items, (it) => it.label ?? -1),
        "int32",
      ); // [B]
    }
    return {
      x,
      y,
      ids: hb.items.map((it) => it.id),
      epoch: hb.epoch,
      index: hb.index,
      dispose: () => {
        x.dispose();
        y.dispose();
      },
    };
  }
}
