/**
 * Geometric transforms and normalisation on float HWC RGB images in [0, 1]; RandomResizedCrop's parameters and its
 * bicubic resample (sharp). Semantics follow torchvision; where they differ it says so.
 */
import sharp from "sharp";
import { ConfigError } from "../errors";
import type { RgbImage } from "./decode";
import { type Rng, roundHalfEven } from "./rng";

/** Row-major HWC float32 RGB. */
export interface FloatImage {
  data: Float32Array;
  width: number;
  height: number;
}

/** uint8 RGB → float in [0, 1] (torchvision ToTensor). */
export function toFloat(img: RgbImage): FloatImage {
  const out = new Float32Array(img.data.length);
  for (let i = 0; i < out.length; i++) out[i] = img.data[i] / 255;
  return { data: out, width: img.width, height: img.height };
}

/** Mirror left↔right. */
export function hflip(img: FloatImage): FloatImage {
  const { width: w, height: h, data } = img;
  const out = new Float32Array(data.length);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const s = (y * w + x) * 3;
      const d = (y * w + (w - 1 - x)) * 3;
      out[d] = data[s];
      out[d + 1] = data[s + 1];
      out[d + 2] = data[s + 2];
    }
  return { data: out, width: w, height: h };
}

/** Mirror top↔bottom. */
export function vflip(img: FloatImage): FloatImage {
  const { width: w, height: h, data } = img;
  const out = new Float32Array(data.length);
  const row = w * 3;
  for (let y = 0; y < h; y++) out.set(data.subarray(y * row, (y + 1) * row), (h - 1 - y) * row);
  return { data: out, width: w, height: h };
}

/** Rotates by k·90° counter-clockwise (numpy.rot90 on HWC). */
export function rot90(img: FloatImage, k: number): FloatImage {
  const kk = ((k % 4) + 4) % 4;
  let cur = img;
  for (let t = 0; t < kk; t++) {
    const { width: w, height: h, data } = cur;
    const out = new Float32Array(data.length);
    // Output is h wide and w tall: out[y'][x'] = in[x'][w-1-y'].
    for (let yo = 0; yo < w; yo++)
      for (let xo = 0; xo < h; xo++) {
        const s = (xo * w + (w - 1 - yo)) * 3;
        const d = (yo * h + xo) * 3;
        out[d] = data[s];
        out[d + 1] = data[s + 1];
        out[d + 2] = data[s + 2];
      }
    cur = { data: out, width: h, height: w };
  }
  return cur;
}

/**
 * Rotates by `degrees` counter-clockwise about the centre, same size (torchvision rotate with expand=False), nearest
 * neighbour (torchvision's default for RandomRotation), `fill` outside the source.
 */
export function rotate(img: FloatImage, degrees: number, fill = 0): FloatImage {
  const { width: w, height: h, data } = img;
  const th = (degrees * Math.PI) / 180;
  const c = Math.cos(th);
  const s = Math.sin(th);
  const cx = (w - 1) / 2;
  const cy = (h - 1) / 2;
  const out = new Float32Array(data.length).fill(fill);
  for (let y = 0; y < h; y++) {
    const dy = y - cy;
    for (let x = 0; x < w; x++) {
      const dx = x - cx;
      // Inverse map: the source pixel that lands on (x, y) after a counter-clockwise turn (image y points down).
      const sx = Math.round(cx + dx * c - dy * s);
      const sy = Math.round(cy + dx * s + dy * c);
      if (sx < 0 || sy < 0 || sx >= w || sy >= h) continue;
      const si = (sy * w + sx) * 3;
      const di = (y * w + x) * 3;
      out[di] = data[si];
      out[di + 1] = data[si + 1];
      out[di + 2] = data[si + 2];
    }
  }
  return { data: out, width: w, height: h };
}

/** A crop box in pixels. */
export interface CropBox {
  top: number;
  left: number;
  height: number;
  width: number;
}

/**
 * torchvision RandomResizedCrop.get_params: 10 attempts at a box with area ∈ scale·area and log-uniform aspect ∈ ratio,
 * then the fallback (whole image clamped to the ratio range, centred).
 */
export function randomResizedCropBox(
  W: number,
  H: number,
  scale: [number, number],
  ratio: [number, number],
  rng: Rng,
): CropBox {
  const area = W * H;
  const logR: [number, number] = [Math.log(ratio[0]), Math.log(ratio[1])];
  for (let attempt = 0; attempt < 10; attempt++) {
    const target = area * rng.uniform(scale[0], scale[1]);
    const aspect = Math.exp(rng.uniform(logR[0], logR[1]));
    const w = roundHalfEven(Math.sqrt(target * aspect));
    const h = roundHalfEven(Math.sqrt(target / aspect));
    if (w > 0 && w <= W && h > 0 && h <= H) {
      return { top: rng.int(H - h + 1), left: rng.int(W - w + 1), height: h, width: w };
    }
  }
  const inRatio = W / H;
  let w: number;
  let h: number;
  if (inRatio < Math.min(...ratio)) {
    w = W;
    h = roundHalfEven(w / Math.min(...ratio));
  } else if (inRatio > Math.max(...ratio)) {
    h = H;
    w = roundHalfEven(h * Math.max(...ratio));
  } else {
    w = W;
    h = H;
  }
  return { top: Math.floor((H - h) / 2), left: Math.floor((W - w) / 2), height: h, width: w };
}

