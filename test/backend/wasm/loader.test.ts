import { strict as assert } from "node:assert";
import * as tf from "@tensorflow/tfjs";
import { describeBackends } from "../../helpers/backends";
import { SIMD_KERNELS_WASM_BASE64 } from "../../../lib/backend/wasm/simd_kernels_wasm";
import { simdModule } from "../../../lib/backend/wasm/loader";
import { randArray } from "../kernels/reference";

/** Section ids of a wasm binary, in order (enough to see what the module would do at instantiation). */
function sectionIds(bytes: Uint8Array): number[] {
  const ids: number[] = [];
  let at = 8; // magic + version
  while (at < bytes.length) {
    const id = bytes[at++];
    let size = 0;
    for (let shift = 0; ; shift += 7) {
      const b = bytes[at++];
      size |= (b & 0x7f) << shift;
      if (!(b & 0x80)) break;
    }
    ids.push(id);
    at += size;
  }
  return ids;
}

describe("simd_kernels.wasm as loaded", () => {
  it("imports only env.memory and has no data segment (it runs on tfjs's memory)", () => {
    const bytes = Buffer.from(SIMD_KERNELS_WASM_BASE64, "base64");
    const WA = (globalThis as unknown as { WebAssembly: { Module: { imports(m: object): object[] } } }).WebAssembly;
    assert.deepEqual(WA.Module.imports(simdModule()), [{ module: "env", name: "memory", kind: "memory" }]);
    assert.ok(!sectionIds(bytes).includes(11), "a data section would overwrite tfjs memory at instantiation");
  });
});

describeBackends("simd_kernels.wasm on tfjs's heap", (backend) => {
  if (backend !== "wasm") return;
  const attrs = { strides: [2, 2], pad: "same", dilations: [1, 1] };

  it("writes only its output: tensors allocated around it keep their values", () => {
    const guards = [0, 1, 2].map((i) => tf.tensor(randArray(4099, 40 + i)));
    const before = guards.map((t) => Float32Array.from(t.dataSync()));
    const x = tf.tensor(randArray(2 * 9 * 7 * 21, 50), [2, 9, 7, 21]);
    const dy = tf.tensor(randArray(2 * 5 * 4 * 21, 51), [2, 5, 4, 21]);
    const w = tf.tensor(randArray(9 * 21, 52), [3, 3, 21, 1]);
    const gw = tf.engine().runKernel("DepthwiseConv2dNativeBackpropFilter", { x, dy }, {
      ...attrs,
      filterShape: [3, 3, 21, 1],
    } as tf.NamedAttrMap) as tf.Tensor;
    const gx = tf.engine().runKernel("DepthwiseConv2dNativeBackpropInput", { dy, filter: w }, {
      ...attrs,
      inputShape: [2, 9, 7, 21],
    } as tf.NamedAttrMap) as tf.Tensor;
    guards.forEach((t, i) => assert.deepEqual(t.dataSync(), before[i], `guard tensor ${i} was overwritten`));
    assert.deepEqual(x.dataSync(), randArray(2 * 9 * 7 * 21, 50), "x was overwritten");
    assert.ok(gw.dataSync().some((v) => v !== 0) && gx.dataSync().some((v) => v !== 0));
    tf.dispose([...guards, x, dy, w, gw, gx]);
  });

  it("does not leak tensors through tf.grads of depthwiseConv2d", () => {
    const x = tf.tensor(randArray(2 * 8 * 8 * 24, 60), [2, 8, 8, 24]) as tf.Tensor4D;
    const w = tf.tensor(randArray(9 * 24, 61), [3, 3, 24, 1]) as tf.Tensor4D;
    const g = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
      tf.sum(tf.depthwiseConv2d(a as tf.Tensor4D, b as tf.Tensor4D, 2, "same")),
    );
    tf.dispose(g([x, w])); // warm-up: instantiates the module once
    const { numTensors, numBytes } = tf.memory();
    for (let i = 0; i < 3; i++) tf.dispose(g([x, w]));
    assert.equal(tf.memory().numTensors, numTensors);
    assert.equal(tf.memory().numBytes, numBytes);
    tf.dispose([x, w]);
  });
});

describeBackends("SIMD GEMM for batched matmul slices", (backend) => {
  if (backend !== "wasm") return;
  it("each batch slice equals the 2D GEMM of that slice bit for bit", () => {
    const [bs, m, k, n] = [3, 37, 64, 45];
    const a = tf.tensor(randArray(bs * m * k, 70), [bs, m, k]);
    const b = tf.tensor(randArray(bs * k * n, 71), [bs, k, n]);
    const batched = tf.matMul(a, b); // per-slice SIMD GEMM
    for (let s = 0; s < bs; s++) {
      const want = tf.tidy(() =>
        tf.matMul(a.slice([s, 0, 0], [1, m, k]).reshape([m, k]), b.slice([s, 0, 0], [1, k, n]).reshape([k, n])),
      );
      const got = batched.slice([s, 0, 0], [1, m, n]);
      assert.deepEqual(got.dataSync(), want.dataSync(), `slice ${s}`);
      tf.dispose([want, got]);
    }
    tf.dispose([a, b, batched]);
  });
});
