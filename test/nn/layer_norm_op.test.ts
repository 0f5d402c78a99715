import { strict as assert } from "node:assert";
import * as tf from "@tensorflow/tfjs";
import { LAYER_NORM_GRAD_KERNEL, LAYER_NORM_KERNEL, nativeKernelReady } from "../../lib/backend/kernels";
import { nativeStatus } from "../../lib/backend/addon/loader";
import { LayerNorm } from "../../lib/nn/layers";
import { layerNormOp } from "../../lib/nn/layer_norm_op";
import { alsoWithoutNative, describeBackends } from "../helpers/backends";
import { compareWithReference, kernelCounts, randVar, tapeOf } from "../helpers/grad_check";

/** LayerNorm written with elementary ops (autodiff gradients): the reference for the one-op version. */
function referenceLn(x: tf.Tensor, g: tf.Tensor, b: tf.Tensor, eps: number): tf.Tensor {
  const { mean, variance } = tf.moments(x, -1, true);
  const xhat = tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, eps)));
  return tf.add(tf.mul(xhat, g), b);
}

const CASES = [
  { name: "[B, T, D] tokens, trainable affine", shape: [2, 7, 24], eps: 1e-6, frozen: false },
  { name: "[B, T, D] tokens, frozen affine (LoRA)", shape: [2, 7, 24], eps: 1e-5, frozen: true },
  { name: "[B, D] pooled features (fc_norm)", shape: [5, 16], eps: 1e-12, frozen: false },
  { name: "D = 19, not a multiple of 8 (masked tails)", shape: [3, 5, 19], eps: 1e-6, frozen: false },
  { name: "D = 3, less than one vector", shape: [4, 3], eps: 1e-6, frozen: true },
  { name: "ViT-S rows, enough to split across threads", shape: [2, 197, 384], eps: 1e-6, frozen: true },
  { name: "rank 4, trainable", shape: [2, 3, 4, 40], eps: 1e-5, frozen: false },
];

describeBackends("layerNormOp", (backend) => {
  it("runs the native kernels exactly where the addon is in use", async () => {
    const expected = backend === "wasm" && nativeStatus().addon !== null;
    assert.equal(nativeKernelReady(LAYER_NORM_KERNEL), expected);
    const x = randVar([3, 4, 12], 4);
    const ln = new LayerNorm(12, 1e-6);
    const counts = await kernelCounts(() => {
      const g = tf.grad((v: tf.Tensor) => tf.sum(ln.forward(v)))(x);
      g.dispose();
    });
    assert.equal(counts.get(LAYER_NORM_KERNEL) ?? 0, expected ? 1 : 0);
    assert.equal(counts.get(LAYER_NORM_GRAD_KERNEL) ?? 0, expected ? 1 : 0);
    tf.dispose(x);
    ln.dispose();
  });
  lnCases();
  // Where the native addon computes LayerNorm, the same cases again on the composed ops.
  alsoWithoutNative(backend, "on composed tfjs ops", () => {
    it("the native kernel is not used", () => assert.equal(nativeKernelReady(LAYER_NORM_KERNEL), false));
    lnCases();
  });
});

function lnCases(): void {
  for (const c of CASES) {
    it(`${c.name}: forward and gradients within 1e-5 (relative) of the elementary ops`, () => {
      const d = c.shape[c.shape.length - 1];
      const x = randVar(c.shape, 1, 2);
      const g = randVar([d], 2);
      const b = randVar([d], 3);
      const vars = c.frozen ? [x] : [x, g, b];
      const grads = { gamma: !c.frozen, beta: !c.frozen };
      const r = compareWithReference(
        () => layerNormOp(tf.add(x, 0.5), g, b, c.eps, grads),
        () => referenceLn(tf.add(x, 0.5), g, b, c.eps),
        vars,
      );
      assert.deepEqual(r.missing, []);
      assert.ok(r.value < 1e-5, `forward rel diff ${r.value}`);
      for (const [k, v] of Object.entries(r.grads)) assert.ok(v < 1e-5, `d/d${k}: rel diff ${v}`);
      tf.dispose([x, g, b]);
    });
  }

  it("the LayerNorm module records one node: x̂ (or x and μ) and 1/σ saved, frozen γ/β not inputs", () => {
    const ln = new LayerNorm(12, 1e-6);
    ln.freeze();
    const x = randVar([3, 4, 12], 4);
    const nodes = tapeOf(() => ln.forward(x), [x]);
    assert.equal(nodes.length, 1, `nodes: ${nodes.map((n) => n.kernel)}`);
    assert.equal(nodes[0].inputs, 1);
    // Native: x, μ and 1/σ ([3, 4, 1] each); composed: x̂ and 1/σ.
    const saved = nativeKernelReady(LAYER_NORM_KERNEL) ? [x.size, 12, 12] : [x.size, 12];
    assert.deepEqual(nodes[0].savedSizes, saved);
    ln.unfreeze();
    const trainable = tapeOf(() => ln.forward(x), [x, ln.weight.variable]);
    assert.equal(trainable[0].inputs, 3);
    tf.dispose(x);
    ln.dispose();
  });
}
