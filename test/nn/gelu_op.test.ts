import { strict as assert } from "node:assert";
import * as tf from "@tensorflow/tfjs";
import { gelu } from "../../lib/nn/layers";
import { geluErfOp } from "../../lib/nn/gelu_op";
import { describeBackends } from "../helpers/backends";
import { compareWithReference, randVar, tapeOf } from "../helpers/grad_check";

/** Exact GELU with elementary ops (autodiff through erf): the reference. */
function referenceGelu(x: tf.Tensor): tf.Tensor {
  return tf.mul(tf.mul(0.5, x), tf.add(1, tf.erf(tf.mul(x, Math.SQRT1_2))));
}

describeBackends("geluErfOp", () => {
  const cases = [
    { name: "small values around 0", shape: [4, 33], scale: 1 },
    { name: "wide range (tails of erf)", shape: [2, 5, 40], scale: 4 },
  ];
  for (const c of cases) {
    it(`${c.name}: forward and gradient within 1e-5 (relative) of the elementary ops`, () => {
      const x = randVar(c.shape, 7, c.scale);
      const r = compareWithReference(
        () => geluErfOp(x),
        () => referenceGelu(x),
        [x],
      );
      assert.deepEqual(r.missing, []);
      assert.ok(r.value < 1e-5, `forward rel diff ${r.value}`);
      assert.ok(r.grads[x.name] < 1e-5, `gradient rel diff ${r.grads[x.name]}`);
      x.dispose();
    });
  }

  it("gelu(x) records one node keeping one x-sized tensor (the elementary ops kept more)", () => {
    const x = randVar([3, 10], 8);
    const lean = tapeOf(() => gelu(x), [x]);
    const naive = tapeOf(() => referenceGelu(x), [x]);
    assert.equal(lean.length, 1);
    assert.deepEqual(lean[0].savedSizes, [x.size]);
    const naiveSaved = naive.flatMap((n) => n.savedSizes).filter((s) => s === x.size).length;
    assert.ok(naiveSaved >= 3, `elementary ops keep ${naiveSaved} full-size tensors`);
    x.dispose();
  });
});
