import { strict as assert } from "node:assert";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../../../lib/backend";
import { copyBlock } from "../../../lib/backend/kernels/slice";
import { randArray, sizeOf } from "./reference";

/** Slice by brute force: the element at every index of the block. */
function naiveSlice(src: ArrayLike<number>, shape: number[], begin: number[], size: number[]): number[] {
  const out: number[] = [];
  const strides = shape.map((_, a) => sizeOf(shape.slice(a + 1)));
  const walk = (a: number, at: number): void => {
    if (a === shape.length) {
      out.push(src[at]);
      return;
    }
    for (let i = 0; i < size[a]; i++) walk(a + 1, at + (begin[a] + i) * strides[a]);
  };
  if (size.every((n) => n > 0)) walk(0, 0);
  return out;
}

const SLICES = [
  { name: "1-D middle", shape: [10], begin: [3], size: [4] },
  { name: "2-D rows (one run)", shape: [6, 5], begin: [2, 0], size: [3, 5] },
  { name: "2-D columns", shape: [6, 5], begin: [1, 2], size: [4, 2] },
  { name: "3-D qkv-like split", shape: [4, 3, 50], begin: [0, 1, 0], size: [4, 1, 50] },
  { name: "4-D all partial", shape: [3, 4, 5, 6], begin: [1, 1, 2, 3], size: [2, 2, 3, 2] },
  { name: "6-D", shape: [2, 3, 2, 3, 2, 4], begin: [1, 0, 1, 1, 0, 1], size: [1, 3, 1, 2, 2, 3] },
  { name: "size -1 to the end", shape: [5, 7], begin: [2, 3], size: [-1, -1] },
  { name: "empty", shape: [5, 7], begin: [2, 3], size: [0, 2] },
  { name: "whole tensor", shape: [3, 4], begin: [0, 0], size: [3, 4] },
];

describe("copyBlock (the wasm Slice/SplitV copy)", () => {
  for (const c of SLICES.filter((s) => s.size.every((n) => n >= 0))) {
    it(`${c.name}: equals the element-by-element slice`, () => {
      const src = randArray(sizeOf(c.shape), 3);
      const dst = new Float32Array(sizeOf(c.size));
      const end = copyBlock(src, c.shape, c.begin, c.size, dst);
      assert.equal(end, dst.length);
      assert.deepEqual(Array.from(dst), naiveSlice(src, c.shape, c.begin, c.size));
    });
  }
});

describe("wasm Slice and SplitV overrides against the cpu backend", () => {
  /** Runs `f` on cpu and on wasm (with peftlab's overrides) and returns both results as plain arrays. */
  async function onBoth<T>(f: () => T, read: (t: T) => unknown): Promise<[unknown, unknown]> {
    await initBackend({ prefer: "cpu", log: null, env: {} });
    const a = read(f());
    await initBackend({ prefer: "wasm", log: null, env: {} });
    const b = read(f());
    return [a, b];
  }
  const asList = (t: tf.Tensor) => ({ shape: t.shape, dtype: t.dtype, values: Array.from(t.dataSync()) });

  for (const dtype of ["float32", "int32", "bool"] as const) {
    for (const c of SLICES) {
      it(`Slice ${c.name} (${dtype})`, async () => {
        const make = () =>
          tf.tensor(
            Array.from(randArray(sizeOf(c.shape), 9), (v) => Math.round(v * 5)),
            c.shape,
            dtype,
          );
        const [a, b] = await onBoth(() => tf.slice(make(), c.begin, c.size), asList);
        assert.deepEqual(b, a);
      });
    }
  }

  const SPLITS = [
    { name: "qkv into 3 along axis 1", shape: [4, 3, 50], split: 3 as number | number[], axis: 1 },
    { name: "uneven sizes along the last axis", shape: [3, 10], split: [2, 5, 3], axis: -1 },
    { name: "with a -1 size along axis 0", shape: [7, 2, 3], split: [2, -1, 1], axis: 0 },
    { name: "a zero-size part", shape: [4, 6], split: [0, 6], axis: 1 },
  ];
  for (const c of SPLITS) {
    it(`SplitV ${c.name}`, async () => {
      const make = () => tf.tensor(randArray(sizeOf(c.shape), 4), c.shape);
      const [a, b] = await onBoth(
        () => tf.split(make(), c.split, c.axis),
        (ts) => ts.map(asList),
      );
      assert.deepEqual(b, a);
    });
  }

  it("string tensors slice too (JS arrays beside the heap)", async () => {
    await initBackend({ prefer: "wasm", log: null, env: {} });
    const s = tf.tensor(["a", "b", "c", "d", "e", "f"], [2, 3], "string");
    assert.deepEqual(tf.slice(s, [0, 1], [2, 2]).arraySync(), [
      ["b", "c"],
      ["e", "f"],
    ]);
  });

  it("gradients through slice and split match the cpu backend (sums may differ in the last bit)", async () => {
    const f = () => {
      const x = tf.tensor(randArray(4 * 3 * 5, 2), [4, 3, 5]);
      return tf.grad((v: tf.Tensor) => {
        const [p, q] = tf.split(v, [1, 2], 1);
        return tf.sum(tf.mul(tf.slice(q, [1, 0, 2], [2, 2, 3]), p.sum()));
      })(x);
    };
    const [a, b] = (await onBoth(f, asList)) as ReturnType<typeof asList>[];
    assert.deepEqual(b.shape, a.shape);
    b.values.forEach((v, i) => assert.ok(Math.abs(v - a.values[i]) <= 1e-6 * Math.max(1, Math.abs(a.values[i]))));
    assert.deepEqual(
      b.values.map((v) => v === 0),
      a.values.map((v) => v === 0),
    );
  });
});
