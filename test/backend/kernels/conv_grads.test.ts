import { strict as assert } from "node:assert";
import * as tf from "@tensorflow/tfjs";
import { describeBackends } from "../../helpers/backends";
import { assertClose, onCpu, randArray, sizeOf } from "./reference";

type Pad = "same" | "valid" | [[number, number], [number, number], [number, number], [number, number]];
interface ConvCase {
  name: string;
  x: [number, number, number, number];
  /** [KH, KW, CI, CO] for conv2d, [KH, KW, C, multiplier] for depthwise. */
  f: [number, number, number, number];
  s: number;
  pad: Pad;
  dil?: number;
}

const CONV: ConvCase[] = [
  { name: "3x3 s1 same", x: [2, 9, 9, 3], f: [3, 3, 3, 4], s: 1, pad: "same" },
  { name: "3x3 s2 same, odd sizes", x: [1, 10, 7, 5], f: [3, 3, 5, 6], s: 2, pad: "same" },
  { name: "5x5 s2 valid", x: [2, 13, 11, 2], f: [5, 5, 2, 3], s: 2, pad: "valid" },
  {
    name: "3x2 explicit pad",
    x: [2, 8, 9, 3],
    f: [3, 2, 3, 5],
    s: 1,
    pad: [
      [0, 0],
      [1, 2],
      [2, 0],
      [0, 0],
    ],
  },
  { name: "1x1 pointwise", x: [3, 6, 5, 7], f: [1, 1, 7, 9], s: 1, pad: "valid" },
  { name: "1x1 stride 2", x: [2, 7, 7, 4], f: [1, 1, 4, 6], s: 2, pad: "same" },
  { name: "7x7 s2 same, stem-like", x: [1, 20, 20, 3], f: [7, 7, 3, 8], s: 2, pad: "same" },
  // Wide enough for full 4×8 tiles of the SIMD GEMM on both branches, and over 512 rows (two chunks).
  { name: "3x3 s1 same, 24→40 ch", x: [2, 12, 12, 24], f: [3, 3, 24, 40], s: 1, pad: "same" },
  { name: "1x1, 8→36 ch, 768 rows", x: [3, 16, 16, 8], f: [1, 1, 8, 36], s: 1, pad: "valid" },
];

const DEPTHWISE: ConvCase[] = [
  { name: "3x3 s1 same", x: [2, 9, 9, 4], f: [3, 3, 4, 1], s: 1, pad: "same" },
  { name: "3x3 s2 same, odd sizes", x: [1, 11, 8, 6], f: [3, 3, 6, 1], s: 2, pad: "same" },
  { name: "channel multiplier 2", x: [2, 7, 7, 3], f: [3, 3, 3, 2], s: 1, pad: "valid" },
  { name: "5x5 s2 valid, multiplier 3", x: [1, 12, 12, 2], f: [5, 5, 2, 3], s: 2, pad: "valid" },
  {
    name: "explicit pad",
    x: [2, 6, 8, 5],
    f: [3, 3, 5, 1],
    s: 1,
    pad: [
      [0, 0],
      [2, 1],
      [0, 1],
      [0, 0],
    ],
  },
  { name: "dilation 2 (kernel level only)", x: [1, 9, 9, 3], f: [3, 3, 3, 1], s: 1, pad: "same", dil: 2 },
  // Channel counts that exercise every lane path of the SIMD kernel (16-wide blocks, 4-wide, scalar tail).
  { name: "21 channels (16+4+1 lanes) s1 same", x: [2, 9, 7, 21], f: [3, 3, 21, 1], s: 1, pad: "same" },
  { name: "MobileNet-like 48 ch s2 same, batch 1", x: [1, 14, 14, 48], f: [3, 3, 48, 1], s: 2, pad: "same" },
  { name: "MobileNet-like 64 ch 7x7 s1 same", x: [3, 7, 7, 64], f: [3, 3, 64, 1], s: 1, pad: "same" },
  { name: "34 ch s2 valid, odd sizes", x: [2, 13, 10, 34], f: [3, 3, 34, 1], s: 2, pad: "valid" },
  { name: "5x5 s2 same, 20 ch", x: [2, 11, 12, 20], f: [5, 5, 20, 1], s: 2, pad: "same" },
  {
    name: "explicit asymmetric pad s2, 17 ch",
    x: [2, 9, 8, 17],
    f: [3, 3, 17, 1],
    s: 2,
    pad: [
      [0, 0],
      [0, 2],
      [1, 0],
      [0, 0],
    ],
  },
  { name: "dilation 2, 16 ch (kernel level only)", x: [2, 10, 9, 16], f: [3, 3, 16, 1], s: 1, pad: "same", dil: 2 },
];

