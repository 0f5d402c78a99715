/**
 * Colour jitter and Gaussian blur on float HWC RGB in [0, 1], following torchvision's tensor implementations
 * (adjust_brightness/contrast/saturation/hue, gaussian_blur with reflect padding).
 * Differences from torchvision's PIL path: contrast uses the float mean of the grayscale image (PIL rounds it to an
 * integer grey level), and there is no uint8 rounding between the four jitter steps.
 */
import { ConfigError } from "../errors";
import type { Rng } from "./rng";
import type { FloatImage } from "./transforms";

/** ColorJitter strengths: brightness/contrast/saturation x → factor ∈ [max(0, 1−x), 1+x]; hue x ∈ [0, 0.5] → shift ∈ [−x, x]. */
export interface ColorJitterOptions {
  brightness?: number;
  contrast?: number;
  saturation?: number;
  hue?: number;
}

/** Sampled jitter: factors plus the random order torchvision applies them in (0 b, 1 c, 2 s, 3 h). */
export interface JitterParams {
  order: number[];
  brightness?: number;
  contrast?: number;
  saturation?: number;
  hue?: number;
}

/** Samples jitter parameters as torchvision ColorJitter.get_params (random permutation, then each factor). */
export function sampleJitter(o: ColorJitterOptions, rng: Rng): JitterParams {
  if (o.hue !== undefined && (o.hue < 0 || o.hue > 0.5)) {
    throw new ConfigError("colorJitter.hue must be in [0, 0.5]", {
      where: "augment.colorJitter.hue",
      got: String(o.hue),
    });
  }
  const order = rng.shuffle([0, 1, 2, 3]);
  const f = (x?: number): number | undefined => (x ? rng.uniform(Math.max(0, 1 - x), 1 + x) : undefined);
  const brightness = f(o.brightness);
  const contrast = f(o.contrast);
  const saturation = f(o.saturation);
  const hue = o.hue ? rng.uniform(-o.hue, o.hue) : undefined;
  return { order, brightness, contrast, saturation, hue };
}

/** Applies sampled jitter in place and returns the image. */
export function applyJitter(img: FloatImage, p: JitterParams): FloatImage {
  for (const k of p.order) {
    if (k === 0 && p.brightness !== undefined) blendWith(img.data, p.brightness, () => 0);
    if (k === 1 && p.contrast !== undefined) {
      const m = meanGray(img.data);
      blendWith(img.data, p.contrast, () => m);
    }
    if (k === 2 && p.saturation !== undefined) {
      const d = img.data;
      blendWith(d, p.saturation, (i) => gray(d, i - (i % 3)));
    }
    if (k === 3 && p.hue !== undefined) shiftHue(img.data, p.hue);
  }
  return img;
}

function gray(d: Float32Array, i: number): number {
  return 0.2989 * d[i] + 0.587 * d[i + 1] + 0.114 * d[i + 2];
}

function meanGray(d: Float32Array): number {
  let s = 0;
  for (let i = 0; i < d.length; i += 3) s += gray(d, i);
  return s / (d.length / 3);
}

// torchvision _blend: clamp(f·img + (1−f)·other, 0, 1). Saturation reads the grey value of the pixel before any
// channel of it is overwritten, so compute per pixel.
function blendWith(d: Float32Array, f: number, other: (i: number) => number): void {
  for (let i = 0; i < d.length; i += 3) {
    const o0 = other(i);
    const o1 = other(i + 1);
    const o2 = other(i + 2);
    d[i] = clamp01(f * d[i] + (1 - f) * o0);
    d[i + 1] = clamp01(f * d[i + 1] + (1 - f) * o1);
    d[i + 2] = clamp01(f * d[i + 2] + (1 - f) * o2);
  }
}

function clamp01(x: number): number {
  return x < 0 ? 0 : x > 1 ? 1 : x;
}

// RGB → HSV, h += shift (mod 1), HSV → RGB, as torchvision's _rgb2hsv/_hsv2rgb.
function shiftHue(d: Float32Array, shift: number): void {
  for (let i = 0; i < d.length; i += 3) {
    const r = d[i];
    const g = d[i + 1];
    const b = d[i + 2];
    const max = Math.max(r, g, b);
    const min = Math.min(r, g, b);
    const cr = max - min;
    let h = 0;
    if (cr > 0) {
      if (max === r) h = (g - b) / cr;
      else if (max === g) h = 2 + (b - r) / cr;
      else h = 4 + (r - g) / cr;
      h /= 6;
    }
    h = (((h + shift) % 1) + 1) % 1;
    const s = max > 0 ? cr / max : 0;
    const v = max;
    const h6 = h * 6;
    const sector = Math.floor(h6) % 6;
    const f = h6 - Math.floor(h6);
    const p = v * (1 - s);
    const q = v * (1 - s * f);
    const t = v * (1 - s * (1 - f));
    const rgb = [
      [v, t, p],
      [q, v, p],
      [p, v, t],
      [p, q, v],
      [t, p, v],
      [v, p, q],
    ][sector];
    d[i] = clamp01(rgb[0]);
    d[i + 1] = clamp01(rgb[1]);
    d[i + 2] = clamp01(rgb[2]);
  }
}

/** 1-D Gaussian kernel as torchvision: x = −(k−1)/2 … (k−1)/2, exp(−x²/2σ²), normalised. */
export function gaussianKernel1d(k: number, sigma: number): Float32Array {
  if (k < 1 || k % 2 === 0)
    throw new ConfigError("Gaussian blur kernel size must be odd and positive", {
      where: "augment.gaussianBlur.kernel",
      got: String(k),
    });
  const out = new Float32Array(k);
  let sum = 0;
  for (let i = 0; i < k; i++) {
    const x = i - (k - 1) / 2;
    out[i] = Math.exp(-0.5 * (x / sigma) ** 2);
    sum += out[i];
  }
  for (let i = 0; i < k; i++) out[i] /= sum;
  return out;
}

/** Separable Gaussian blur with reflect padding (torch's "reflect": the edge pixel is not repeated). */
export function gaussianBlur(img: FloatImage, k: number, sigma: number): FloatImage {
  const ker = gaussianKernel1d(k, sigma);
  const r = (k - 1) / 2;
  const { width: w, height: h } = img;
  const tmp = new Float32Array(img.data.length);
  const out = new Float32Array(img.data.length);
  const refl = (i: number, n: number): number => {
    if (n === 1) return 0;
    let j = i;
    while (j < 0 || j >= n) j = j < 0 ? -j : 2 * (n - 1) - j;
    return j;
  };
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++)
      for (let c = 0; c < 3; c++) {
        let s = 0;
        for (let t = -r; t <= r; t++) s += ker[t + r] * img.data[(y * w + refl(x + t, w)) * 3 + c];
        tmp[(y * w + x) * 3 + c] = s;
      }
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++)
      for (let c = 0; c < 3; c++) {
        let s = 0;
        for (let t = -r; t <= r; t++) s += ker[t + r] * tmp[(refl(y + t, h) * w + x) * 3 + c];
        out[(y * w + x) * 3 + c] = s;
      }
  return { data: out, width: w, height: h };
}
