/**
 * Frozen-backbone feature cache. Features are extracted once per (weights hash, preprocessing, item) and stored on
 * disk as `<key>.safetensors` (features [n, d], labels) plus a JSON manifest `<key>.json` (ids, per-item input
 * hashes, the safetensors file's sha256), both written atomically, manifest last. Seeds, lrs and probe types then
 * reuse them.
 *
 * - The key hashes the model's weights (or a given `weightsHash`), the preprocessing description, the architecture
 *   and the feature width: another checkpoint or transform is another cache entry.
 * - Each item is keyed by its id and the sha1 of its input pixels: an item whose image changed is re-extracted.
 * - A manifest whose file hash does not match (truncated, edited, half-written) is reported and rebuilt.
 * Batches still have to be loaded (the cache checks their pixels); only the model forward is skipped.
 */
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { DataError, TrainingError } from "../../errors";
import { writeFailure, writeFileAtomic } from "../../io/atomic";
import { hostTensor, type StateDict } from "../../io/host_tensor";
import { readSafetensors, writeSafetensors } from "../../io/safetensors";
import type { ImageClassifier } from "../../models/types";

/** One batch as the data loader yields it: NHWC images, labels ([B] or [B, L]) and item ids. */
export interface FeatureBatch {
  x: tf.Tensor;
  y: tf.Tensor | ArrayLike<number>;
  ids: string[];
}

/** Cache settings. */
export interface FeatureCacheOptions {
  /** Folder of the cache. */
  dir: string;
  /** What the images went through (transform name and parameters); part of the key. */
  preprocessing: string | Record<string, unknown>;
  /** Precomputed hash of the weights (e.g. of the checkpoint file); default: sha256 of the model's state dict. */
  weightsHash?: string;
  /** Warnings (a corrupt cache being rebuilt). */
  log?: (msg: string) => void;
}

/** Features of the requested items, in batch order. */
export interface CachedFeatures {
  features: Float32Array;
  n: number;
  d: number;
  /** Labels flattened, with their per-item shape. */
  labels: Float32Array;
  labelShape: number[];
  ids: string[];
  key: string;
  /** Items whose features were computed now (the rest came from the cache). */
  computed: number;
}

interface CacheManifest {
  version: 1;
  key: string;
  d: number;
  labelShape: number[];
  ids: string[];
  inputHashes: string[];
  fileSha256: string;
}

/**
 * sha256 of a model's backbone parameters and persistent buffers (names, shapes and values). The head is left out:
 * pre-logits features do not depend on it, so runs with another class count or head seed share the cache.
 */
export function weightsHashOf(model: ImageClassifier): string {
  return hashBackbone(model, model.stateDict());
}

/** weightsHashOf with asynchronous reads (works on webgpu, where synchronous reads fail). */
export async function weightsHashOfAsync(model: ImageClassifier): Promise<string> {
  return hashBackbone(model, await model.stateDictAsync());
}

