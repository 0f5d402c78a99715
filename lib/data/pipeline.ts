/**
 * One image's path from item to normalised float HWC: decode + base (resize/crop, cacheable) → augment (seeded) →
 * normalise. The loader, the worker pool and the throughput helper all go through `processItem`.
 *
 * Augmentations run in a fixed order: RandomResizedCrop, colour jitter, Gaussian blur, horizontal flip, vertical
 * flip, right-angle rotation, any-angle rotation. RandomResizedCrop works on the cached base image (shorter side =
 * `resize`), not on the full-resolution original as torchvision does; with `resize` ≥ `size` this only loses detail
 * for very small crop scales.
 */
import { ConfigError } from "../errors";
import { applyJitter, type ColorJitterOptions, gaussianBlur, sampleJitter } from "./color";
import { type BaseSpec, centreCrop, decodeItem, type RgbImage } from "./decode";
import type { Rng } from "./rng";
import {
  type FloatImage,
  hflip,
  normalizeBytesInto,
  normalizeInto,
  type NormalizeSpec,
  type NormStats,
  randomResizedCropBox,
  resizedCrop,
  resolveNorm,
  rot90,
  rotate,
  toFloat,
  vflip,
} from "./transforms";
import type { ImageItem } from "./types";

/** Seeded augmentations (each with its own probability where torchvision wraps it in RandomApply). */
export interface AugmentOptions {
  /** torchvision RandomResizedCrop(size, scale, ratio, bicubic). Defaults: scale (0.08, 1), ratio (3/4, 4/3). */
  randomResizedCrop?: { scale?: [number, number]; ratio?: [number, number] };
  /** Probability of a horizontal flip. */
  hflip?: number;
  /** Probability of a vertical flip. */
  vflip?: number;
  /** Probability of a rotation by a random multiple of 90° (1, 2 or 3 quarter turns). */
  rot90?: number;
  /** RandomRotation(degrees) applied with probability p (default 1): angle ∈ [−degrees, degrees], fill 0. */
  rotate?: { degrees: number; p?: number };
  /** ColorJitter applied with probability p (default 1). */
  colorJitter?: ColorJitterOptions & { p?: number };
  /** GaussianBlur(kernel, sigma range) applied with probability p (default 1). */
  gaussianBlur?: { kernel: number; sigma: [number, number]; p?: number };
  /** Patch-centre jitter for region items, as a fraction of the patch size (seed 001: 0.1 = ±10 %). */
  regionJitter?: number;
}

/** Output size, eval resize, augmentation and normalisation of a pipeline. */
export interface TransformOptions {
  /** Output side (square). */
  size: number;
  /** Shorter side before the centre crop (eval) or before RandomResizedCrop (train). Default = size. */
  resize?: number;
  augment?: AugmentOptions;
  normalize?: NormalizeSpec;
}

/** A resolved pipeline: what to cache and how to finish an image. */
export interface Transform {
  options: TransformOptions;
  base: BaseSpec;
  norm: NormStats;
  /** Bytes of one output image (float32 HWC). */
  outBytes: number;
  /** Cache key part that identifies the base step. */
  baseKey: string;
}

/** Validates options once and resolves presets. */
export function buildTransform(o: TransformOptions): Transform {
  if (!(Number.isInteger(o.size) && o.size > 0))
    throw new ConfigError("transform.size must be a positive integer", {
      where: "transform.size",
      got: String(o.size),
    });
  const resize = o.resize ?? o.size;
  if (resize < o.size)
    throw new ConfigError("transform.resize must be ≥ size", {
      where: "transform.resize",
      expected: `≥ ${o.size}`,
      got: String(resize),
    });
  const rrc = o.augment?.randomResizedCrop !== undefined;
  const base: BaseSpec = rrc ? { shorter: resize } : { shorter: resize, crop: o.size };
  return {
    options: o,
    base,
    norm: resolveNorm(o.normalize ?? "imagenet"),
    outBytes: o.size * o.size * 3 * 4,
    baseKey: `${base.shorter ?? "-"}:${base.crop ?? "-"}`,
  };
}

/** Decodes the cacheable base image of an item (regions get their random centre offset here, before caching is
 * bypassed for them). */
export function decodeBase(item: ImageItem, t: Transform, rng?: Rng): Promise<RgbImage> {
  let off: [number, number] | undefined;
  const j = t.options.augment?.regionJitter;
  if (item.region && j && rng) {
    const m = j * item.region.size;
    off = [Math.round(rng.uniform(-m, m)), Math.round(rng.uniform(-m, m))];
  }
  return decodeItem(item, t.base, off);
}

/** Augments a base image with `rng` (or centre-crops it for eval) and writes the normalised result into `out`. */
export async function finishImage(
  base: RgbImage,
  t: Transform,
  rng: Rng | undefined,
  out: Float32Array,
  offset = 0,
): Promise<void> {
  const a = t.options.augment;
  const size = t.options.size;
  let rgb = base;
  if (a?.randomResizedCrop && rng) {
    const box = randomResizedCropBox(
      base.width,
      base.height,
      a.randomResizedCrop.scale ?? [0.08, 1],
      a.randomResizedCrop.ratio ?? [3 / 4, 4 / 3],
      rng,
    );
    rgb = await resizedCrop(base, box, size);
  } else if (rgb.width !== size || rgb.height !== size) {
    // RandomResizedCrop configured but no rng (evaluation of a train pipeline): centre crop of the base.
    rgb = centreCrop(rgb, size, size);
  }
  if (!a || !rng || onlyFlips(a)) {
    // No float-domain work besides mirroring: one pass from bytes, the same rng draws as augmentFloat.
    const h = !!(a && rng && a.hflip && rng.chance(a.hflip));
    const v = !!(a && rng && a.vflip && rng.chance(a.vflip));
    normalizeBytesInto(rgb, t.norm, { h, v }, out, offset);
    return;
  }
  normalizeInto(augmentFloat(toFloat(rgb), a, rng), t.norm, out, offset);
}

/** Whether augmentFloat would only mirror (no jitter, blur or rotation). */
function onlyFlips(a: AugmentOptions): boolean {
  return !a.colorJitter && !a.gaussianBlur && !a.rot90 && !a.rotate;
}

/** The float-domain augmentations, in their fixed order. */
export function augmentFloat(img0: FloatImage, a: AugmentOptions, rng: Rng): FloatImage {
  let img = img0;
  if (a.colorJitter && rng.chance(a.colorJitter.p ?? 1)) img = applyJitter(img, sampleJitter(a.colorJitter, rng));
  if (a.gaussianBlur && rng.chance(a.gaussianBlur.p ?? 1)) {
    img = gaussianBlur(img, a.gaussianBlur.kernel, rng.uniform(a.gaussianBlur.sigma[0], a.gaussianBlur.sigma[1]));
  }
  if (a.hflip && rng.chance(a.hflip)) img = hflip(img);
  if (a.vflip && rng.chance(a.vflip)) img = vflip(img);
  if (a.rot90 && rng.chance(a.rot90)) img = rot90(img, 1 + rng.int(3));
  if (a.rotate && rng.chance(a.rotate.p ?? 1)) img = rotate(img, rng.uniform(-a.rotate.degrees, a.rotate.degrees), 0);
  return img;
}

/** Decode + augment + normalise one item into `out` (no cache). */
export async function processItem(
  item: ImageItem,
  t: Transform,
  rng: Rng | undefined,
  out: Float32Array,
  offset = 0,
): Promise<void> {
  await finishImage(await decodeBase(item, t, rng), t, rng, out, offset);
}