function outShape(c: ConvCase, depthwise: boolean): number[] {
  const info = tf.backend_util.computeConv2DInfo(c.x, c.f, c.s, c.dil ?? 1, c.pad, undefined, depthwise);
  return info.outShape;
}

/** Runs kernel `name` on the active backend with seeded inputs; returns its output values. */
function runKernel(name: string, inputs: Record<string, [number[], number]>, attrs: object): Float32Array {
  return tf
    .tidy(() => {
      const ts: Record<string, tf.Tensor> = {};
      for (const [k, [shape, seed]] of Object.entries(inputs)) ts[k] = tf.tensor(randArray(sizeOf(shape), seed), shape);
      return tf.engine().runKernel(name, ts, attrs as tf.NamedAttrMap) as tf.Tensor;
    })
    .dataSync() as Float32Array;
}

/** Gradients of sum(f(x, w) · r) w.r.t. x and w, with a fixed random r so every output element matters. */
function convGrads(c: ConvCase, depthwise: boolean): number[][] {
  return tf.tidy(() => {
    const x = tf.tensor(randArray(sizeOf(c.x), 21), c.x) as tf.Tensor4D;
    const w = tf.tensor(randArray(sizeOf(c.f), 22), c.f) as tf.Tensor4D;
    const r = tf.tensor(randArray(sizeOf(outShape(c, depthwise)), 23), outShape(c, depthwise));
    const g = tf.grads((X: tf.Tensor, W: tf.Tensor) => {
      const y = depthwise
        ? tf.depthwiseConv2d(X as tf.Tensor4D, W as tf.Tensor4D, c.s, c.pad)
        : tf.conv2d(X as tf.Tensor4D, W as tf.Tensor4D, c.s, c.pad);
      return tf.sum(tf.mul(y, r));
    });
    return g([x, w]).map((t) => Array.from(t.dataSync()));
  });
}

/** Filter shape of a dilation-d filter written out with zeros between taps. */
function stuffedShape(f: number[], d: number): number[] {
  return [(f[0] - 1) * d + 1, (f[1] - 1) * d + 1, f[2], f[3]];
}

/** The zero-stuffed equivalent of a dilation-d filter. */
function stuffFilter(w: Float32Array, f: number[], d: number): Float32Array {
  const big = stuffedShape(f, d);
  const inner = f[2] * f[3];
  const out = new Float32Array(sizeOf(big));
  for (let i = 0; i < f[0]; i++)
    for (let j = 0; j < f[1]; j++)
      out.set(w.subarray((i * f[1] + j) * inner, (i * f[1] + j + 1) * inner), (i * d * big[1] + j * d) * inner);
  return out;
}

/** The taps of a zero-stuffed filter gradient that belong to the dilated filter. */
function sampleTaps(wide: Float32Array, big: number[], d: number): Float32Array {
  const inner = big[2] * big[3];
  const kh = (big[0] - 1) / d + 1;
  const kw = (big[1] - 1) / d + 1;
  const out = new Float32Array(kh * kw * inner);
  for (let i = 0; i < kh; i++)
    for (let j = 0; j < kw; j++)
      out.set(
        wide.subarray((i * d * big[1] + j * d) * inner, (i * d * big[1] + j * d + 1) * inner),
        (i * kw + j) * inner,
      );
  return out;
}