/** Crops `box` and resizes it to size×size with bicubic (sharp's Catmull-Rom, antialiased when shrinking, as PIL). */
export async function resizedCrop(img: RgbImage, box: CropBox, size: number): Promise<RgbImage> {
  const data = await sharp(img.data, { raw: { width: img.width, height: img.height, channels: 3 } })
    .extract({ left: box.left, top: box.top, width: box.width, height: box.height })
    .resize(size, size, { kernel: "cubic", fit: "fill" })
    .raw()
    .toBuffer();
  return { data: new Uint8Array(data.buffer, data.byteOffset, data.length), width: size, height: size };
}

/** Per-channel mean and std. */
export interface NormStats {
  mean: [number, number, number];
  std: [number, number, number];
}

/** Normalisation presets: ImageNet (timm/torchvision), OpenAI CLIP, Inception (0.5/0.5 → [−1, 1]), none. */
export const NORM_PRESETS: Record<string, NormStats> = {
  imagenet: { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] },
  clip: { mean: [0.48145466, 0.4578275, 0.40821073], std: [0.26862954, 0.26130258, 0.27577711] },
  inception: { mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] },
  none: { mean: [0, 0, 0], std: [1, 1, 1] },
};

/** A preset name, or explicit mean/std (one value broadcasts to 3 channels, e.g. MRM's 0.4978/0.2449). */
export type NormalizeSpec = string | { mean: number[]; std: number[] };

/** Resolves a NormalizeSpec to 3-channel stats. */
export function resolveNorm(spec: NormalizeSpec): NormStats {
  if (typeof spec === "string") {
    const p = NORM_PRESETS[spec];
    if (!p) {
      throw new ConfigError(`Unknown normalisation preset "${spec}"`, {
        where: "transform.normalize",
        expected: Object.keys(NORM_PRESETS).join(", "),
        got: spec,
        fix: "use a preset or pass { mean, std } (a model registry entry's values)",
      });
    }
    return p;
  }
  const b = (v: number[], n: string): [number, number, number] => {
    if (v.length === 1) return [v[0], v[0], v[0]];
    if (v.length === 3) return [v[0], v[1], v[2]];
    throw new ConfigError(`normalize.${n} needs 1 or 3 values`, {
      where: `transform.normalize.${n}`,
      expected: "1 or 3",
      got: String(v.length),
    });
  };
  const st = { mean: b(spec.mean, "mean"), std: b(spec.std, "std") };
  if (st.std.some((x) => !(x > 0)))
    throw new ConfigError("normalize.std must be positive", {
      where: "transform.normalize.std",
      got: st.std.join(","),
    });
  return st;
}

/** (x − mean) / std per channel, written into `out` at `offset` (a batch buffer) or a new array. */
export function normalizeInto(img: FloatImage, st: NormStats, out?: Float32Array, offset = 0): Float32Array {
  const d = img.data;
  const o = out ?? new Float32Array(d.length);
  const inv = st.std.map((s) => 1 / s);
  for (let i = 0; i < d.length; i += 3) {
    o[offset + i] = (d[i] - st.mean[0]) * inv[0];
    o[offset + i + 1] = (d[i + 1] - st.mean[1]) * inv[1];
    o[offset + i + 2] = (d[i + 2] - st.mean[2]) * inv[2];
  }
  return o;
}

/** Per-channel tables of normalizeInto(toFloat(v)) for every byte v, by NormStats object. */
const TABLES = new WeakMap<NormStats, Float32Array[]>();

function normTables(st: NormStats): Float32Array[] {
  let t = TABLES.get(st);
  if (!t) {
    const inv = st.std.map((s) => 1 / s);
    // The same float32 steps as toFloat then normalizeInto: fround(v / 255), then (x − mean)·(1/std) stored as float32.
    t = [0, 1, 2].map((c) =>
      Float32Array.from({ length: 256 }, (_, v) => (Math.fround(v / 255) - st.mean[c]) * inv[c]),
    );
    TABLES.set(st, t);
  }
  return t;
}

/**
 * normalizeInto(toFloat(img), st) with the image optionally mirrored (hflip, vflip), written into `out` at `offset`
 * in one pass through per-channel byte tables: bit-identical to the three-pass chain, without its two temporaries.
 */
export function normalizeBytesInto(
  img: RgbImage,
  st: NormStats,
  flip: { h: boolean; v: boolean },
  out: Float32Array,
  offset = 0,
): void {
  const [t0, t1, t2] = normTables(st);
  const { width: w, height: h, data } = img;
  for (let y = 0; y < h; y++) {
    const src = (flip.v ? h - 1 - y : y) * w * 3;
    let o = offset + y * w * 3;
    if (!flip.h) {
      for (let s = src, end = src + w * 3; s < end; s += 3, o += 3) {
        out[o] = t0[data[s]];
        out[o + 1] = t1[data[s + 1]];
        out[o + 2] = t2[data[s + 2]];
      }
    } else {
      for (let s = src + (w - 1) * 3; s >= src; s -= 3, o += 3) {
        out[o] = t0[data[s]];
        out[o + 1] = t1[data[s + 1]];
        out[o + 2] = t2[data[s + 2]];
      }
    }
  }
}
