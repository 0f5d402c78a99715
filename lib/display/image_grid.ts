/**
 * Image grids of samples with labels and predictions; misclassified tiles get a red frame, correct ones green. Encoded
 * as one PNG with sharp (captions drawn as an SVG overlay), plus an HTML figure and a text summary.
 */
import sharp from "sharp";
import { ShapeError } from "../errors";
import { JUPYTER_DISPLAY, isTensorLike, type Displayable, type MimeBundle } from "./bundle";

/** One image, HWC, channels 1 or 3, any numeric range (scaled for display). */
export interface GridImage {
  data: ArrayLike<number>;
  height: number;
  width: number;
  channels: 1 | 3;
}

export interface ImageGridOptions {
  labels?: ArrayLike<number>;
  predictions?: ArrayLike<number>;
  classNames?: string[];
  columns?: number;
  /** Integer upscaling (nearest) so 28×28 images stay readable; default makes tiles ≥ 84 px. */
  scale?: number;
  maxImages?: number;
  title?: string;
}

/** Splits a [N,H,W,C] tensor (or takes an array) into GridImages. */
export function toGridImages(images: unknown): GridImage[] {
  if (Array.isArray(images)) return images as GridImage[];
  if (isTensorLike(images) && images.shape.length === 4 && (images.shape[3] === 1 || images.shape[3] === 3)) {
    const [n, h, w, c] = images.shape;
    const all = images.dataSync() as ArrayLike<number>;
    const per = h * w * c;
    const out: GridImage[] = [];
    for (let i = 0; i < n; i++) {
      out.push({
        data: Array.prototype.slice.call(all, i * per, (i + 1) * per) as number[],
        height: h,
        width: w,
        channels: c as 1 | 3,
      });
    }
    return out;
  }
  throw new ShapeError("imageGrid() needs a [N, H, W, 1|3] tensor or an array of images", {
    where: "imageGrid(images)",
    expected: "tf.Tensor4D [N, H, W, 1|3] or GridImage[]",
    got: isTensorLike(images) ? `tensor [${images.shape.join(", ")}]` : typeof images,
    fix: "reshape to NHWC, e.g. x.reshape([n, 28, 28, 1])",
  });
}

/** Maps any value range to bytes: [0,1] → ×255, [-1,1] → (x+1)·127.5, otherwise clamped to [0,255]. */
export function toBytes(data: ArrayLike<number>): Uint8Array {
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < data.length; i++) {
    if (data[i] < min) min = data[i];
    if (data[i] > max) max = data[i];
  }
  const f =
    max <= 1 && min >= 0
      ? (v: number) => v * 255
      : max <= 1 && min >= -1
        ? (v: number) => (v + 1) * 127.5
        : (v: number) => v;
  const out = new Uint8Array(data.length);
  for (let i = 0; i < data.length; i++) out[i] = Math.max(0, Math.min(255, Math.round(f(data[i]))));
  return out;
}

const esc = (s: string): string =>
  s.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c] ?? c);

