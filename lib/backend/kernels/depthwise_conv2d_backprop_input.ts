/**
 * `DepthwiseConv2dNativeBackpropInput` for wasm (missing from tfjs-backend-wasm) and cpu (tfjs's ignores
 * dilations and reads every element through TensorBuffer.get):
 * dx[n,ih,iw,c] = Σ_{kh,kw,m} dy[n,oh,ow,c·M+m] · W[kh,kw,c,m] where ih = oh·sh − pt + kh·dh.
 */
import * as tf from "@tensorflow/tfjs";
import { type ConvAttrs, convGeom } from "./conv_util";
import { asCpu, valuesOf } from "./cpu_data";
import { depthwiseInputGrad } from "./depthwise_loops";
import { geomArgs, simdKernels } from "../wasm/loader";
import { asWasm, heap, offsetOf } from "./wasm_gemm";

const NAME = "DepthwiseConv2dNativeBackpropInput";

interface Args {
  inputs: { dy: tf.TensorInfo; filter: tf.TensorInfo };
  backend: unknown;
  attrs: ConvAttrs & { inputShape: [number, number, number, number] };
}

function onWasm(args: Args): tf.TensorInfo {
  const wb = asWasm(args.backend, NAME);
  const { dy, filter } = args.inputs;
  const g = convGeom(NAME, args.attrs.inputShape, filter.shape, args.attrs, true);
  const out = wb.makeOutput([g.n, g.inH, g.inW, g.inC], "float32"); // [N, H, W, C]
  if (filter.shape[3] === 1) {
    // SIMD kernel in place on tfjs's heap (~50× the JS loop); it zeroes dx itself.
    simdKernels(wb, NAME).dw_input_grad(offsetOf(wb, out), offsetOf(wb, dy), offsetOf(wb, filter), ...geomArgs(g));
    return out;
  }
  const h = heap(wb);
  const dx = { a: h, at: offsetOf(wb, out) >>> 2 };
  h.fill(0, dx.at, dx.at + g.n * g.inH * g.inW * g.inC);
  depthwiseInputGrad(
    dx,
    { a: h, at: offsetOf(wb, dy) >>> 2 },
    { a: h, at: offsetOf(wb, filter) >>> 2 },
    g,
    filter.shape[3],
  );
  return out;
}

function onCpu(args: Args): tf.TensorInfo {
  const cb = asCpu(args.backend, NAME);
  const { dy, filter } = args.inputs;
  const g = convGeom(NAME, args.attrs.inputShape, filter.shape, args.attrs, true);
  const dx = new Float32Array(g.n * g.inH * g.inW * g.inC); // [N, H, W, C]
  depthwiseInputGrad(
    { a: dx, at: 0 },
    { a: valuesOf(cb, dy), at: 0 },
    { a: valuesOf(cb, filter), at: 0 },
    g,
    filter.shape[3],
  );
  return cb.makeTensorInfo([g.n, g.inH, g.inW, g.inC], "float32", dx);
}

/** KernelConfig adding DepthwiseConv2dNativeBackpropInput to the wasm backend. */
export const depthwiseConv2dNativeBackpropInputConfig: tf.KernelConfig = {
  kernelName: NAME,
  backendName: "wasm",
  kernelFunc: onWasm as unknown as tf.KernelFunc,
};

/** KernelConfig replacing tfjs-backend-cpu's DepthwiseConv2dNativeBackpropInput. */
export const depthwiseConv2dNativeBackpropInputCpuConfig: tf.KernelConfig = {
  kernelName: NAME,
  backendName: "cpu",
  kernelFunc: onCpu as unknown as tf.KernelFunc,
};
