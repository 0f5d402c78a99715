import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as tf from "@tensorflow/tfjs";
import sharp from "sharp";
import { DataError } from "../../lib/errors";
import { DataLoader } from "../../lib/data/loader";
import { imageFolderDataset } from "../../lib/data/sources";
import { kShot } from "../../lib/data/splits";
import { throughput } from "../../lib/data/throughput";
import { decodeItem } from "../../lib/data/decode";
import { npzDataset } from "../../lib/data/sources_npz";
import type { ImageDataset } from "../../lib/data/types";
import { hasShared, sharedPath } from "../../lib/paths";

const bmp = require("bmp-js") as { encode(i: { data: Buffer; width: number; height: number }): { data: Buffer } };

const SEED001_AUG = {
  colorJitter: { brightness: 0.1, contrast: 0.1, saturation: 0.1, hue: 0.1, p: 0.5 },
  gaussianBlur: { kernel: 5, sigma: [0.1, 1] as [number, number], p: 0.1 },
  hflip: 0.5,
  vflip: 0.5,
  rotate: { degrees: 180, p: 0.5 },
};

async function collect(l: DataLoader, n: number): Promise<{ ids: string[]; sum: number }[]> {
  const out: { ids: string[]; sum: number }[] = [];
  for (let i = 0; i < n; i++) {
    const b = await l.next();
    if (!b) {
      out.push({ ids: [], sum: NaN });
      continue;
    }
    out.push({ ids: b.ids, sum: (await b.x.sum().data())[0] });
  }
  return out;
}

function breast(): ImageDataset {
  const ds = npzDataset(sharedPath("data", "breastmnist.npz"), { splits: ["val"] });
  return { ...ds, items: ds.items.slice(0, 40) };
}

