import { strict as assert } from "node:assert";
import * as tf from "@tensorflow/tfjs";
import { LayerNorm } from "../../lib/nn/layers";
import { layerNormOp } from "../../lib/nn/layer_norm_op";
import { describeBackends } from "../helpers/backends";
import { compareWithReference, randVar, tapeOf } from "../helpers/grad_check";

/** LayerNorm written with elementary ops (autodiff gradients): the reference for the one-op version. */
function referenceLn(x: tf.Tensor, g: tf.Tensor, b: tf.Tensor, eps: number): tf.Tensor {
  const { mean, variance } = tf.moments(x, -1, true);
  const xhat = tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, eps)));
  return tf.add(tf.mul(xhat, g), b);
}

describeBackends("layerNormOp", () => {
  const cases = [
    { name: "[B, T, D] tokens, trainable affine", shape: [2, 7, 24], eps: 1e-6, frozen: false },
    { name: "[B, T, D] tokens, frozen affine (LoRA)", shape: [2, 7, 24], eps: 1e-5, frozen: true },
    { name: "[B, D] pooled features (fc_norm)", shape: [5, 16], eps: 1e-12, frozen: false },
  ];
  for (const c of cases) {
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

  it("the LayerNorm module records one node: x̂ and 1/σ saved, frozen γ/β not inputs", () => {
    const ln = new LayerNorm(12, 1e-6);
    ln.freeze();
    const x = randVar([3, 4, 12], 4);
    const nodes = tapeOf(() => ln.forward(x), [x]);
    assert.equal(nodes.length, 1, `nodes: ${nodes.map((n) => n.kernel)}`);
    assert.equal(nodes[0].inputs, 1);
    assert.deepEqual(nodes[0].savedSizes, [x.size, 12]);
    ln.unfreeze();
    const trainable = tapeOf(() => ln.forward(x), [x, ln.weight.variable]);
    assert.equal(trainable[0].inputs, 3);
    tf.dispose(x);
    ln.dispose();
  });
});