function hashBackbone(model: ImageClassifier, sd: StateDict): string {
  const h = createHash("sha256");
  const isHead = (n: string) => model.headNames.some((p) => n === p || n.startsWith(p + "."));
  for (const [n, t] of sd) {
    if (isHead(n)) continue;
    h.update(`${n}:${t.dtype}:${t.shape.join(",")};`);
    h.update(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
  }
  return h.digest("hex");
}

/** The cache key of a model + preprocessing. */
export function featureCacheKey(model: ImageClassifier, opts: FeatureCacheOptions): string {
  const pre = typeof opts.preprocessing === "string" ? opts.preprocessing : stableJson(opts.preprocessing);
  const w = opts.weightsHash ?? weightsHashOf(model);
  return createHash("sha256")
    .update(JSON.stringify([w, pre, model.arch, model.numFeatures]))
    .digest("hex")
    .slice(0, 32);
}

function stableJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stableJson).join(",")}]`;
  if (v && typeof v === "object") {
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${stableJson((v as Record<string, unknown>)[k])}`)
      .join(",")}}`;
  }
  return JSON.stringify(v);
}

interface Entry {
  feature: Float32Array;
  label: Float32Array;
  inputHash: string;
}

/** Reads a cache entry; a missing entry is empty, a corrupt one is reported and dropped. */
function readEntry(dir: string, key: string, log: (m: string) => void): { entries: Map<string, Entry>; d: number } {
  const mf = path.join(dir, `${key}.json`);
  const tf_ = path.join(dir, `${key}.safetensors`);
  const entries = new Map<string, Entry>();
  if (!fs.existsSync(mf)) return { entries, d: 0 };
  try {
    const m = JSON.parse(fs.readFileSync(mf, "utf8")) as CacheManifest;
    const bytes = fs.readFileSync(tf_);
    const sha = createHash("sha256").update(bytes).digest("hex");
    if (m.version !== 1 || m.key !== key || sha !== m.fileSha256)
      throw new Error(`hash ${sha.slice(0, 12)} ≠ manifest ${String(m.fileSha256).slice(0, 12)}`);
    const { tensors } = readSafetensors(tf_);
    const f = tensors.get("features")!.data as Float32Array;
    const l = tensors.get("labels")!.data as Float32Array;
    const ls = m.labelShape.reduce((a, b) => a * b, 1);
    m.ids.forEach((id, i) => {
      entries.set(id, {
        feature: f.slice(i * m.d, (i + 1) * m.d),
        label: l.slice(i * ls, (i + 1) * ls),
        inputHash: m.inputHashes[i],
      });
    });
    return { entries, d: m.d };
  } catch (e) {
    log(`feature cache ${key} is corrupt (${(e as Error).message}); rebuilding it`);
    fs.rmSync(mf, { force: true });
    fs.rmSync(tf_, { force: true });
    return { entries: new Map(), d: 0 };
  }
}

function writeEntry(dir: string, key: string, entries: Map<string, Entry>, d: number, labelShape: number[]): void {
  try {
    writeEntryFiles(dir, key, entries, d, labelShape);
  } catch (e) {
    // The manifest is written last, so a failed write leaves the previous entry (or none) in force.
    throw writeFailure(e, dir, `feature cache entry ${key}`, TrainingError);
  }
}

function writeEntryFiles(dir: string, key: string, entries: Map<string, Entry>, d: number, labelShape: number[]): void {
  const ids = [...entries.keys()].sort();
  const ls = labelShape.reduce((a, b) => a * b, 1);
  const feats = new Float32Array(ids.length * d);
  const labels = new Float32Array(ids.length * ls);
  ids.forEach((id, i) => {
    feats.set(entries.get(id)!.feature, i * d);
    labels.set(entries.get(id)!.label, i * ls);
  });
  const file = path.join(dir, `${key}.safetensors`);
  writeSafetensors(
    file,
    new Map([
      ["features", hostTensor(feats, [ids.length, d])],
      ["labels", hostTensor(labels, [ids.length, ...labelShape])],
    ]),
  );
  const sha = createHash("sha256").update(fs.readFileSync(file)).digest("hex");
  const m: CacheManifest = {
    version: 1,
    key,
    d,
    labelShape,
    ids,
    inputHashes: ids.map((id) => entries.get(id)!.inputHash),
    fileSha256: sha,
  };
  writeFileAtomic(path.join(dir, `${key}.json`), JSON.stringify(m));
}

/** Extracts (or reuses) pre-logits features of every item the batches yield, in batch order. */
export async function extractFeatures(
  model: ImageClassifier,
  batches: AsyncIterable<FeatureBatch> | Iterable<FeatureBatch>,
  opts: FeatureCacheOptions,
): Promise<CachedFeatures> {
  const log = opts.log ?? ((m: string) => console.warn(`[peftlab] ${m}`));
  const key = featureCacheKey(model, { ...opts, weightsHash: opts.weightsHash ?? (await weightsHashOfAsync(model)) });
  try {
    fs.mkdirSync(opts.dir, { recursive: true });
  } catch (e) {
    throw writeFailure(e, opts.dir, "the feature cache folder", TrainingError);
  }
  const { entries } = readEntry(opts.dir, key, log);
  const order: string[] = [];
  let labelShape: number[] | undefined;
  let computed = 0;
  let dirty = false;
  const wasTraining = model.training;
  model.eval();
  try {
    for await (const b of batches as AsyncIterable<FeatureBatch>) {
      const { x, ids } = b;
      const y = b.y instanceof tf.Tensor ? ((await b.y.data()) as Float32Array | Int32Array) : b.y;
      const per = y.length / ids.length;
      labelShape ??= b.y instanceof tf.Tensor ? b.y.shape.slice(1) : [];
      if (x.shape[0] !== ids.length || !Number.isInteger(per)) {
        throw new DataError("Batch sizes disagree", {
          where: "extractFeatures",
          expected: `${x.shape[0]} ids and labels`,
          got: `${ids.length} ids, ${y.length} label values`,
        });
      }
      const pix = await x.data(); // async: webgpu has no synchronous read
      const stride = pix.length / ids.length;
      const hashes = ids.map((_, i) =>
        createHash("sha1")
          .update(new Uint8Array(pix.buffer, pix.byteOffset + i * stride * 4, stride * 4))
          .digest("hex"),
      );
      const fresh = ids.some((id, i) => entries.get(id)?.inputHash !== hashes[i]);
      if (fresh) {
        const f = tf.tidy(() => model.forwardFeatures(x)); // [B, F]
        const data = (await f.data()) as Float32Array;
        const d = f.shape[1] as number;
        f.dispose();
        ids.forEach((id, i) => {
          entries.set(id, {
            feature: data.slice(i * d, (i + 1) * d),
            label: Float32Array.from(Array.from(y).slice(i * per, (i + 1) * per)),
            inputHash: hashes[i],
          });
        });
        computed += ids.length;
        dirty = true;
      }
      order.push(...ids);
    }
  } finally {
    model.train(wasTraining);
  }
  const d = model.numFeatures;
  if (dirty) writeEntry(opts.dir, key, entries, d, labelShape ?? []);
  const ls = (labelShape ?? []).reduce((a, b) => a * b, 1);
  const features = new Float32Array(order.length * d);
  const labels = new Float32Array(order.length * ls);
  order.forEach((id, i) => {
    features.set(entries.get(id)!.feature, i * d);
    labels.set(entries.get(id)!.label, i * ls);
  });
  return { features, n: order.length, d, labels, labelShape: labelShape ?? [], ids: order, key, computed };
}
