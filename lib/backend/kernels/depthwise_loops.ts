/**
 * The loops of peftlab's depthwise-conv gradient kernels (not a kernel itself), written once over plain
 * Float32Arrays + float offsets so the wasm kernels (on the wasm heap) and the cpu kernels (on the cpu backend's
 * arrays) share them. Channels are innermost in NHWC, so every inner loop is a contiguous run of C (or C·M).
 */
import type { ConvGeom } from "./conv_util";

/** A float32 array and the float offset where a tensor starts in it. */
export interface Buf {
  a: Float32Array;
  at: number;
}

/** dW[kh,kw,c,m] = Σ_{n,oh,ow} x[n, ih, iw, c] · dy[n,oh,ow,c·M+m]; float64 sums, returned as [KH, KW, C·M]. */
export function depthwiseFilterGrad(x: Buf, dy: Buf, g: ConvGeom, mul: number): Float64Array {
  const c = g.inC;
  const cm = c * mul;
  const acc = new Float64Array(g.fh * g.fw * cm);
  const xa = x.a;
  const da = dy.a;
  for (let n = 0; n < g.n; n++) {
    for (let oh = 0; oh < g.outH; oh++) {
      for (let kh = 0; kh < g.fh; kh++) {
        const ih = oh * g.sh - g.padTop + kh * g.dh;
        if (ih < 0 || ih >= g.inH) continue;
        for (let ow = 0; ow < g.outW; ow++) {
          const d = dy.at + ((n * g.outH + oh) * g.outW + ow) * cm;
          for (let kw = 0; kw < g.fw; kw++) {
            const iw = ow * g.sw - g.padLeft + kw * g.dw;
            if (iw < 0 || iw >= g.inW) continue;
            const xb = x.at + ((n * g.inH + ih) * g.inW + iw) * c;
            const a = (kh * g.fw + kw) * cm;
            if (mul === 1) {
              for (let i = 0; i < c; i++) acc[a + i] += xa[xb + i] * da[d + i];
            } else {
              for (let i = 0; i < c; i++) {
                const xv = xa[xb + i];
                for (let m = 0; m < mul; m++) acc[a + i * mul + m] += xv * da[d + i * mul + m];
              }
            }
          }
        }
      }
    }
  }
  return acc;
}

/** dx[n,ih,iw,c] += Σ_{kh,kw,m} dy[n,oh,ow,c·M+m] · W[kh,kw,c,m] (scatter form); dx must be zeroed first. */
export function depthwiseInputGrad(dx: Buf, dy: Buf, w: Buf, g: ConvGeom, mul: number): void {
  const c = g.inC;
  const cm = c * mul;
  const xa = dx.a;
  const da = dy.a;
  const wa = w.a;
  for (let n = 0; n < g.n; n++) {
    for (let oh = 0; oh < g.outH; oh++) {
      for (let kh = 0; kh < g.fh; kh++) {
        const ih = oh * g.sh - g.padTop + kh * g.dh;
        if (ih < 0 || ih >= g.inH) continue;
        for (let ow = 0; ow < g.outW; ow++) {
          const d = dy.at + ((n * g.outH + oh) * g.outW + ow) * cm;
          for (let kw = 0; kw < g.fw; kw++) {
            const iw = ow * g.sw - g.padLeft + kw * g.dw;
            if (iw < 0 || iw >= g.inW) continue;
            const xb = dx.at + ((n * g.inH + ih) * g.inW + iw) * c;
            const wb = w.at + (kh * g.fw + kw) * cm;
            if (mul === 1) {
              for (let i = 0; i < c; i++) xa[xb + i] += da[d + i] * wa[wb + i];
            } else {
              for (let i = 0; i < c; i++) {
                let s = 0;
                for (let m = 0; m < mul; m++) s += da[d + i * mul + m] * wa[wb + i * mul + m];
                xa[xb + i] += s;
              }
            }
          }
        }
      }
    }
  }
}
