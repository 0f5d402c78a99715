/**
 * DICOM → 8-bit grayscale, as MED-PEFT reads RSNA: scale by 255/max, invert MONOCHROME1. Uncompressed pixel data
 * (8/16 bit) is read directly; JPEG-baseline encapsulated frames are handed to sharp. Other codecs are an error.
 */
import * as dicomParser from "dicom-parser";
import sharp from "sharp";
import { DataError } from "../errors";
import type { PixelBuffer } from "./types";

const JPEG_SYNTAXES = new Set(["1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.4.51", "1.2.840.10008.1.2.4.70"]);

/** Decodes the first frame of a DICOM file's bytes to single-channel uint8 pixels. */
export async function decodeDicom(bytes: Uint8Array, file: string): Promise<PixelBuffer> {
  let ds: dicomParser.DataSet;
  try {
    ds = dicomParser.parseDicom(bytes);
  } catch (e) {
    throw bad(file, "a DICOM Part 10 file", String((e as Error)?.message ?? e));
  }
  const rows = ds.uint16("x00280010") ?? 0;
  const cols = ds.uint16("x00280011") ?? 0;
  const bits = ds.uint16("x00280100") ?? 8;
  const signed = (ds.uint16("x00280103") ?? 0) === 1;
  const spp = ds.uint16("x00280002") ?? 1;
  const photometric = (ds.string("x00280004") ?? "MONOCHROME2").trim();
  const syntax = (ds.string("x00020010") ?? "").trim();
  const px = ds.elements.x7fe00010;
  if (!px || rows === 0 || cols === 0) throw bad(file, "pixel data with Rows and Columns", "none");
  if (spp !== 1) throw bad(file, "single-sample (grayscale) pixels", `SamplesPerPixel ${spp}`);
  if (!px.encapsulatedPixelData) {
    // Uncompressed: the pixel data element must hold every pixel (dicom-parser does not check its length field).
    const need = rows * cols * (bits === 16 ? 2 : 1);
    if (px.dataOffset + need > bytes.length || px.length < need) {
      throw bad(file, `${need} bytes of pixel data for ${rows} × ${cols} at ${bits} bits`, `${px.length} bytes`);
    }
  }
  let values: ArrayLike<number>;
  if (px.encapsulatedPixelData) {
    if (!JPEG_SYNTAXES.has(syntax))
      throw bad(file, "uncompressed or JPEG-baseline pixel data", `transfer syntax ${syntax}`);
    const frame = dicomParser.readEncapsulatedPixelDataFromFragments(ds, px, 0, px.fragments?.length);
    const { data } = await sharp(frame, { limitInputPixels: 16384 * 16384 })
      .toColourspace("b-w")
      .raw({ depth: "uchar" })
      .toBuffer({ resolveWithObject: true });
    values = data;
  } else {
    const off = px.dataOffset;
    const n = rows * cols;
    if (bits === 8) values = bytes.subarray(off, off + n);
    else if (bits === 16) {
      const buf = bytes.slice(off, off + 2 * n).buffer;
      values = signed ? new Int16Array(buf) : new Uint16Array(buf);
    } else throw bad(file, "8 or 16 bits allocated", String(bits));
  }
  return { data: scaleToUint8(values, photometric === "MONOCHROME1"), width: cols, height: rows, channels: 1 };
}

function scaleToUint8(v: ArrayLike<number>, invert: boolean): Uint8Array {
  let max = 0;
  for (let i = 0; i < v.length; i++) if (v[i] > max) max = v[i];
  const s = max > 0 ? 255 / max : 0;
  const out = new Uint8Array(v.length);
  for (let i = 0; i < v.length; i++) {
    // cv2.convertScaleAbs: |x·s| rounded and saturated.
    const y = Math.min(255, Math.round(Math.abs(v[i] * s)));
    out[i] = invert ? 255 - y : y;
  }
  return out;
}

function bad(file: string, expected: string, got: string): DataError {
  return new DataError("Cannot decode DICOM image", {
    where: file,
    expected,
    got,
    fix: "check the file is an intact DICOM image",
  });
}
