import { strict as assert } from "node:assert";
import * as tf from "@tensorflow/tfjs";
import { denseOf, linearOp, mlpGeluOp } from "../../lib/nn/linear_op";
import { gelu, Linear } from "../../lib/nn/layers";
import { describeBackends } from "../helpers/backends";
import { compareWithReference, kernelCounts, randVar, tapeOf } from "../helpers/grad_check";

/** A Linear with elementary ops (no fused kernel, autodiff gradients). */
function refLinear(x: tf.Tensor, l: Linear): tf.Tensor {
  const y = tf.matMul(x.reshape([-1, l.inFeatures]), l.weight.variable as tf.Tensor2D);
  return (l.bias ? tf.add(y, l.bias.variable) : y).reshape([...x.shape.slice(0, -1), l.outFeatures]);
}

/** Reference MLP: Linear → erf GELU (elementary ops) → Linear. */
function refMlp(x: tf.Tensor, fc1: Linear, fc2: Linear): tf.Tensor {
  const h = refLinear(x, fc1);
  return refLinear(tf.mul(tf.mul(0.5, h), tf.add(1, tf.erf(tf.mul(h, Math.SQRT1_2)))), fc2);
}

function check(r: ReturnType<typeof compareWithReference>): void {
  assert.deepEqual(r.missing, []);
  assert.ok(r.value < 1e-5, `forward rel diff ${r.value}`);
  for (const [k, v] of Object.entries(r.grads)) assert.ok(v < 1e-5, `d/d${k}: rel diff ${v}`);
}

describeBackends("linearOp and mlpGeluOp", () => {
  const modes = [
    { name: "trainable", freeze: [] as string[] },
    { name: "frozen (LoRA base)", freeze: ["weight", "bias"] },
    { name: "frozen weight, trainable bias (BitFit)", freeze: ["weight"] },
  ];
  for (const m of modes) {
    it(`linearOp, ${m.name}: forward and gradients within 1e-5 (relative)`, () => {
      const l = new Linear(12, 20);
      for (const n of m.freeze) l.freeze(n);
      const x = randVar([2, 5, 12], 3);
      const vars = [
        x,
        ...l
          .namedParameters()
          .map(([, p]) => p)
          .filter((p) => p.trainable)
          .map((p) => p.variable),
      ];
      check(
        compareWithReference(
          () => linearOp(x, denseOf(l)),
          () => refLinear(x, l),
          vars,
        ),
      );
      tf.dispose(x);
      l.dispose();
    });

    it(`mlpGeluOp, ${m.name}: forward and gradients within 1e-5 (relative)`, () => {
      const fc1 = new Linear(8, 32);
      const fc2 = new Linear(32, 8);
      for (const n of m.freeze) [fc1, fc2].forEach((l) => l.freeze(n));
      const x = randVar([3, 4, 8], 5, 2);
      const params = [...fc1.namedParameters(), ...fc2.namedParameters()].map(([, p]) => p).filter((p) => p.trainable);
      const vars = [x, ...params.map((p) => p.variable)];
      check(
        compareWithReference(
          () => mlpGeluOp(x, denseOf(fc1), denseOf(fc2)),
          () => refMlp(x, fc1, fc2),
          vars,
        ),
      );
      tf.dispose(x);
      fc1.dispose();
      fc2.dispose();
    });
  }

  it("a frozen MLP keeps one [N, hidden] tensor (GELU') and its backward runs 2 matmuls (fused.matMul ran 4)", async () => {
    const fc1 = new Linear(8, 32);
    const fc2 = new Linear(32, 8);
    fc1.freeze();
    fc2.freeze();
    const x = randVar([2, 6, 8], 9);
    const nodes = tapeOf(() => mlpGeluOp(x, denseOf(fc1), denseOf(fc2)), [x]);
    assert.equal(nodes.length, 1);
    assert.equal(nodes[0].inputs, 1, "frozen weights are not op inputs");
    assert.deepEqual(
      nodes[0].savedSizes.filter((n) => n > 0),
      [2 * 6 * 32],
    );
    const matmuls = async (f: (t: tf.Tensor) => tf.Tensor) => {
      const k = await kernelCounts(() => {
        const g = tf.grad((t: tf.Tensor) => tf.sum(f(t)))(x);
        g.dispose();
      });
      return (k.get("BatchMatMul") ?? 0) + (k.get("_FusedMatMul") ?? 0);
    };
    const lean = await matmuls((t) => mlpGeluOp(t, denseOf(fc1), denseOf(fc2)));
    const plain = await matmuls((t) => fc2.forward(gelu(fc1.forward(t))));
    assert.equal(lean, 4, "2 forward + 2 backward (dx only)");
    assert.equal(plain, 6, "2 forward + 4 backward (dx and the unused dW)");
    tf.dispose(x);
    fc1.dispose();
    fc2.dispose();
  });
});
