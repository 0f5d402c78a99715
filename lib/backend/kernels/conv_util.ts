/**
 * Shared pieces of peftlab's wasm convolution-gradient kernels (not a kernel itself): geometry from tfjs's
 * computeConv2DInfo, NHWC-only checks, and im2col / col2im on the wasm heap.
 */
import * as tf from "@tensorflow/tfjs";
import { BackendError } from "../../errors";

/** The geometry of one NHWC conv, in the names tfjs's Conv2DInfo uses. */
export interface ConvGeom {
  n: number;
  inH: number;
  inW: number;
  inC: number;
  outH: number;
  outW: number;
  fh: number;
  fw: number;
  sh: number;
  sw: number;
  dh: number;
  dw: number;
  padTop: number;
  padLeft: number;
}

/** Conv attributes as the Conv2DBackprop* and DepthwiseConv2dNativeBackprop* kernels receive them. */
export interface ConvAttrs {
  strides: number | [number, number];
  pad: "valid" | "same" | number | tf.backend_util.ExplicitPadding;
  dilations?: number | [number, number];
  dataFormat?: "NHWC" | "NCHW";
  dimRoundingMode?: "floor" | "round" | "ceil";
}

/** Conv geometry from tfjs's own shape rules, so padding and rounding match the forward op exactly. */
export function convGeom(
  kernel: string,
  xShape: number[],
  filterShape: number[],
  attrs: ConvAttrs,
  depthwise: boolean,
): ConvGeom {
  if ((attrs.dataFormat ?? "NHWC") !== "NHWC") {
    throw new BackendError(`${kernel} on wasm supports NHWC only`, {
      where: kernel,
      expected: "dataFormat NHWC",
      got: String(attrs.dataFormat),
      fix: "transpose the input to NHWC (tfjs's wasm Conv2D forward is NHWC-only too)",
    });
  }
  const info = tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    attrs.strides,
    attrs.dilations ?? 1,
    attrs.pad,
    attrs.dimRoundingMode,
    depthwise,
    "channelsLast",
  );
  return {
    n: info.batchSize,
    inH: info.inHeight,
    inW: info.inWidth,
    inC: info.inChannels,
    outH: info.outHeight,
    outW: info.outWidth,
    fh: info.filterHeight,
    fw: info.filterWidth,
    sh: info.strideHeight,
    sw: info.strideWidth,
    dh: info.dilationHeight,
    dw: info.dilationWidth,
    padTop: info.padInfo.top,
    padLeft: info.padInfo.left,
  };
}

/** True when im2col is the identity: 1×1 filter, stride 1, no padding (a pointwise conv is a plain matmul). */
export function isPointwise(g: ConvGeom): boolean {
  return g.fh === 1 && g.fw === 1 && g.sh === 1 && g.sw === 1 && g.padTop === 0 && g.padLeft === 0;
}

/** Images per chunk so one chunk's im2col stays near `maxFloats` floats (at least one image). */
export function imagesPerChunk(g: ConvGeom, maxFloats = 1 << 22): number {
  const rowsPerImage = g.outH * g.outW;
  const perImage = rowsPerImage * g.fh * g.fw * g.inC;
  return Math.max(1, Math.min(g.n, Math.floor(maxFloats / perImage)));
}

/**
 * cols[r − r0, (kh·fw + kw)·C + c] = x[img, oh·sh − padTop + kh·dh, ow·sw − padLeft + kw·dw, c] (0 outside) for
 * output rows r = (img, oh, ow) in [r0, r1). Offsets are float indices into `h`.
 */
export function im2col(h: Float32Array, g: ConvGeom, xAt: number, colsAt: number, r0: number, r1: number): void {
  const c = g.inC;
  let dst = colsAt;
  forRows(g, r0, r1, (img, oh, ow) => {
    const xImg = xAt + img * g.inH * g.inW * c;
    for (let kh = 0; kh < g.fh; kh++) {
      const ih = oh * g.sh - g.padTop + kh * g.dh;
      if (ih < 0 || ih >= g.inH) {
        h.fill(0, dst, dst + g.fw * c);
        dst += g.fw * c;
        continue;
      }
      for (let kw = 0; kw < g.fw; kw++) {
        const iw = ow * g.sw - g.padLeft + kw * g.dw;
        if (iw < 0 || iw >= g.inW) h.fill(0, dst, dst + c);
        else copyRun(h, xImg + (ih * g.inW + iw) * c, dst, c);
        dst += c;
      }
    }
  });
}

/** The adjoint of im2col for rows [r0, r1): dx[img, ih, iw, c] += cols[…]; dx must be zeroed first. */
export function col2imAdd(h: Float32Array, g: ConvGeom, colsAt: number, dxAt: number, r0: number, r1: number): void {
  const c = g.inC;
  let src = colsAt;
  forRows(g, r0, r1, (img, oh, ow) => {
    const dxImg = dxAt + img * g.inH * g.inW * c;
    for (let kh = 0; kh < g.fh; kh++) {
      const ih = oh * g.sh - g.padTop + kh * g.dh;
      if (ih < 0 || ih >= g.inH) {
        src += g.fw * c;
        continue;
      }
      for (let kw = 0; kw < g.fw; kw++) {
        const iw = ow * g.sw - g.padLeft + kw * g.dw;
        if (iw >= 0 && iw < g.inW) {
          const d = dxImg + (ih * g.inW + iw) * c;
          for (let i = 0; i < c; i++) h[d + i] += h[src + i];
        }
        src += c;
      }
    }
  });
}

/** Calls fn(img, oh, ow) for each flat output row r = (img·outH + oh)·outW + ow in [r0, r1), in order. */
function forRows(g: ConvGeom, r0: number, r1: number, fn: (img: number, oh: number, ow: number) => void): void {
  const perImage = g.outH * g.outW;
  let img = Math.floor(r0 / perImage);
  let oh = Math.floor((r0 % perImage) / g.outW);
  let ow = r0 % g.outW;
  for (let r = r0; r < r1; r++) {
    fn(img, oh, ow);
    if (++ow === g.outW) {
      ow = 0;
      if (++oh === g.outH) {
        oh = 0;
        img++;
      }
    }
  }
}

function copyRun(h: Float32Array, from: number, to: number, len: number): void {
  if (len >= 32) {
    h.copyWithin(to, from, from + len);
    return;
  }
  for (let i = 0; i < len; i++) h[to + i] = h[from + i];
}
