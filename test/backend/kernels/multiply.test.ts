/**
 * The wasm Multiply override (lib/backend/kernels/multiply.ts): large same-shape float32 products on the native
 * addon, every other call on tfjs-backend-wasm's own kernel; both against tfjs's cpu kernel. And the addon's `mul`
 * export called directly.
 */
import { strict as assert } from "node:assert";
import * as tf from "@tensorflow/tfjs";
import { nativeMultiplies } from "../../../lib/backend/kernels/multiply";
import { nativeStatus, type NativeAddon } from "../../../lib/backend/addon/loader";
import { describeBackends } from "../../helpers/backends";
import { kernelCounts } from "../../helpers/grad_check";
import { badCallTests } from "./native_helpers";
import { onCpu, randArray, sizeOf } from "./reference";

const CASES: { name: string; a: number[]; b: number[]; dtype: "float32" | "int32"; native: boolean }[] = [
  { name: "ViT MLP activation [3152, 1536]", a: [3152, 1536], b: [3152, 1536], dtype: "float32", native: true },
  { name: "65537 elements (an odd tail)", a: [65537], b: [65537], dtype: "float32", native: true },
  { name: "small same-shape product", a: [7, 9], b: [7, 9], dtype: "float32", native: false },
  { name: "broadcast over rows", a: [600, 200], b: [200], dtype: "float32", native: false },
  { name: "scalar times tensor", a: [300, 300], b: [], dtype: "float32", native: false },
  { name: "int32", a: [300, 300], b: [300, 300], dtype: "int32", native: false },
];

function product(c: (typeof CASES)[number]): Float32Array | Int32Array {
  const t = (shape: number[], seed: number) =>
    c.dtype === "int32"
      ? tf.tensor(
          Int32Array.from(randArray(sizeOf(shape), seed), (v) => Math.round(v * 50)),
          shape,
          "int32",
        )
      : tf.tensor(randArray(sizeOf(shape), seed), shape);
  return tf.tidy(() => tf.mul(t(c.a, 1), t(c.b, 2))).dataSync() as Float32Array | Int32Array;
}

describeBackends("Multiply override", (backend) => {
  it("sends exactly the large same-shape float32 products to the addon", () => {
    for (const c of CASES) {
      const info = (shape: number[]) => ({ dataId: {}, shape, dtype: c.dtype });
      assert.equal(nativeMultiplies(info(c.a), info(c.b)), c.native, c.name);
    }
  });
  if (backend !== "wasm") return; // the override exists on wasm only
  for (const c of CASES) {
    it(`${c.name}: equals tfjs's cpu kernel exactly`, async () => {
      const got = product(c);
      const want = await onCpu(() => product(c));
      assert.deepEqual(got, want);
    });
  }
  it("the gradient of x·y runs through the override and is y (and x)", async () => {
    const x = tf.tensor(randArray(70000, 3), [70000]);
    const y = tf.tensor(randArray(70000, 4), [70000]);
    let g: tf.Tensor[] = [];
    const counts = await kernelCounts(() => {
      g = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(a, b)))([x, y]);
    });
    assert.ok((counts.get("Multiply") ?? 0) >= 1);
    assert.deepEqual(g[0].dataSync(), y.dataSync());
    assert.deepEqual(g[1].dataSync(), x.dataSync());
    tf.dispose([x, y, ...g]);
  });
});

describe("native addon: mul", () => {
  const addon = nativeStatus().addon as NativeAddon;
  before(function () {
    if (!nativeStatus().addon) this.skip();
  });
  it("writes exactly out[0, len) = a·b for every tail length 0–17", () => {
    for (let len = 0; len <= 17; len++) {
      const h = new Float32Array(64).fill(9);
      h.set(randArray(len, len + 1), 0);
      h.set(randArray(len, len + 2), 20);
      addon.mul(h, 0, 20, 40, len);
      for (let i = 0; i < 64; i++) {
        const want = i >= 40 && i < 40 + len ? Math.fround(h[i - 40] * h[i - 20]) : i >= 40 ? 9 : h[i];
        assert.equal(h[i], want, `len ${len}, index ${i}`);
      }
    }
  });
  badCallTests(
    () => addon,
    [
      ["out past the end", "mul", [0, 10, 60, 8], /past the end/],
      ["out overlapping a", "mul", [0, 20, 4, 8], /overlaps/],
      ["a negative length", "mul", [0, 10, 20, -1], /negative/],
    ],
  );
});
