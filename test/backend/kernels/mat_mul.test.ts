import { strict as assert } from "node:assert";
import * as tf from "@tensorflow/tfjs";
import { alsoWithoutNative, describeBackends } from "../../helpers/backends";
import { applyKernelOverrides, removeKernelOverrides } from "../../../lib/backend/kernels";
import { gemmEngine, nativeStatus } from "../../../lib/backend/addon/loader";
import { assertClose, naiveMatMul, onCpu, randArray, sizeOf } from "./reference";

type MMCase = [name: string, a: number[], b: number[], ta: boolean, tb: boolean];

const CASES: MMCase[] = [
  ["2D NN", [5, 7], [7, 3], false, false],
  ["2D NT", [5, 7], [3, 7], false, true],
  ["2D TN", [7, 5], [7, 3], true, false],
  ["2D TT", [7, 5], [3, 7], true, true],
  ["1x1", [1, 1], [1, 1], true, true],
  ["odd sizes", [33, 65], [65, 17], false, false],
  ["row vector", [1, 64], [64, 9], false, false],
  ["batch 1 3D", [1, 13, 11], [1, 6, 11], false, true],
  ["batched NN", [4, 9, 7], [4, 7, 5], false, false],
  ["batched TT", [4, 7, 9], [4, 5, 7], true, true],
  ["attention q.kT", [6, 17, 8], [6, 17, 8], false, true],
  ["attention p.v", [6, 17, 17], [6, 17, 8], false, false],
  ["B broadcast", [3, 9, 7], [7, 5], false, false],
  ["B broadcast, A transposed", [3, 7, 9], [5, 7], true, true],
  ["A broadcast", [9, 7], [3, 7, 5], false, false],
  ["4D batch", [2, 3, 5, 4], [2, 3, 4, 6], false, false],
  ["empty K", [3, 0], [0, 4], false, false],
  // peftlab's packed GEMM (sgemm.c): 4×8 tiles, edge tiles through a scratch tile, K in blocks of 512, A in
  // blocks of 64 rows, and a packing path per layout (row-major or transposed, full or partial panel).
  ["batched, edge tiles", [3, 13, 9], [3, 9, 21], false, false],
  ["batched, M < 4", [2, 3, 5], [2, 5, 12], false, false],
  ["batched, exact tiles", [2, 8, 7], [2, 7, 16], false, false],
  ["batched attention-like q.kT", [4, 33, 16], [4, 33, 16], false, true],
  ["batched attention-like p.v, transposed A", [4, 33, 33], [4, 33, 16], true, false],
  ["LoRA dB-like: few rows, long K", [300, 8], [300, 40], true, false],
  ["K over one block (512), odd edges", [67, 1037], [1037, 29], false, false],
  ["K over one block, both transposed", [1030, 70], [27, 1030], true, true],
  ["rows over one A block (64), N one panel", [131, 12], [12, 8], false, false],
  ["N < 8, transposed B", [9, 6], [3, 6], false, true],
  ["B broadcast over many rows", [3, 30, 7], [7, 5], false, false],
  // The native addon's GEMM (sgemm_avx2.c): 6×16 tiles, K in blocks of 256, A in blocks of 96 rows, B in blocks
  // of 2048 columns; with several threads split by rows, columns or slices.
  ["native: N over one B block (2048), edge panel", [13, 37], [37, 2061], false, false],
  ["native: rows over one A block (96), K over 256, transposed B", [197, 300], [35, 300], false, true],
  ["native: few rows, wide N (split by columns)", [5, 64], [64, 700], false, false],
  ["native: exact 6x16 tiles, transposed A", [40, 12], [40, 32], true, false],
];

describeBackends("matMul kernels (BatchMatMul)", (backend) => {
  it(`runs on ${backend === "wasm" ? "the GEMM initBackend chose" : "tfjs's cpu kernels"}`, () => {
    if (backend === "wasm") assert.equal(gemmEngine().engine, nativeStatus().addon ? "native" : "wasm");
  });
  matMulCases(backend);
  // Where the native addon is in use, the same cases again on peftlab's wasm GEMM (what PEFTLAB_NATIVE=0 runs).
  alsoWithoutNative(backend, "on peftlab's wasm GEMM", () => {
    matMulCases(backend);
  });
});

