/**
 * wasm `DepthwiseConv2dNativeBackpropInput` (missing from tfjs-backend-wasm):
 * dx[n,ih,iw,c] = Σ_{kh,kw,m} dy[n,oh,ow,c·M+m] · W[kh,kw,c,m] where ih = oh·sh − pt + kh·dh (scatter form).
 */
import * as tf from "@tensorflow/tfjs";
import { type ConvAttrs, convGeom } from "./conv_util";
import { asWasm, heap, offsetOf } from "./wasm_gemm";

interface Args {
  inputs: { dy: tf.TensorInfo; filter: tf.TensorInfo };
  backend: unknown;
  attrs: ConvAttrs & { inputShape: [number, number, number, number] };
}

function depthwiseBackpropInput(args: Args): tf.TensorInfo {
  const wb = asWasm(args.backend, "DepthwiseConv2dNativeBackpropInput");
  const { dy, filter } = args.inputs;
  const g = convGeom("DepthwiseConv2dNativeBackpropInput", args.attrs.inputShape, filter.shape, args.attrs, true);
  const c = g.inC;
  const mul = filter.shape[3];
  const cm = c * mul;
  const out = wb.makeOutput([g.n, g.inH, g.inW, c], "float32"); // [N, H, W, C]
  const h = heap(wb);
  const dxAt = offsetOf(wb, out) >> 2;
  const dyAt = offsetOf(wb, dy) >> 2;
  const wAt = offsetOf(wb, filter) >> 2;
  h.fill(0, dxAt, dxAt + g.n * g.inH * g.inW * c);
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
            const xb = dxAt + ((n * g.inH + ih) * g.inW + iw) * c;
            const w = wAt + (kh * g.fw + kw) * cm;
            if (mul === 1) {
              for (let i = 0; i < c; i++) h[xb + i] += h[d + i] * h[w + i];
            } else {
              for (let i = 0; i < c; i++) {
                let s = 0;
                for (let m = 0; m < mul; m++) s += h[d + i * mul + m] * h[w + i * mul + m];
                h[xb + i] += s;
              }
            }
          }
        }
      }
    }
  }
  return out;
}

/** KernelConfig adding DepthwiseConv2dNativeBackpropInput to the wasm backend. */
export const depthwiseConv2dNativeBackpropInputConfig: tf.KernelConfig = {
  kernelName: tf.DepthwiseConv2dNativeBackpropInput,
  backendName: "wasm",
  kernelFunc: depthwiseBackpropInput as unknown as tf.KernelFunc,
};
