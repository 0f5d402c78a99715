/**
 * Image decoding with sharp (JPEG, PNG, TIFF, WebP), bmp-js (BMP) and dicom-parser (DICOM), to 3-channel uint8 RGB.
 * Also the "base" step the loader caches: resize the shorter side (bicubic) and optionally centre-crop, and patch
 * extraction from large TIFFs without decoding the whole file.
 *
 * Rounding follows torchvision: Resize(s) makes the shorter side s and the longer int(s·long/short) (truncated);
 * CenterCrop offsets are round((H−h)/2), round((W−w)/2) with Python's half-to-even round.
 */
import * as fs from "node:fs";
import sharp from "sharp";
import { DataError } from "../errors";
import { checkRegularFile } from "../io/file_read";
import { decodeDicom } from "./decode_dicom";
import { roundHalfEven } from "./rng";
import type { CellRegion, ImageItem, PixelBuffer } from "./types";

// bmp-js ships no types; its decode returns ABGR bytes.
const bmp = require("bmp-js") as { decode(b: Buffer): { data: Buffer; width: number; height: number } };

/** Row-major HWC uint8 RGB. */
export interface RgbImage {
  data: Uint8Array;
  width: number;
  height: number;
}

/** What the cached base image is: shorter side resized to `shorter` (when set), then centre-cropped to `crop`. */
export interface BaseSpec {
  shorter?: number;
  crop?: number;
}

/** torchvision Resize(int) output size for an (w, h) input: shorter side = s, longer side truncated. */
export function resizeShorterSize(w: number, h: number, s: number): { width: number; height: number } {
  if (w <= h) return { width: s, height: Math.floor((s * h) / w) };
  return { width: Math.floor((s * w) / h), height: s };
}

/** torchvision CenterCrop offsets (half-to-even rounding). */
export function centreCropBox(w: number, h: number, cw: number, ch: number): { left: number; top: number } {
  return { left: roundHalfEven((w - cw) / 2), top: roundHalfEven((h - ch) / 2) };
}

/** Decodes an item (file, in-memory pixels or a region of a large image) to RGB, then applies the base spec. */
export async function decodeItem(
  item: ImageItem,
  spec: BaseSpec = {},
  regionOffset?: [number, number],
): Promise<RgbImage> {
  const where = item.path ?? `item ${item.id}`;
  try {
    const img = await toSharp(item, regionOffset);
    return await applyBase(img, spec, where);
  } catch (e) {
    if (e instanceof DataError) throw e;
    throw new DataError("Cannot decode image", {
      where,
      expected: "a readable JPEG, PNG, TIFF, WebP, BMP or DICOM image",
      got: String((e as Error)?.message ?? e).split("\n")[0],
      fix: "re-download or remove the file, or load with skipBad: true to skip it",
    });
  }
}

async function toSharp(item: ImageItem, regionOffset?: [number, number]): Promise<sharp.Sharp> {
  if (item.pixels) return rawSharp(item.pixels);
  if (item.path === undefined) throw new DataError("Item has neither path nor pixels", { where: `item ${item.id}` });
  if (item.region) return regionSharp(item.path, item.region, regionOffset ?? [0, 0]);
  const bytes = await readBytes(item.path);
  if (bytes.length >= 2 && bytes[0] === 0x42 && bytes[1] === 0x4d) return rawSharp(decodeBmp(bytes, item.path));
  if (isDicom(bytes, item.path)) return rawSharp(await decodeDicom(bytes, item.path));
  return sharp(bytes, { limitInputPixels: MAX_IMAGE_PIXELS });
}

/**
 * The most pixels a whole image may have (width × height, 16384²: 768 MiB as RGB). Checked from the header before
 * decoding: by sharp (limitInputPixels) for JPEG/PNG/TIFF/WebP, here for BMP and in decode_dicom for DICOM. Larger
 * slides are read as patches (`region` items), which decode only the tiles they need.
 */
export const MAX_IMAGE_PIXELS = 16384 * 16384;

/** A sharp pipeline over raw pixels. */
export function rawSharp(p: PixelBuffer): sharp.Sharp {
  return sharp(p.data, { raw: { width: p.width, height: p.height, channels: p.channels } });
}

async function readBytes(file: string): Promise<Buffer> {
  checkRegularFile(file, DataError, "image file"); // a FIFO would block the read; a directory would fail with EISDIR
  try {
    return await fs.promises.readFile(file);
  } catch (e) {
    throw new DataError("Cannot read image file", {
      where: file,
      expected: "a readable file",
      got: (e as Error).message,
      fix: "check the path, or load with skipBad: true",
    });
  }
}

function isDicom(b: Uint8Array, file: string): boolean {
  if (b.length > 132 && b[128] === 0x44 && b[129] === 0x49 && b[130] === 0x43 && b[131] === 0x4d) return true;
  return /\.dcm$/i.test(file);
}

/** BMP via bmp-js (ABGR) → RGB pixels. */
export function decodeBmp(bytes: Buffer, where = "<bmp>"): PixelBuffer {
  checkBmpHeader(bytes, where);
  const d = bmp.decode(bytes);
  const n = d.width * d.height;
  const out = new Uint8Array(n * 3);
  for (let i = 0; i < n; i++) {
    out[3 * i] = d.data[4 * i + 3];
    out[3 * i + 1] = d.data[4 * i + 2];
    out[3 * i + 2] = d.data[4 * i + 1];
  }
  return { data: out, width: d.width, height: d.height, channels: 3 };
}

