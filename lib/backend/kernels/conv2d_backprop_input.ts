/**
 * wasm `Conv2DBackpropInput` (tfjs's is a direct scalar loop): dx = col2im(dy[P, CO] · Wᵀ[CO, KH·KW·CI]) with
 * peftlab's GEMM, which reads Wᵀ through strides; a pointwise conv is the single GEMM dx = dy · Wᵀ written
 * straight into the output.
 */
import * as tf from "@tensorflow/tfjs";
import { type ConvAttrs, col2imAdd, convGeom, imagesPerChunk, isPointwise } from "./conv_util";
import { asWasm, heap, mallocF32, offsetOf, rowMajor, sgemm, transposedOf } from "./wasm_gemm";

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
  const wT = transposedOf(offsetOf(wb, filter), co); // Wᵀ [CO, KKC] over the filter [KKC, CO]
  if (isPointwise(g)) {
    sgemm(wb, rowMajor(offsetOf(wb, dy), co), wT, offsetOf(wb, out), g.n * rowsPerImage, co, kkc);
    return out;
  }
  const o = offsetOf(wb, out) >>> 2;
  heap(wb).fill(0, o, o + g.n * g.inH * g.inW * g.inC);
  const per = imagesPerChunk(g);
  const cols = mallocF32(wb, per * rowsPerImage * kkc); // [Pc, KKC]
  try {
    for (let img0 = 0; img0 < g.n; img0 += per) {
      const count = Math.min(per, g.n - img0);
      const dyAt = offsetOf(wb, dy) + img0 * rowsPerImage * co * 4;
      sgemm(wb, rowMajor(dyAt, co), wT, cols, count * rowsPerImage, co, kkc);
      col2imAdd(heap(wb), g, cols >>> 2, offsetOf(wb, out) >>> 2, img0 * rowsPerImage, (img0 + count) * rowsPerImage);
    }
  } finally {
    wb.wasm._free(cols);
  }
  return out;
}

/** KernelConfig replacing tfjs-backend-wasm's Conv2DBackpropInput. */
export const conv2DBackpropInputConfig: tf.KernelConfig = {
  kernelName: tf.Conv2DBackpropInput,
  backendName: "wasm",
  kernelFunc: conv2DBackpropInput as unknown as tf.KernelFunc,
};
