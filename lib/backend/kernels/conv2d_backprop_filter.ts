/**
 * wasm `Conv2DBackpropFilter` (missing from tfjs-backend-wasm, so CNN fine-tuning failed on wasm):
 * dW[kh,kw,ci,co] = Σ_{n,oh,ow} x[n, oh·s+kh−p, ow·s+kw−p, ci] · dy[n,oh,ow,co], as im2col + XNNPACK GEMM.
 *
 * The reduction runs over R = N·OH·OW rows, which XNNPACK's GEMM does not block: with K = R in the hundreds of
 * thousands every tile streams from memory (measured ~1 GFLOP/s). So rows go in chunks of ROWS_PER_GEMM, each
 * one GEMM whose operands stay in cache, with the [KKC, CO] partials summed in float64. Per chunk the smaller
 * of cols[R, KKC] and dy[R, CO] is transposed to be the GEMM's A; a pointwise conv needs no im2col (cols = x).
 */
import * as tf from "@tensorflow/tfjs";
import { type ConvAttrs, convGeom, im2col, isPointwise } from "./conv_util";
import { simdKernels } from "./native_simd";
import { asWasm, heap, mallocF32, offsetOf, transposeInner } from "./wasm_gemm";

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
  const colsIsA = kkc <= co; // transpose the smaller operand
  const chunk = Math.min(rows, ROWS_PER_GEMM);
  const acc = new Float64Array(kkc * co); // [KKC, CO] if colsIsA, else [CO, KKC]
  const cols = pointwise ? 0 : mallocF32(wb, chunk * kkc); // [Rc, KKC]
  const tA = mallocF32(wb, chunk * Math.min(kkc, co)); // transposed A: [KKC, Rc] or [CO, Rc]
  const part = mallocF32(wb, kkc * co);
  // peftlab's SIMD GEMM, not XNNPACK: each chunk's GEMM would otherwise create an operator and pack B (~0.3 ms).
  const { gemm_nn } = simdKernels(wb, "Conv2DBackpropFilter");
  try {
    for (let r0 = 0; r0 < rows; r0 += chunk) {
      const rc = Math.min(chunk, rows - r0);
      let colsAt = offsetOf(wb, x) + r0 * kkc * 4; // [Rc, KKC]
      if (!pointwise) {
        im2col(heap(wb), g, offsetOf(wb, x) >>> 2, cols >>> 2, r0, r0 + rc);
        colsAt = cols;
      }
      const dyAt = offsetOf(wb, dy) + r0 * co * 4; // [Rc, CO]
      if (colsIsA) {
        transposeInner(wb, { offset: colsAt }, { offset: tA }, 1, rc, kkc); // [KKC, Rc]
        gemm_nn(tA, dyAt, part, kkc, rc, co); // [KKC, CO]
      } else {
        transposeInner(wb, { offset: dyAt }, { offset: tA }, 1, rc, co); // [CO, Rc]
        gemm_nn(tA, colsAt, part, co, rc, kkc); // [CO, KKC]
      }
      const h = heap(wb);
      const p = part >>> 2;
      for (let i = 0; i < acc.length; i++) acc[i] += h[p + i];
    }
    const h = heap(wb);
    const o = offsetOf(wb, out) >>> 2;
    if (colsIsA) h.set(acc, o);
    else for (let c = 0; c < co; c++) for (let j = 0; j < kkc; j++) h[o + j * co + c] = acc[c * kkc + j];
  } finally {
    if (cols) wb.wasm._free(cols);
    wb.wasm._free(tA);
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