function matMulCases(backend: string): void {
  for (const [name, sa, sb, ta, tb] of CASES) {
    it(`${name}: [${sa}]${ta ? "ᵀ" : ""} x [${sb}]${tb ? "ᵀ" : ""} matches a float64 reference`, () => {
      const a = randArray(sizeOf(sa), 1);
      const b = randArray(sizeOf(sb), 2);
      const want = naiveMatMul(a, sa, b, sb, ta, tb);
      const y = tf.tidy(() => tf.matMul(tf.tensor(a, sa), tf.tensor(b, sb), ta, tb));
      assert.deepEqual(y.shape, want.shape);
      assertClose(y.dataSync(), want.data, name);
      y.dispose();
    });
  }

  // tfjs's cpu kernel flattens batch dims before broadcasting, so only peftlab's wasm kernel gets this right.
  if (backend === "wasm") {
    it("4D broadcast: [2,1,5,4] x [3,6,4]ᵀ matches a float64 reference", () => {
      const [sa, sb] = [
        [2, 1, 5, 4],
        [3, 6, 4],
      ];
      const a = randArray(sizeOf(sa), 1);
      const b = randArray(sizeOf(sb), 2);
      const want = naiveMatMul(a, sa, b, sb, false, true);
      const y = tf.tidy(() => tf.matMul(tf.tensor(a, sa), tf.tensor(b, sb), false, true));
      assert.deepEqual(y.shape, [2, 3, 5, 6]);
      assertClose(y.dataSync(), want.data, "4D broadcast");
      y.dispose();
    });
  }

  const fused: [string, number[], number[], boolean, boolean, tf.fused.Activation][] = [
    ["2D NN relu", [12, 10], [10, 7], false, false, "relu"],
    ["2D NT linear", [12, 10], [7, 10], false, true, "linear"],
    ["2D TN relu6", [10, 12], [10, 7], true, false, "relu6"],
    ["batched NT elu", [3, 12, 10], [3, 7, 10], false, true, "elu"],
    ["B broadcast sigmoid", [3, 12, 10], [10, 7], false, false, "sigmoid"],
    ["batched TN leakyrelu", [2, 10, 12], [2, 10, 7], true, false, "leakyrelu"],
    ["K over one block relu6, edge tiles", [13, 600], [600, 11], false, false, "relu6"],
  ];
  for (const [name, sa, sb, ta, tb, act] of fused) {
    it(`fused.matMul ${name} with bias equals matMul + bias + activation`, () => {
      const n = tb ? sb[sb.length - 2] : sb[sb.length - 1];
      const [a, b, bias] = [
        tf.tensor(randArray(sizeOf(sa), 3), sa),
        tf.tensor(randArray(sizeOf(sb), 4), sb),
        tf.tensor(randArray(n, 5)),
      ];
      const got = tf.fused.matMul({ a, b, transposeA: ta, transposeB: tb, bias, activation: act });
      const want = naiveMatMul(a.dataSync() as Float32Array, sa, b.dataSync() as Float32Array, sb, ta, tb);
      const ref = tf.tidy(() => {
        const z = tf.add(tf.tensor(Float32Array.from(want.data), want.shape), bias);
        const acts: Record<string, (t: tf.Tensor) => tf.Tensor> = {
          relu: tf.relu,
          relu6: tf.relu6,
          elu: tf.elu,
          sigmoid: tf.sigmoid,
          leakyrelu: (t) => tf.leakyRelu(t, 0.2),
          linear: (t) => t,
        };
        return acts[act](z);
      });
      assert.deepEqual(got.shape, ref.shape);
      assertClose(got.dataSync(), ref.dataSync(), name);
      tf.dispose([a, b, bias, got, ref]);
    });
  }

  it("fused.matMul with a one-value bias, and with K = 0 (the output is the epilogue of 0)", () => {
    const a = tf.tensor(randArray(70 * 9, 12), [70, 9]);
    const b = tf.tensor(randArray(9 * 10, 13), [9, 10]);
    const bias = tf.tensor([-0.25]);
    const got = tf.fused.matMul({ a: a as tf.Tensor2D, b: b as tf.Tensor2D, bias, activation: "relu" });
    const ref = tf.tidy(() => tf.relu(tf.add(tf.matMul(a, b), bias)));
    assertClose(got.dataSync(), ref.dataSync(), "one-value bias");
    const e = tf.fused.matMul({
      a: tf.zeros([3, 0]) as tf.Tensor2D,
      b: tf.zeros([0, 4]) as tf.Tensor2D,
      bias: tf.tensor([1, -2, 7, 0.5]),
      activation: "relu6",
    });
    assert.deepEqual(Array.from(e.dataSync()), [1, 0, 6, 0.5, 1, 0, 6, 0.5, 1, 0, 6, 0.5]);
    tf.dispose([a, b, bias, got, ref, e]);
  });

  it("gradients of matMul, batched matMul and fused.matMul match the cpu backend", async () => {
    const x = randArray(2 * 6 * 8, 6);
    const w = randArray(8 * 5, 7);
    const v = randArray(2 * 5 * 6, 8);
    const bias = randArray(5, 9);
    const f = () => {
      const tx = tf.tensor(x, [2, 6, 8]);
      const tw = tf.tensor(w, [8, 5]);
      const tv = tf.tensor(v, [2, 5, 6]);
      const tbias = tf.tensor(bias);
      const g = tf.grads((X: tf.Tensor, W: tf.Tensor, V: tf.Tensor, B: tf.Tensor) => {
        const h = tf.fused.matMul({
          a: X.reshape([12, 8]) as tf.Tensor2D,
          b: W as tf.Tensor2D,
          bias: B,
          activation: "relu",
        });
        const s = tf.matMul(h.reshape([2, 6, 5]), V); // [2, 6, 6]
        const t = tf.matMul(s, X, true, false); // [2, 6, 8]
        return tf.sum(tf.mul(t, tf.matMul(X, W.reshape([1, 8, 5]).tile([2, 1, 1]), false, false).sum()));
      });
      const out = g([tx, tw, tv, tbias]).map((t) => Array.from(t.dataSync()));
      tf.dispose([tx, tw, tv, tbias]);
      return out;
    };
    const got = tf.tidy(f);
    const want = await onCpu(() => tf.tidy(f));
    for (let i = 0; i < want.length; i++) assertClose(got[i], want[i], `grad ${i} on ${backend}`, 2e-4);
  });

  if (backend === "wasm") {
    it("agrees with tfjs's own wasm kernels where those are correct", () => {
      const a = tf.tensor(randArray(4 * 9 * 7, 10), [4, 9, 7]);
      const b = tf.tensor(randArray(4 * 5 * 7, 11), [4, 5, 7]);
      const ours = tf.matMul(a, b, false, true);
      removeKernelOverrides("wasm");
      try {
        const theirs = tf.matMul(a, b, false, true);
        assertClose(ours.dataSync(), theirs.dataSync(), "override vs tfjs");
        theirs.dispose();
      } finally {
        applyKernelOverrides("wasm");
      }
      tf.dispose([a, b, ours]);
    });

    it("does not leak wasm tensors", () => {
      const a = tf.tensor(randArray(3 * 9 * 7, 12), [3, 7, 9]);
      const b = tf.tensor(randArray(3 * 5 * 7, 13), [3, 5, 7]);
      const before = tf.memory().numTensors;
      const bytes = tf.memory().numBytes;
      for (let i = 0; i < 3; i++) tf.matMul(a, b, true, true).dispose();
      assert.equal(tf.memory().numTensors, before);
      assert.equal(tf.memory().numBytes, bytes);
      tf.dispose([a, b]);
    });
  }
}
