/** A byte-budgeted LRU cache for decoded base images (pre-augmentation, already resized). */
import type { RgbImage } from "./decode";

/** LRU cache of RGB images bounded by total pixel bytes. */
export class ImageCache {
  private readonly map = new Map<string, RgbImage>();
  private bytes = 0;
  hits = 0;
  misses = 0;

  constructor(readonly budgetBytes: number) {}

  /** The cached image, refreshed as most recently used. */
  get(key: string): RgbImage | undefined {
    const v = this.map.get(key);
    if (v === undefined) {
      this.misses++;
      return undefined;
    }
    this.hits++;
    this.map.delete(key);
    this.map.set(key, v);
    return v;
  }

  /** Stores an image, evicting least recently used ones to stay within budget; images over budget are not kept. */
  set(key: string, img: RgbImage): void {
    const size = img.data.byteLength;
    if (size > this.budgetBytes) return;
    const old = this.map.get(key);
    if (old) {
      this.bytes -= old.data.byteLength;
      this.map.delete(key);
    }
    while (this.bytes + size > this.budgetBytes && this.map.size > 0) {
      const [k, v] = this.map.entries().next().value as [string, RgbImage];
      this.map.delete(k);
      this.bytes -= v.data.byteLength;
    }
    this.map.set(key, img);
    this.bytes += size;
  }

  /** Bytes held. */
  get usedBytes(): number {
    return this.bytes;
  }

  /** Entries held. */
  get size(): number {
    return this.map.size;
  }

  clear(): void {
    this.map.clear();
    this.bytes = 0;
  }
}