/** Renders the grid to PNG bytes and returns the layout used. */
export async function renderImageGrid(
  images: GridImage[],
  o: ImageGridOptions = {},
): Promise<{ png: Buffer; wrong: number; shown: number }> {
  const shown = images.slice(0, o.maxImages ?? 64);
  if (shown.length === 0)
    throw new ShapeError("imageGrid() got no images", {
      where: "imageGrid(images)",
      expected: "≥ 1 image",
      got: "0",
      fix: "pass a non-empty batch",
    });
  const h = Math.max(...shown.map((im) => im.height));
  const w = Math.max(...shown.map((im) => im.width));
  const scale = o.scale ?? Math.max(1, Math.ceil(84 / Math.max(h, w)));
  const cols = Math.min(o.columns ?? 8, shown.length);
  const rows = Math.ceil(shown.length / cols);
  const pad = 3;
  const both = o.labels !== undefined && o.predictions !== undefined;
  const cap = both ? 28 : o.labels || o.predictions ? 15 : 0;
  const tw = w * scale + 2 * pad;
  const th = h * scale + 2 * pad + cap;
  const W = cols * tw;
  const H = rows * th;
  const rgb = new Uint8Array(W * H * 3).fill(255);
  const name = (k: number): string => o.classNames?.[k] ?? String(k);
  const svg: string[] = [];
  let wrong = 0;
  shown.forEach((im, i) => {
    const x0 = (i % cols) * tw;
    const y0 = Math.floor(i / cols) * th;
    const label = o.labels?.[i];
    const pred = o.predictions?.[i];
    const bad = label !== undefined && pred !== undefined && label !== pred;
    if (bad) wrong++;
    const frame = label === undefined || pred === undefined ? [200, 200, 200] : bad ? [220, 30, 30] : [40, 170, 70];
    for (let y = 0; y < h * scale + 2 * pad; y++) {
      for (let x = 0; x < tw; x++) {
        const inner = y >= pad && y < pad + im.height * scale && x >= pad && x < pad + im.width * scale;
        const o3 = ((y0 + y) * W + x0 + x) * 3;
        if (!inner) {
          rgb.set(frame, o3);
          continue;
        }
        const sy = Math.floor((y - pad) / scale);
        const sx = Math.floor((x - pad) / scale);
        const s = (sy * im.width + sx) * im.channels;
        const bytes =
          (im as GridImage & { bytes?: Uint8Array }).bytes ??
          ((im as GridImage & { bytes?: Uint8Array }).bytes = toBytes(im.data));
        rgb[o3] = bytes[s];
        rgb[o3 + 1] = bytes[im.channels === 3 ? s + 1 : s];
        rgb[o3 + 2] = bytes[im.channels === 3 ? s + 2 : s];
      }
    }
    if (cap > 0) {
      // Two short lines (true, then predicted), cut to the tile width so neighbouring captions never overlap.
      const fit = (t: string): string =>
        t.length * 6.2 > tw - 4 ? `${t.slice(0, Math.max(1, Math.floor((tw - 4) / 6.2) - 1))}…` : t;
      const lines = both
        ? [fit(name(label as number)), fit(`→ ${name(pred as number)}`)]
        : [fit(name((label ?? pred) as number))];
      lines.forEach((t, k) => {
        const y = y0 + h * scale + 2 * pad + 11 + 13 * k;
        svg.push(
          `<text x="${x0 + tw / 2}" y="${y}" font-size="11" font-family="sans-serif" text-anchor="middle" fill="${bad && k === 1 ? "#c00" : "#222"}">${esc(t)}</text>`,
        );
      });
    }
  });
  let img = sharp(Buffer.from(rgb), { raw: { width: W, height: H, channels: 3 } });
  if (svg.length > 0) {
    const overlay = Buffer.from(
      `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}">${svg.join("")}</svg>`,
    );
    // Captions need a font; where librsvg has none the grid is still useful, so fall back to no captions.
    try {
      return {
        png: await img
          .composite([{ input: overlay, top: 0, left: 0 }])
          .png()
          .toBuffer(),
        wrong,
        shown: shown.length,
      };
    } catch {
      img = sharp(Buffer.from(rgb), { raw: { width: W, height: H, channels: 3 } });
    }
  }
  return { png: await img.png().toBuffer(), wrong, shown: shown.length };
}

/** Encodes a grid and returns it as a displayable (await it: PNG encoding is asynchronous). */
export async function imageGrid(
  images: unknown,
  options: ImageGridOptions = {},
): Promise<Displayable & { png: Buffer }> {
  const list = toGridImages(images);
  const { png, wrong, shown } = await renderImageGrid(list, options);
  const b64 = png.toString("base64");
  const marked = options.labels && options.predictions ? `, ${wrong} misclassified (red)` : "";
  const text = `<image grid: ${shown} of ${list.length} images${marked}>`;
  const bundle: MimeBundle = {
    "image/png": b64,
    "text/html": `<figure class="peftlab-grid">${options.title ? `<figcaption><b>${esc(options.title)}</b></figcaption>` : ""}<img src="data:image/png;base64,${b64}"/><figcaption><small>${esc(text)}</small></figcaption></figure>`,
    "text/plain": text,
  };
  return { png, [JUPYTER_DISPLAY]: () => bundle };
}
