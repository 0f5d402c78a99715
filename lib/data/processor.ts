/**
 * Where images are decoded and augmented: in this thread with sharp's libuv threadpool doing the codec work
 * (`InlineProcessor`), or in worker_threads that each run sharp and the JS augmentations (`WorkerProcessor`).
 * Both produce the same bytes for the same (item, seed): the random stream is derived from the seed alone.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { Worker } from "node:worker_threads";
import { DataError } from "../errors";
import { ImageCache } from "./cache";
import { buildTransform, decodeBase, finishImage, type Transform, type TransformOptions } from "./pipeline";
import type { RgbImage } from "./decode";
import { createRng } from "./rng";
import type { ImageItem } from "./types";

/** Decodes, augments and normalises one item into `out[offset…]`; `seed` undefined means no augmentation. */
export interface ItemProcessor {
  process(item: ImageItem, index: number, seed: number | undefined, out: Float32Array, offset: number): Promise<void>;
  close(): Promise<void>;
  cacheStats(): CacheStats;
}

/** Runs the pipeline in this thread with an LRU cache of base images. */
export class InlineProcessor implements ItemProcessor {
  readonly t: Transform;
  readonly cache: ImageCache;
  private readonly decoding = new Map<string, Promise<RgbImage>>();
  private decodes = 0;

  constructor(opts: TransformOptions, cacheBytes: number) {
    this.t = buildTransform(opts);
    this.cache = new ImageCache(cacheBytes);
  }

  async process(
    item: ImageItem,
    _index: number,
    seed: number | undefined,
    out: Float32Array,
    offset: number,
  ): Promise<void> {
    const rng = seed === undefined ? undefined : createRng(seed);
    // A jittered patch depends on the rng, so it is decoded fresh every time.
    const cacheable = !(item.region && this.t.options.augment?.regionJitter && rng);
    const key = `${item.id}|${this.t.baseKey}`;
    let base = cacheable ? this.cache.get(key) : undefined;
    if (!base && cacheable) {
      // Prefetch can ask for the same image twice before the first decode lands: share that decode.
      let p = this.decoding.get(key);
      if (!p) {
        this.decodes++;
        p = decodeBase(item, this.t, rng).finally(() => this.decoding.delete(key));
        this.decoding.set(key, p);
        base = await p;
        this.cache.set(key, base);
      } else base = await p;
    }
    if (!base) {
      this.decodes++;
      base = await decodeBase(item, this.t, rng);
    }
    await finishImage(base, this.t, rng, out, offset);
  }

  async close(): Promise<void> {
    this.cache.clear();
  }

  cacheStats() {
    return { hits: this.cache.hits, misses: this.cache.misses, bytes: this.cache.usedBytes, decodes: this.decodes };
  }
}

/** Cache counters a processor reports. */
export interface CacheStats {
  hits: number;
  misses: number;
  bytes: number;
  /** Base images actually decoded (misses that shared an in-flight decode are not counted twice). */
  decodes: number;
}

interface Pending {
  resolve: (d: Float32Array) => void;
  reject: (e: Error) => void;
}

/** A worker_threads pool; item i always goes to worker i mod n so each worker's cache sees the same items. */
export class WorkerProcessor implements ItemProcessor {
  private readonly workers: Worker[];
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;
  private stats: CacheStats = { hits: 0, misses: 0, bytes: 0, decodes: 0 };

  constructor(opts: TransformOptions, cacheBytes: number, n: number) {
    buildTransform(opts); // validate here, where the error is readable
    const js = path.join(__dirname, "worker.js");
    const ts = path.join(__dirname, "worker.ts");
    // Under tsx (tests, notebooks on sources) there is no worker.js: load the .ts through tsx's require hook.
    const code = fs.existsSync(js)
      ? `require(${JSON.stringify(js)})`
      : `require(${JSON.stringify(require.resolve("tsx/cjs"))}); require(${JSON.stringify(ts)})`;
    this.workers = Array.from({ length: n }, () => {
      const w = new Worker(code, {
        eval: true,
        workerData: { transform: opts, cacheBytes: Math.floor(cacheBytes / n) },
      });
      w.on(
        "message",
        (m: { id: number; data?: Float32Array; error?: { message: string; where?: string }; stats?: CacheStats }) => {
          const p = this.pending.get(m.id);
          if (!p) return;
          this.pending.delete(m.id);
          if (m.stats) this.stats = m.stats;
          if (m.error) p.reject(new DataError(m.error.message));
          else p.resolve(m.data!);
        },
      );
      w.on("error", (e) => {
        for (const p of this.pending.values()) p.reject(e);
        this.pending.clear();
      });
      w.unref();
      return w;
    });
  }

  async process(
    item: ImageItem,
    index: number,
    seed: number | undefined,
    out: Float32Array,
    offset: number,
  ): Promise<void> {
    const id = this.nextId++;
    const w = this.workers[index % this.workers.length];
    const data = await new Promise<Float32Array>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      w.ref();
      // A pixels view into a whole npz array would clone the whole array: send just this image.
      const msg = item.pixels ? { ...item, pixels: { ...item.pixels, data: item.pixels.data.slice() } } : item;
      w.postMessage({ id, item: msg, seed });
    }).finally(() => {
      if (this.pending.size === 0) for (const x of this.workers) x.unref();
    });
    out.set(data, offset);
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }

  cacheStats() {
    return this.stats;
  }
}
