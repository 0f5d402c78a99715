/**
 * wasm `Conv2DBackpropInput` (tfjs's is a direct scalar loop): dx = col2im(dy[P, CO] · Wᵀ[CO, KH·KW·CI]) with
 * XNNPACK's GEMM; a pointwise conv is the single GEMM dx = dy · Wᵀ written straight into the output.
 */
import * as tf from "@tensorflow/tfjs";
import { type ConvAttrs, col2imAdd, convGeom, imagesPerChunk, isPointwise } from "./conv_util";
import { asWasm, gemm, heap, idOf, mallocF32, offsetOf, transposeInner, whole } from "./wasm_gemm";

interface Args {
  inputs: { dy: tf.TensorInfo; filter: tf.TensorInfo };
  backend: unknown;
  attrs: ConvAttrs & { inputShape: [number, number, number, number] };
}

function conv2DBackpropInput(args: Args): tf.TensorInfo {
  const wb = asWasm(args.backend, "Conv2DBackpropInput");
  const { dy, filter } = args.inputs;
  const g = convGeom(
    "Conv2DBackpropInput",
    args.attrs.inputShape,
    filter.shape,
    { ...args.attrs, dilations: 1 },
    false,
  );
  const co = filter.shape[3];
  const kkc = g.fh * g.fw * g.inC;
  const rowsPerImage = g.outH * g.outW;
  const out = wb.makeOutput([g.n, g.inH, g.inW, g.inC], "float32"); // [N, H, W, CI]
  const wT = mallocF32(wb, co * kkc); // [CO, KKC]
  let cols = 0;
  try {
    transposeInner(wb, { id: idOf(wb, filter) }, { offset: wT }, 1, kkc, co);
    if (isPointwise(g)) {
      gemm(wb, whole(wb, dy), { offset: wT }, whole(wb, out), g.n * rowsPerImage, co, kkc);
      return out;
    }
    const o = offsetOf(wb, out) >>> 2;
    heap(wb).fill(0, o, o + g.n * g.inH * g.inW * g.inC);
    const per = imagesPerChunk(g);
    cols = mallocF32(wb, per * rowsPerImage * kkc); // [Pc, KKC]
    for (let img0 = 0; img0 < g.n; img0 += per) {
      const count = Math.min(per, g.n - img0);
      const dyAt = offsetOf(wb, dy) + img0 * rowsPerImage * co * 4;
      gemm(wb, { offset: dyAt }, { offset: wT }, { offset: cols }, count * rowsPerImage, co, kkc);
      col2imAdd(heap(wb), g, cols >>> 2, offsetOf(wb, out) >>> 2, img0 * rowsPerImage, (img0 + count) * rowsPerImage);
    }
  } finally {
    wb.wasm._free(wT);
    if (cols) wb.wasm._free(cols);
  }
  return out;
}

/** KernelConfig replacing tfjs-backend-wasm's Conv2DBackpropInput. */
export const conv2DBackpropInputConfig: tf.KernelConfig = {
  kernelName: tf.Conv2DBackpropInput,
  backendName: "wasm",
  kernelFunc: conv2DBackpropInput as unknown as tf.KernelFunc,
};