/** Refuses a BMP whose header asks for more pixels than MAX_IMAGE_PIXELS or than its file holds (bmp-js trusts it). */
function checkBmpHeader(b: Buffer, where: string): void {
  const bad = (expected: string, got: string) =>
    new DataError("Cannot decode BMP image", { where, expected, got, fix: "re-download or re-create the image" });
  if (b.length < 30) throw bad("a BMP header of at least 30 bytes", `${b.length} bytes`);
  const w = b.readInt32LE(18);
  const h = Math.abs(b.readInt32LE(22));
  const bpp = b.readUInt16LE(28);
  const compression = b.length >= 34 ? b.readUInt32LE(30) : 0;
  if (w <= 0 || h <= 0 || w * h > MAX_IMAGE_PIXELS) {
    throw bad(`a width and height with at most ${MAX_IMAGE_PIXELS} pixels`, `${w} × ${h}`);
  }
  if (compression === 0 && bpp > 0) {
    const need = b.readUInt32LE(10) + Math.ceil((w * bpp) / 32) * 4 * h;
    if (need > b.length) throw bad(`${need} bytes for ${w} × ${h} at ${bpp} bits`, `${b.length} bytes`);
  }
}

async function applyBase(img: sharp.Sharp, spec: BaseSpec, where: string): Promise<RgbImage> {
  // Normalise to 8-bit 3-channel sRGB first so the resize sees what torchvision's PIL convert("RGB") would.
  const decoded = await img
    .removeAlpha()
    .toColourspace("srgb")
    .raw({ depth: "uchar" })
    .toBuffer({ resolveWithObject: true });
  const info = decoded.info;
  let data = decoded.data;
  let w = info.width;
  let h = info.height;
  if (info.channels !== 3)
    throw new DataError("Unexpected channel count after decode", { where, expected: "3", got: String(info.channels) });
  if (spec.shorter !== undefined && Math.min(w, h) !== spec.shorter) {
    const t = resizeShorterSize(w, h, spec.shorter);
    data = await sharp(data, { raw: { width: w, height: h, channels: 3 } })
      .resize(t.width, t.height, { kernel: "cubic", fit: "fill" })
      .raw()
      .toBuffer();
    w = t.width;
    h = t.height;
  }
  if (spec.crop !== undefined && (w !== spec.crop || h !== spec.crop)) {
    return centreCrop({ data, width: w, height: h }, spec.crop, spec.crop);
  }
  return { data: new Uint8Array(data.buffer, data.byteOffset, data.length), width: w, height: h };
}

/** torchvision CenterCrop on RGB pixels; pads with 0 where the crop is larger than the image (as torchvision does). */
export function centreCrop(img: RgbImage, cw: number, ch: number): RgbImage {
  const { left, top } = centreCropBox(img.width, img.height, cw, ch);
  const out = new Uint8Array(cw * ch * 3);
  for (let y = 0; y < ch; y++) {
    const sy = y + top;
    if (sy < 0 || sy >= img.height) continue;
    for (let x = 0; x < cw; x++) {
      const sx = x + left;
      if (sx < 0 || sx >= img.width) continue;
      const s = (sy * img.width + sx) * 3;
      const d = (y * cw + x) * 3;
      out[d] = img.data[s];
      out[d + 1] = img.data[s + 1];
      out[d + 2] = img.data[s + 2];
    }
  }
  return { data: out, width: cw, height: ch };
}

const metaCache = new Map<string, { width: number; height: number }>();

/** Image size from the header only (cached per path): big TIFFs are never decoded just to learn their size. */
export async function imageSize(file: string): Promise<{ width: number; height: number }> {
  const hit = metaCache.get(file);
  if (hit) return hit;
  const m = await sharp(file, { limitInputPixels: false }).metadata();
  const r = { width: m.width ?? 0, height: m.height ?? 0 };
  metaCache.set(file, r);
  return r;
}

/**
 * A `size`² patch centred on the region's (x, y) plus `offset` pixels, read with sharp's extract (libvips reads only
 * the tiles/strips it needs); parts outside the image are filled with 0.
 */
export async function regionSharp(file: string, r: CellRegion, offset: [number, number]): Promise<sharp.Sharp> {
  const { width: W, height: H } = await imageSize(file);
  const left = Math.round(r.x + offset[0] - r.size / 2);
  const top = Math.round(r.y + offset[1] - r.size / 2);
  const l0 = Math.max(0, left);
  const t0 = Math.max(0, top);
  const r0 = Math.min(W, left + r.size);
  const b0 = Math.min(H, top + r.size);
  if (r0 <= l0 || b0 <= t0) {
    throw new DataError("Patch lies outside the image", {
      where: `${file} @ (${r.x}, ${r.y})`,
      expected: `a centre inside ${W}×${H}`,
      got: `patch [${left}, ${top}, ${left + r.size}, ${top + r.size}]`,
      fix: "check the cell coordinates are level-0 pixels of this file",
    });
  }
  const patch = await sharp(file, { limitInputPixels: false })
    .extract({ left: l0, top: t0, width: r0 - l0, height: b0 - t0 })
    .removeAlpha()
    .toColourspace("srgb")
    .raw({ depth: "uchar" })
    .toBuffer({ resolveWithObject: true });
  const img = sharp(patch.data, {
    raw: { width: patch.info.width, height: patch.info.height, channels: patch.info.channels as 3 },
  });
  if (r0 - l0 === r.size && b0 - t0 === r.size) return img;
  return img.extend({
    left: l0 - left,
    top: t0 - top,
    right: left + r.size - r0,
    bottom: top + r.size - b0,
    background: { r: 0, g: 0, b: 0 },
  });
}
