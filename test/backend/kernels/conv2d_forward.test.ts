/**
 * The wasm Conv2D / FusedConv2D override (lib/backend/kernels/conv2d_forward.ts): 1×1 stride-1 convs as one GEMM,
 * other convs as im2col + GEMM on the native addon, the rest on tfjs-backend-wasm's own kernel. All against tfjs's
 * cpu kernels, with the addon in use and with it off (the 1×1 GEMM then runs on the wasm GEMM, the rest on XNNPACK).
 */
import { strict as assert } from "node:assert";
import * as tf from "@tensorflow/tfjs";
import { isPointwise, nativeConv } from "../../../lib/backend/kernels/conv2d_forward";
import { alsoWithoutNative, describeBackends } from "../../helpers/backends";
import { type ConvCase, convCasesMatchCpu } from "./reference";

interface Case extends ConvCase {
  /** Whether the override computes it as one plain GEMM (1×1, stride 1, unpadded). */
  gemm: boolean;
  /** Whether tfjs-wasm's own kernel runs even while the native addon is in use. */
  tfjs?: boolean;
}

const CASES: Case[] = [
  { name: "1×1, no bias", x: [2, 5, 6, 7], f: [1, 1, 7, 9], s: 1, pad: "valid", bias: 0, act: "linear", gemm: true },
  {
    name: "1×1 'same', per-channel bias",
    x: [1, 4, 4, 3],
    f: [1, 1, 3, 5],
    s: 1,
    pad: "same",
    bias: 5,
    act: "linear",
    gemm: true,
  },
  {
    name: "1×1 + bias + ReLU6, K 8 (MobileNetV2's expand)",
    x: [4, 28, 28, 8],
    f: [1, 1, 8, 48],
    s: 1,
    pad: "valid",
    bias: 48,
    act: "relu6",
    gemm: true,
  },
  {
    name: "1×1 + bias + ReLU, wide (split across threads)",
    x: [2, 14, 14, 112],
    f: [1, 1, 112, 640],
    s: 1,
    pad: "valid",
    bias: 640,
    act: "relu",
    gemm: true,
  },
  {
    name: "1×1 + one-value bias",
    x: [2, 3, 3, 6],
    f: [1, 1, 6, 4],
    s: 1,
    pad: "valid",
    bias: 1,
    act: "linear",
    gemm: true,
  },
  {
    name: "1×1 + PReLU (XNNPACK epilogue)",
    x: [2, 3, 5, 6],
    f: [1, 1, 6, 10],
    s: 1,
    pad: "valid",
    bias: 10,
    act: "prelu",
    prelu: 10,
    gemm: true,
  },
  {
    name: "1×1, explicit zero pad",
    x: [1, 3, 3, 4],
    f: [1, 1, 4, 4],
    s: 1,
    pad: [
      [0, 0],
      [0, 0],
      [0, 0],
      [0, 0],
    ],
    bias: 0,
    act: "linear",
    gemm: true,
  },
  {
    name: "1×1 stride 2: im2col on the addon",
    x: [2, 7, 7, 4],
    f: [1, 1, 4, 6],
    s: 2,
    pad: "same",
    bias: 6,
    act: "relu",
    gemm: false,
  },
  {
    name: "1×1, explicit pad 1: im2col on the addon",
    x: [1, 4, 4, 3],
    f: [1, 1, 3, 2],
    s: 1,
    pad: [
      [0, 0],
      [1, 1],
      [1, 1],
      [0, 0],
    ],
    bias: 0,
    act: "linear",
    gemm: false,
  },
  {
    name: "3×3 stem, stride 2: im2col on the addon",
    x: [2, 16, 16, 3],
    f: [3, 3, 3, 8],
    s: 2,
    pad: "same",
    bias: 8,
    act: "relu6",
    gemm: false,
  },
  {
    name: "3×3 s1 same, 64 → 64 ch, 1568 rows (im2col chunks split across threads)",
    x: [2, 28, 28, 64],
    f: [3, 3, 64, 64],
    s: 1,
    pad: "same",
    bias: 64,
    act: "relu",
    gemm: false,
  },
  {
    name: "7×7 s2 same, ResNet stem",
    x: [1, 30, 30, 3],
    f: [7, 7, 3, 16],
    s: 2,
    pad: "same",
    bias: 0,
    act: "linear",
    gemm: false,
  },
  {
    name: "3×3 dilation 2",
    x: [2, 11, 11, 5],
    f: [3, 3, 5, 7],
    s: 1,
    pad: "same",
    dil: 2,
    bias: 7,
    act: "relu6",
    gemm: false,
  },
  {
    name: "5×3 valid, odd sizes",
    x: [3, 9, 8, 6],
    f: [5, 3, 6, 10],
    s: 1,
    pad: "valid",
    bias: 10,
    act: "linear",
    gemm: false,
  },
  {
    name: "3×3 + PReLU: tfjs's kernel",
    x: [1, 6, 6, 4],
    f: [3, 3, 4, 5],
    s: 1,
    pad: "same",
    bias: 5,
    act: "prelu",
    prelu: 5,
    gemm: false,
    tfjs: true,
  },
];

function cases(): void {
  convCasesMatchCpu(CASES, { plain: "Conv2D", fused: "FusedConv2D" }, (c, v, fused) => {
    const pad = c.pad as "same";
    const dilations = c.dil ?? 1;
    if (!fused) return tf.conv2d(v.x, v.f, c.s, pad, "NHWC", dilations);
    const activation = c.act as "relu";
    const { bias, prelu: preluActivationWeights } = v;
    return tf.fused.conv2d({
      x: v.x,
      filter: v.f,
      strides: c.s,
      pad,
      dilations,
      bias,
      activation,
      preluActivationWeights,
    });
  });
}

describeBackends("Conv2D / FusedConv2D override", (backend) => {
  it("takes the 1×1, stride-1, unpadded cases as one GEMM and the rest with ReLU/ReLU6 as im2col + GEMM", () => {
    for (const c of CASES) {
      const inputs = {
        x: { dataId: {}, shape: c.x, dtype: "float32" as const },
        filter: { dataId: {}, shape: c.f, dtype: "float32" as const },
      };
      const attrs = { strides: c.s, pad: c.pad, dataFormat: "NHWC", dilations: c.dil ?? 1, activation: c.act };
      assert.equal(isPointwise({ inputs, backend: null, attrs }), c.gemm, c.name);
      if (!c.gemm) assert.equal(nativeConv({ inputs, backend: null, attrs }), !c.tfjs, c.name);
    }
  });
  // The override exists on wasm only; on cpu these would compare tfjs's cpu kernel with itself.
  if (backend !== "wasm") return;
  cases();
  alsoWithoutNative(backend, "on the wasm GEMM", () => {
    cases();
  });
});
