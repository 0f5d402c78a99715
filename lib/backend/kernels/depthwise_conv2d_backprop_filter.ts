/**
 * `DepthwiseConv2dNativeBackpropFilter` for wasm (missing from tfjs-backend-wasm) and cpu (tfjs's ignores
 * dilations and reads every element through TensorBuffer.get):
 * dW[kh,kw,c,m] = Σ_{n,oh,ow} x[n, oh·sh−pt+kh·dh, ow·sw−pl+kw·dw, c] · dy[n,oh,ow,c·M+m].
 */
import * as tf from "@tensorflow/tfjs";
import { type ConvAttrs, convGeom } from "./conv_util";
import { asCpu, valuesOf } from "./cpu_data";
import { depthwiseFilterGrad } from "./depthwise_loops";
import { asWasm, heap, offsetOf } from "./wasm_gemm";

const NAME = "DepthwiseConv2dNativeBackpropFilter";

interface Args {
  inputs: { x: tf.TensorInfo; dy: tf.TensorInfo };
  backend: unknown;
  attrs: ConvAttrs & { filterShape: [number, number, number, number] };
}

function onWasm(args: Args): tf.TensorInfo {
  const wb = asWasm(args.backend, NAME);
  const { x, dy } = args.inputs;
  const fs = args.attrs.filterShape; // [KH, KW, C, M]
  const g = convGeom(NAME, x.shape, fs, args.attrs, true);
  const h = heap(wb);
  const acc = depthwiseFilterGrad({ a: h, at: offsetOf(wb, x) >> 2 }, { a: h, at: offsetOf(wb, dy) >> 2 }, g, fs[3]);
  const out = wb.makeOutput([...fs], "float32");
  heap(wb).set(acc, offsetOf(wb, out) >> 2);
  return out;
}

function onCpu(args: Args): tf.TensorInfo {
  const cb = asCpu(args.backend, NAME);
  const { x, dy } = args.inputs;
  const fs = args.attrs.filterShape;
  const g = convGeom(NAME, x.shape, fs, args.attrs, true);
  const acc = depthwiseFilterGrad({ a: valuesOf(cb, x), at: 0 }, { a: valuesOf(cb, dy), at: 0 }, g, fs[3]);
  return cb.makeTensorInfo([...fs], "float32", Float32Array.from(acc));
}

/** KernelConfig adding DepthwiseConv2dNativeBackpropFilter to the wasm backend. */
export const depthwiseConv2dNativeBackpropFilterConfig: tf.KernelConfig = {
  kernelName: NAME,
  backendName: "wasm",
  kernelFunc: onWasm as unknown as tf.KernelFunc,
};

/** KernelConfig replacing tfjs-backend-cpu's DepthwiseConv2dNativeBackpropFilter. */
export const depthwiseConv2dNativeBackpropFilterCpuConfig: tf.KernelConfig = {
  kernelName: NAME,
  backendName: "cpu",
  kernelFunc: onCpu as unknown as tf.KernelFunc,
};
