/**
 * wasm `DepthwiseConv2dNativeBackpropFilter` (missing from tfjs-backend-wasm):
 * dW[kh,kw,c,m] = Σ_{n,oh,ow} x[n, oh·sh−pt+kh·dh, ow·sw−pl+kw·dw, c] · dy[n,oh,ow,c·M+m].
 * A tight loop over contiguous channels on the wasm heap; sums in float64 (the reduction spans N·OH·OW terms).
 */
import * as tf from "@tensorflow/tfjs";
import { type ConvAttrs, convGeom } from "./conv_util";
import { asWasm, heap, offsetOf } from "./wasm_gemm";

interface Args {
  inputs: { x: tf.TensorInfo; dy: tf.TensorInfo };
  backend: unknown;
  attrs: ConvAttrs & { filterShape: [number, number, number, number] };
}

function depthwiseBackpropFilter(args: Args): tf.TensorInfo {
  const wb = asWasm(args.backend, "DepthwiseConv2dNativeBackpropFilter");
  const { x, dy } = args.inputs;
  const fs = args.attrs.filterShape; // [KH, KW, C, M]
  const g = convGeom("DepthwiseConv2dNativeBackpropFilter", x.shape, fs, args.attrs, true);
  const c = g.inC;
  const mul = fs[3];
  const cm = c * mul;
  const acc = new Float64Array(g.fh * g.fw * cm); // [KH, KW, C·M]
  const h = heap(wb);
  const xAt = offsetOf(wb, x) >> 2;
  const dyAt = offsetOf(wb, dy) >> 2;
  for (let n = 0; n < g.n; n++) {
    for (let oh = 0; oh < g.outH; oh++) {
      for (let kh = 0; kh < g.fh; kh++) {
        const ih = oh * g.sh - g.padTop + kh * g.dh;
        if (ih < 0 || ih >= g.inH) continue;
        for (let ow = 0; ow < g.outW; ow++) {
          const d = dyAt + ((n * g.outH + oh) * g.outW + ow) * cm;
          for (let kw = 0; kw < g.fw; kw++) {
            const iw = ow * g.sw - g.padLeft + kw * g.dw;
            if (iw < 0 || iw >= g.inW) continue;
            const xb = xAt + ((n * g.inH + ih) * g.inW + iw) * c;
            const a = (kh * g.fw + kw) * cm;
            if (mul === 1) {
              for (let i = 0; i < c; i++) acc[a + i] += h[xb + i] * h[d + i];
            } else {
              for (let i = 0; i < c; i++) {
                const xv = h[xb + i];
                for (let m = 0; m < mul; m++) acc[a + i * mul + m] += xv * h[d + i * mul + m];
              }
            }
          }
        }
      }
    }
  }
  const out = wb.makeOutput([...fs], "float32");
  heap(wb).set(acc, offsetOf(wb, out) >> 2);
  return out;
}

/** KernelConfig adding DepthwiseConv2dNativeBackpropFilter to the wasm backend. */
export const depthwiseConv2dNativeBackpropFilterConfig: tf.KernelConfig = {
  kernelName: tf.DepthwiseConv2dNativeBackpropFilter,
  backendName: "wasm",
  kernelFunc: depthwiseBackpropFilter as unknown as tf.KernelFunc,
};
