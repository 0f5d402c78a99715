/**
 * wasm `Conv2DBackpropFilter` (missing from tfjs-backend-wasm, so CNN fine-tuning failed on wasm):
 * dW[kh,kw,ci,co] = Σ_{n,oh,ow} x[n, oh·s+kh−p, ow·s+kw−p, ci] · dy[n,oh,ow,co], as im2col + GEMM.
 *
 * The reduction runs over R = N·OH·OW rows, in the hundreds of thousands. Rows go in chunks of ROWS_PER_GEMM,
 * each one GEMM colsᵀ[KKC, Rc] · dy[Rc, CO] (peftlab's sgemm reads colsᵀ through strides), with the [KKC, CO]
 * partials summed in float64 so the long reduction keeps its precision. A pointwise conv needs no im2col
 * (cols = x).
 */
import * as tf from "@tensorflow/tfjs";
import { type ConvAttrs, convGeom, im2col, isPointwise } from "./conv_util";
import { asWasm, heap, mallocF32, offsetOf, rowMajor, sgemm, transposedOf } from "./wasm_gemm";

/** Rows per GEMM: 256–1024 measured best, 4096 and 128 about 2× slower (scripts/bench-kernels.ts, --only Conv2DBackpropFilter). */
const ROWS_PER_GEMM = 512;

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
  const rows = g.n * g.outH * g.outW;
  const out = wb.makeOutput([g.fh, g.fw, g.inC, co], "float32"); // [KH, KW, CI, CO]
  const pointwise = isPointwise(g);
  const chunk = Math.min(rows, ROWS_PER_GEMM);
  const acc = new Float64Array(kkc * co); // [KKC, CO]
  const cols = pointwise ? 0 : mallocF32(wb, chunk * kkc); // [Rc, KKC]
  const part = mallocF32(wb, kkc * co);
  try {
    for (let r0 = 0; r0 < rows; r0 += chunk) {
      const rc = Math.min(chunk, rows - r0);
      let colsAt = offsetOf(wb, x) + r0 * kkc * 4; // [Rc, KKC]
      if (!pointwise) {
        im2col(heap(wb), g, offsetOf(wb, x) >>> 2, cols >>> 2, r0, r0 + rc);
        colsAt = cols;
      }
      const dyAt = offsetOf(wb, dy) + r0 * co * 4; // [Rc, CO]
      sgemm(wb, transposedOf(colsAt, kkc), rowMajor(dyAt, co), part, kkc, rc, co); // [KKC, CO]
      const h = heap(wb);
      const p = part >>> 2;
      for (let i = 0; i < acc.length; i++) acc[i] += h[p + i];
    }
    heap(wb).set(acc, offsetOf(wb, out) >>> 2);
  } finally {
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