describe("data loader", function () {
  before(async () => {
    await tf.setBackend("cpu");
  });

  it("PBC jpeg at 224 with RandomResizedCrop + flip: NHWC float32 batches, int32 labels, no tensor leak", async function () {
    if (!hasShared()) this.skip();
    const ds = kShot(imageFolderDataset(sharedPath("data", "pbc-jpeg")), 2, 0); // 16 of 2,400
    const l = new DataLoader(ds, {
      batchSize: 8,
      seed: 1,
      transform: { size: 224, augment: { randomResizedCrop: { scale: [0.7, 1] }, hflip: 0.5 }, normalize: "imagenet" },
    });
    const before = tf.memory().numTensors;
    const labels: number[] = [];
    for await (const b of l.epoch()) {
      assert.deepEqual(b.x.shape, [8, 224, 224, 3]);
      assert.equal(b.x.dtype, "float32");
      assert.equal(b.y.dtype, "int32");
      labels.push(...(await b.y.data()));
      const v = await b.x.data();
      let min = Infinity,
        max = -Infinity;
      for (const x of v) {
        min = Math.min(min, x);
        max = Math.max(max, x);
      }
      assert.ok(min >= -2.2 && max <= 2.7 && max > min, `range ${min}..${max}`);
    }
    assert.deepEqual(labels.sort(), [0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7]);
    await l.close();
    assert.equal(tf.memory().numTensors, before);
  });

  it("resumes exactly: a loader seeked to a saved position yields the same batches", async function () {
    if (!hasShared()) this.skip();
    const ds = breast();
    const opts = { batchSize: 6, seed: 7, transform: { size: 32, augment: SEED001_AUG, normalize: "inception" } };
    const a = new DataLoader(ds, opts);
    const full = await collect(a, 12); // 7 batches + end marker + 4 of epoch 1
    await a.close();
    const b = new DataLoader(ds, opts);
    await collect(b, 3);
    const saved = b.state();
    await b.close();
    assert.deepEqual(saved, { epoch: 0, batch: 3, seed: 7 });
    const c = new DataLoader(ds, opts);
    c.seek(saved);
    const rest = await collect(c, 9);
    await c.close();
    assert.deepEqual(rest, full.slice(3));
    assert.notDeepEqual(full[8].ids, full[0].ids, "epoch 1 is reshuffled");
    const d = new DataLoader(ds, { ...opts, seed: 8 });
    assert.notDeepEqual((await collect(d, 1))[0].ids, full[0].ids);
    await d.close();
  });

  it("worker_threads produce the same batches as the inline path", async function () {
    if (!hasShared()) this.skip();
    const ds = breast();
    const opts = {
      batchSize: 8,
      seed: 3,
      transform: { size: 32, augment: { ...SEED001_AUG, randomResizedCrop: {} }, normalize: "imagenet" },
    };
    const a = new DataLoader(ds, opts);
    const w = new DataLoader(ds, { ...opts, workers: 2 });
    assert.deepEqual(await collect(w, 3), await collect(a, 3));
    await a.close();
    await w.close();
  });

  it("batches do not depend on how many images decode at once; the resolved defaults are reported", async function () {
    if (!hasShared()) this.skip();
    const ds = breast();
    const transform = { size: 24, augment: { randomResizedCrop: {}, hflip: 0.5, vflip: 0.5 }, normalize: "imagenet" };
    const one = new DataLoader(ds, { batchSize: 8, seed: 5, transform, concurrency: 1 });
    const many = new DataLoader(ds, { batchSize: 8, seed: 5, transform });
    const want = Math.min(16, 4 * os.availableParallelism());
    assert.deepEqual(many.decoding, { concurrency: want, workers: 0 });
    assert.deepEqual(await collect(many, 4), await collect(one, 4));
    await one.close();
    await many.close();
    const r = await throughput(ds, { images: 16, batchSize: 8, transform });
    assert.equal(r.images, 16);
    assert.deepEqual([r.concurrency, r.workers], [want, 0]);
  });

  it("multi-label batches carry float32 [B, L] targets; the LRU cache is hit on the second epoch", async () => {
    const items = Array.from({ length: 5 }, (_, i) => ({
      id: `m${i}`,
      pixels: { data: new Uint8Array(8 * 8).fill(i * 40), width: 8, height: 8, channels: 1 as const },
      labels: [i % 2, 1, 0],
    }));
    const ds: ImageDataset = { name: "ml", classes: ["a", "b", "c"], task: "multilabel", items };
    const l = new DataLoader(ds, { batchSize: 5, transform: { size: 8, normalize: "none" } });
    const b = (await l.next())!;
    assert.deepEqual(b.y.shape, [5, 3]);
    assert.equal(b.y.dtype, "float32");
    assert.deepEqual(Array.from(await b.y.data()), [0, 1, 0, 1, 1, 0, 0, 1, 0, 1, 1, 0, 0, 1, 0]);
    const x = await b.x.data();
    assert.ok(Math.abs(x[4 * 8 * 8 * 3] - 160 / 255) < 1e-6, "gray replicated, scaled to [0, 1]");
    assert.equal(await l.next(), null);
    await l.next();
    assert.equal(l.cacheStats().decodes, 5, "each image decoded once");
    assert.ok(l.cacheStats().hits >= 5);
    await l.close();
  });

  it("a corrupt image is a DataError naming the file; skipBad skips and reports it; BMP decodes", async () => {
    const d = fs.mkdtempSync(path.join(os.tmpdir(), "peftlab-bad-"));
    fs.mkdirSync(path.join(d, "a"));
    fs.mkdirSync(path.join(d, "b"));
    await sharp({ create: { width: 10, height: 10, channels: 3, background: { r: 200, g: 10, b: 10 } } })
      .jpeg()
      .toFile(path.join(d, "a", "ok.jpg"));
    fs.writeFileSync(path.join(d, "a", "broken.jpg"), Buffer.from([0xff, 0xd8, 0xff, 0x00, 1, 2, 3]));
    const abgr = Buffer.alloc(4 * 4 * 4);
    for (let i = 0; i < 16; i++) abgr.set([0, 30, 20, 10], i * 4); // A, B, G, R
    fs.writeFileSync(path.join(d, "b", "x.bmp"), bmp.encode({ data: abgr, width: 4, height: 4 }).data);
    const ds = imageFolderDataset(d);
    const rgb = await decodeItem(ds.items.find((i) => i.id.endsWith(".bmp"))!);
    assert.deepEqual(Array.from(rgb.data.subarray(0, 3)), [10, 20, 30]);
    const strict = new DataLoader(ds, { batchSize: 3, transform: { size: 8 } });
    await assert.rejects(
      strict.next(),
      (e: unknown) => e instanceof DataError && e.message.includes(path.join(d, "a", "broken.jpg")),
    );
    await strict.close();
    const lax = new DataLoader(ds, { batchSize: 3, transform: { size: 8 }, skipBad: true });
    const b = (await lax.next())!;
    assert.equal(b.ids.length, 2);
    assert.deepEqual(
      lax.skipped.map((s) => s.id),
      ["a/broken.jpg"],
    );
    await lax.close();
  });

  it("patches of a large tiled TIFF: 224 px around (x, y), zero-filled past the border, jittered per seed", async () => {
    const d = fs.mkdtempSync(path.join(os.tmpdir(), "peftlab-tiff-"));
    const file = path.join(d, "slide.tiff");
    const W = 600;
    const H = 500;
    const px = Buffer.alloc(W * H * 3);
    for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) px.set([x % 256, y % 256, 50], (y * W + x) * 3);
    await sharp(px, { raw: { width: W, height: H, channels: 3 } })
      .tiff({ tile: true, tileWidth: 128, tileHeight: 128, compression: "lzw" })
      .toFile(file);
    const centre = await decodeItem({ id: "c", path: file, region: { x: 300, y: 250, size: 224 } });
    assert.equal(centre.width, 224);
    assert.deepEqual(Array.from(centre.data.subarray(0, 3)), [188 % 256, 138, 50]); // left = 300 − 112, top = 250 − 112
    const edge = await decodeItem({ id: "e", path: file, region: { x: 10, y: 10, size: 224 } });
    assert.deepEqual(Array.from(edge.data.subarray(0, 3)), [0, 0, 0], "outside the slide is 0");
    const inside = (112 - 10 + 10) * 224 + (112 - 10 + 5);
    assert.deepEqual(Array.from(edge.data.subarray(inside * 3, inside * 3 + 3)), [5, 10, 50]);
    const ds: ImageDataset = {
      name: "cells",
      classes: ["imposter", "mitotic figure"],
      task: "multiclass",
      items: [{ id: "c1", path: file, region: { x: 300, y: 250, size: 224 }, label: 1 }],
    };
    const aug = { size: 224, augment: { regionJitter: 0.1 }, normalize: "none" as const };
    const sums = [];
    for (const seed of [1, 1, 2]) {
      const l = new DataLoader(ds, { batchSize: 1, seed, transform: aug });
      sums.push((await (await l.next())!.x.sum().data())[0]);
      await l.close();
    }
    assert.equal(sums[0], sums[1]);
    assert.notEqual(sums[0], sums[2]);
  });
});
