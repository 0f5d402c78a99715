/**
 * The wasm DepthwiseConv2dNative / FusedDepthwiseConv2D override (lib/backend/kernels/depthwise_conv2d.ts): the
 * native kernel for multiplier 1, no dilation; everything else on tfjs-backend-wasm's own kernel. Both against tfjs's
 * cpu kernels, with the addon in use and with it off.
 */
import { strict as assert } from "node:assert";
import * as tf from "@tensorflow/tfjs";
import { nativeDepthwise } from "../../../lib/backend/kernels/depthwise_conv2d";
import { alsoWithoutNative, describeBackends } from "../../helpers/backends";
import { type ConvCase, convCasesMatchCpu } from "./reference";

interface Case extends ConvCase {
  act: "linear" | "relu" | "relu6";
  /** Whether the native kernel takes it (else tfjs-wasm's own). */
  native: boolean;
}

const CASES: Case[] = [
  {
    name: "3×3 s1 same, 48 ch (MobileNetV2)",
    x: [2, 14, 14, 48],
    f: [3, 3, 48, 1],
    s: 1,
    pad: "same",
    bias: 48,
    act: "relu6",
    native: true,
  },
  {
    name: "3×3 s2 same, odd sizes, 21 ch (tail lanes)",
    x: [2, 11, 8, 21],
    f: [3, 3, 21, 1],
    s: 2,
    pad: "same",
    bias: 21,
    act: "relu",
    native: true,
  },
  {
    name: "3×3 s1 valid, 3 ch, no bias",
    x: [1, 9, 10, 3],
    f: [3, 3, 3, 1],
    s: 1,
    pad: "valid",
    bias: 0,
    act: "linear",
    native: true,
  },
  {
    name: "5×5 s2 same, 16 ch",
    x: [2, 12, 13, 16],
    f: [5, 5, 16, 1],
    s: 2,
    pad: "same",
    bias: 16,
    act: "linear",
    native: true,
  },
  {
    name: "explicit asymmetric pad",
    x: [1, 7, 9, 8],
    f: [3, 3, 8, 1],
    s: 1,
    pad: [
      [0, 0],
      [2, 0],
      [0, 2],
      [0, 0],
    ],
    bias: 0,
    act: "relu6",
    native: true,
  },
  {
    name: "input narrower than the filter (no interior)",
    x: [2, 2, 2, 8],
    f: [3, 3, 8, 1],
    s: 1,
    pad: "same",
    bias: 8,
    act: "relu",
    native: true,
  },
  {
    name: "1×7 filter, wide rows",
    x: [1, 4, 40, 9],
    f: [1, 7, 9, 1],
    s: 1,
    pad: "same",
    bias: 0,
    act: "linear",
    native: true,
  },
  {
    name: "multiplier 2: tfjs's kernel",
    x: [1, 7, 7, 4],
    f: [3, 3, 4, 2],
    s: 1,
    pad: "same",
    bias: 0,
    act: "linear",
    native: false,
  },
  {
    name: "dilation 2: tfjs's kernel",
    x: [1, 9, 9, 8],
    f: [3, 3, 8, 1],
    s: 1,
    pad: "same",
    dil: 2,
    bias: 0,
    act: "linear",
    native: false,
  },
];

function cases(): void {
  convCasesMatchCpu(CASES, { plain: "DepthwiseConv2dNative", fused: "FusedDepthwiseConv2D" }, (c, v, fused) => {
    const pad = c.pad as "same";
    const dilations = c.dil ?? 1;
    if (!fused) return tf.depthwiseConv2d(v.x, v.f, c.s, pad, "NHWC", dilations);
    return tf.fused.depthwiseConv2d({
      x: v.x,
      filter: v.f,
      strides: c.s,
      pad,
      dilations,
      bias: v.bias,
      activation: c.act,
    });
  });
}

describeBackends("depthwise conv override", (backend) => {
  it("takes exactly the multiplier-1, undilated NHWC cases", () => {
    for (const c of CASES) {
      const t = (shape: number[]) => ({ dataId: {}, shape, dtype: "float32" as const });
      const attrs = { strides: c.s, pad: c.pad, dataFormat: "NHWC", dilations: c.dil ?? 1, activation: c.act };
      assert.equal(nativeDepthwise({ inputs: { x: t(c.x), filter: t(c.f) }, backend: null, attrs }), c.native, c.name);
    }
  });
  if (backend !== "wasm") return; // the override exists on wasm only
  cases();
  it("ReLU keeps NaN, as torch does", () => {
    const x = tf.tensor4d([NaN, 1, 2, 3, 4, 5, 6, 7, 8], [1, 3, 3, 1]);
    const f = tf.ones([3, 3, 1, 1]) as tf.Tensor4D;
    const y = tf.fused.depthwiseConv2d({ x, filter: f, strides: 1, pad: "same", activation: "relu" });
    const v = y.dataSync();
    assert.ok(Number.isNaN(v[0]) && Number.isNaN(v[4]), `[${Array.from(v)}]`);
    assert.equal(v[8], 4 + 5 + 7 + 8);
    tf.dispose([x, f, y]);
  });
  alsoWithoutNative(backend, "on tfjs-wasm's own kernel", () => {
    cases();
  });
});
