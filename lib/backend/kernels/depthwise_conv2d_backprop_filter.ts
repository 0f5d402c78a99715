/**
 * `DepthwiseConv2dNativeBackpropFilter` for wasm (missing from tfjs-backend-wasm) and cpu (tfjs's ignores
 * dilations and reads every element through TensorBuffer.get):
 * dW[kh,kw,c,m] = Σ_{n,oh,ow} x[n, oh·sh−pt+kh·dh, ow·sw−pl+kw·dw, c] · dy[n,oh,ow,c·M+m].
 */
import * as tf from "@tensorflow/tfjs";
import { type ConvAttrs, convGeom } from "./conv_util";
import { asCpu, valuesOf } from "./cpu_data";
import { depthwiseFilterGrad } from "./depthwise_loops";
import { geomArgs, simdKernels } from "../wasm/loader";
import { asWasm, heap, mallocF32, offsetOf } from "./wasm_gemm";

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
  if (fs[3] === 1) {
    // SIMD kernel in place on tfjs's heap (~50× the JS loop); float64 sums in a heap scratch.
    const out = wb.makeOutput([...fs], "float32"); // [KH, KW, C, 1]
    const len = fs[0] * fs[1] * fs[2];
    const acc = mallocF32(wb, 2 * len + 2); // float64 [KH·KW·C], 8-byte aligned below
    const at = Math.ceil(acc / 8) * 8; // not `& ~7`: heap offsets reach 4 GB, past int32
    try {
      wb.wasm.HEAPF64.fill(0, at >>> 3, (at >>> 3) + len);
      const k = simdKernels(wb, NAME);
      k.dw_filter_grad(offsetOf(wb, x), offsetOf(wb, dy), at, ...geomArgs(g));
      k.f64_to_f32(at, offsetOf(wb, out), len);
    } finally {
      wb.wasm._free(acc);
    }
    return out;
  }
  const h = heap(wb);
  const acc = depthwiseFilterGrad({ a: h, at: offsetOf(wb, x) >>> 2 }, { a: h, at: offsetOf(wb, dy) >>> 2 }, g, fs[3]);
  const out = wb.makeOutput([...fs], "float32");
  heap(wb).set(acc, offsetOf(wb, out) >>> 2);
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