describeBackends("conv gradient kernels", (backend) => {
  for (const c of CONV) {
    const attrs = { strides: [c.s, c.s], pad: c.pad, dataFormat: "NHWC" };
    const dy: [number[], number] = [outShape(c, false), 12];
    it(`Conv2DBackpropFilter ${c.name} matches the cpu kernel`, async () => {
      const kernelAttrs = { ...attrs, filterShape: c.f };
      const inputs = { x: [c.x, 11] as [number[], number], dy };
      const got = runKernel("Conv2DBackpropFilter", inputs, kernelAttrs);
      const want = await onCpu(() => runKernel("Conv2DBackpropFilter", inputs, kernelAttrs));
      assertClose(got, want, `${c.name} on ${backend}`);
    });
    it(`Conv2DBackpropInput ${c.name} matches the cpu kernel`, async () => {
      const kernelAttrs = { ...attrs, inputShape: c.x };
      const inputs = { dy, filter: [c.f, 13] as [number[], number] };
      const got = runKernel("Conv2DBackpropInput", inputs, kernelAttrs);
      const want = await onCpu(() => runKernel("Conv2DBackpropInput", inputs, kernelAttrs));
      assertClose(got, want, `${c.name} on ${backend}`);
    });
    it(`tf.grads through conv2d ${c.name} match the cpu backend`, async () => {
      const got = convGrads(c, false);
      const want = await onCpu(() => convGrads(c, false));
      assertClose(got[0], want[0], `dx ${c.name}`);
      assertClose(got[1], want[1], `dW ${c.name}`);
    });
  }

  for (const c of DEPTHWISE) {
    const d = c.dil ?? 1;
    const attrs = { strides: [c.s, c.s], pad: c.pad, dilations: [d, d] };
    const dy: [number[], number] = [outShape(c, true), 32];
    it(`DepthwiseConv2dNativeBackpropFilter ${c.name} matches the cpu kernel`, async () => {
      const kernelAttrs = { ...attrs, filterShape: c.f };
      const inputs = { x: [c.x, 31] as [number[], number], dy };
      const got = runKernel("DepthwiseConv2dNativeBackpropFilter", inputs, kernelAttrs);
      if (d === 1) {
        const want = await onCpu(() => runKernel("DepthwiseConv2dNativeBackpropFilter", inputs, kernelAttrs));
        assertClose(got, want, `${c.name} on ${backend}`);
        return;
      }
      // tfjs's cpu kernel ignores dilations; reference: an undilated, zero-stuffed filter, sampled every d taps.
      const big = stuffedShape(c.f, d);
      const wide = await onCpu(() =>
        runKernel("DepthwiseConv2dNativeBackpropFilter", inputs, {
          ...kernelAttrs,
          dilations: [1, 1],
          filterShape: big,
        }),
      );
      assertClose(got, sampleTaps(wide, big, d), `${c.name} on ${backend}`);
    });
    it(`DepthwiseConv2dNativeBackpropInput ${c.name} matches the cpu kernel`, async () => {
      const kernelAttrs = { ...attrs, inputShape: c.x };
      const inputs = { dy, filter: [c.f, 33] as [number[], number] };
      const got = runKernel("DepthwiseConv2dNativeBackpropInput", inputs, kernelAttrs);
      const want = await onCpu(() => {
        if (d === 1) return runKernel("DepthwiseConv2dNativeBackpropInput", inputs, kernelAttrs);
        const w = randArray(sizeOf(c.f), 33);
        const big = stuffedShape(c.f, d);
        const stuffed = tf.tensor(stuffFilter(w, c.f, d), big);
        const dyT = tf.tensor(randArray(sizeOf(dy[0]), dy[1]), dy[0]);
        const r = tf.engine().runKernel("DepthwiseConv2dNativeBackpropInput", { dy: dyT, filter: stuffed }, {
          ...kernelAttrs,
          dilations: [1, 1],
        } as tf.NamedAttrMap) as tf.Tensor;
        const out = r.dataSync() as Float32Array;
        tf.dispose([stuffed, dyT, r]);
        return out;
      });
      assertClose(got, want, `${c.name} on ${backend}`);
    });
    if (d === 1) {
      it(`tf.grads through depthwiseConv2d ${c.name} match the cpu backend`, async () => {
        const got = convGrads(c, true);
        const want = await onCpu(() => convGrads(c, true));
        assertClose(got[0], want[0], `dx ${c.name}`);
        assertClose(got[1], want[1], `dW ${c.name}`);
      });
    }
  }

  if (backend !== "wasm") return;
  it("rejects NCHW with a BackendError on wasm (tfjs's wasm Conv2D is NHWC-only too)", () => {
    assert.throws(
      () =>
        runKernel(
          "Conv2DBackpropFilter",
          { x: [[1, 3, 5, 5], 1], dy: [[1, 2, 5, 5], 2] },
          {
            strides: [1, 1],
            pad: "same",
            dataFormat: "NCHW",
            filterShape: [3, 3, 3, 2],
          },
        ),
      /NHWC/,
    );
  });
});
