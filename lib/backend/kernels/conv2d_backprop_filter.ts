/**
 * wasm `Conv2DBackpropFilter` (missing from tfjs-backend-wasm, so CNN fine-tuning failed on wasm):
 * dW[kh,kw,ci,co] = Σ_{n,oh,ow} x[n, oh·s+kh−p, ow·s+kw−p, ci] · dy[n,oh,ow,co], as im2col + XNNPACK GEMM.
 *
 * Per chunk of images: dyᵀ[CO, P] · cols[P, KH·KW·CI] (dy is transposed, not cols, since it is the smaller one
 * for 3×3 filters); a pointwise conv needs no im2col at all (cols is x itself). Partial sums accumulate in
 * float64 so a long reduction over N·OH·OW stays accurate.
 */
import * as tf from "@tensorflow/tfjs";
import { type ConvAttrs, convGeom, im2col, imagesPerChunk, isPointwise } from "./conv_util";
import { asWasm, gemm, heap, mallocF32, offsetOf, transposeInner } from "./wasm_gemm";

interface Args {
  inputs: { x: tf.TensorInfo; dy: tf.TensorInfo };
  backend: unknown;
  attrs: ConvAttrs & { filterShape: [number, number, number, number] };
}

function conv2DBackpropFilter(args: Args): tf.TensorInfo {
  const wb = asWasm(args.backend, "Conv2DBackpropFilter");
  const { x, dy } = args.inputs;
  const g = convGeom("Conv2DBackpropFilter", x.shape, args.attrs.filterShape, { ...args.attrs, dilations: 1 }, false);
  const co = dy.shape[3];
  const kkc = g.fh * g.fw * g.inC;
  const rowsPerImage = g.outH * g.outW;
  const out = wb.makeOutput([g.fh, g.fw, g.inC, co], "float32"); // [KH, KW, CI, CO]
  const acc = new Float64Array(co * kkc); // [CO, KKC]
  const pointwise = isPointwise(g);
  const per = imagesPerChunk(g);
  const maxRows = per * rowsPerImage;
  const dyT = mallocF32(wb, co * maxRows); // [CO, Pc]
  const cols = pointwise ? 0 : mallocF32(wb, maxRows * kkc); // [Pc, KKC]
  const part = mallocF32(wb, co * kkc); // [CO, KKC]
  try {
    for (let img0 = 0; img0 < g.n; img0 += per) {
      const count = Math.min(per, g.n - img0);
      const rows = count * rowsPerImage;
      const dyAt = offsetOf(wb, dy) + img0 * rowsPerImage * co * 4;
      transposeInner(wb, { offset: dyAt }, { offset: dyT }, 1, rows, co);
      let colsAt = offsetOf(wb, x) + img0 * rowsPerImage * kkc * 4;
      if (!pointwise) {
        im2col(heap(wb), g, offsetOf(wb, x) >> 2, cols >> 2, img0, count);
        colsAt = cols;
      }
      gemm(wb, { offset: dyT }, { offset: colsAt }, { offset: part }, co, rows, kkc);
      const h = heap(wb);
      const p = part >> 2;
      for (let i = 0; i < acc.length; i++) acc[i] += h[p + i];
    }
    // [CO, KKC] → [KKC, CO] = [KH, KW, CI, CO]
    const h = heap(wb);
    const o = offsetOf(wb, out) >> 2;
    for (let c = 0; c < co; c++) for (let j = 0; j < kkc; j++) h[o + j * co + c] = acc[c * kkc + j];
  } finally {
    wb.wasm._free(dyT);
    if (cols) wb.wasm._free(cols);
    wb.wasm._free(part);
  }
  return out;
}

/** KernelConfig adding Conv2DBackpropFilter to the wasm backend. */
export const conv2DBackpropFilterConfig: tf.KernelConfig = {
  kernelName: tf.Conv2DBackpropFilter,
  backendName: "wasm",
  kernelFunc: conv2DBackpropFilter as unknown as tf.KernelFunc,
};
