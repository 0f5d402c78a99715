import { strict as assert } from "node:assert";
import * as tf from "@tensorflow/tfjs";
import { Linear } from "../../lib/nn/layers";
import { LoraLinear } from "../../lib/peft/lora/layer";
import type { QkvPart } from "../../lib/peft/lora/config";
import { describeBackends } from "../helpers/backends";
import { compareWithReference, kernelCounts, randVar, tapeOf } from "../helpers/grad_check";

/** y = x·W + b + (x·A)·(B⊙mask)·s with elementary ops (autodiff gradients): the reference. */
function refLora(x: tf.Tensor, l: LoraLinear): tf.Tensor {
  const base = l.base as Linear;
  const x2 = x.reshape([-1, base.inFeatures]) as tf.Tensor2D;
  let y = tf.matMul(x2, base.weight.variable as tf.Tensor2D);
  if (base.bias) y = tf.add(y, base.bias.variable);
  const b = l.bMask ? tf.mul(l.loraB.weight.variable, l.bMask) : l.loraB.weight.variable;
  const d = tf.matMul(tf.matMul(x2, l.loraA.weight.variable as tf.Tensor2D), b as tf.Tensor2D);
  return tf.add(y, tf.mul(d, l.scaling)).reshape([...x.shape.slice(0, -1), base.outFeatures]);
}

function makeLora(parts?: QkvPart[], baseTrainable = false): LoraLinear {
  const base = new Linear(12, 24);
  const l = new LoraLinear(base, { r: 3, scaling: 2, dropout: 0, init: false, seed: 4, qkvParts: parts });
  if (!baseTrainable) base.freeze();
  return l;
}

describeBackends("loraLinearOp (LoraLinear.forward)", () => {
  const cases = [
    { name: "frozen base (LoRA)", parts: undefined, baseTrainable: false },
    { name: "fused qkv sliced to q and v (mask on B)", parts: ["q", "v"] as QkvPart[], baseTrainable: false },
    { name: "trainable base", parts: undefined, baseTrainable: true },
  ];
  for (const c of cases) {
    it(`${c.name}: forward and gradients within 1e-5 (relative) of the elementary ops`, () => {
      const l = makeLora(c.parts, c.baseTrainable);
      const x = randVar([2, 5, 12], 1);
      const vars = [
        x,
        ...l
          .namedParameters()
          .filter(([, p]) => p.trainable)
          .map(([, p]) => p.variable),
      ];
      assert.equal(vars.length, c.baseTrainable ? 5 : 3);
      const r = compareWithReference(
        () => l.forward(x),
        () => refLora(x, l),
        vars,
      );
      assert.deepEqual(r.missing, []);
      assert.ok(r.value < 1e-5, `forward rel diff ${r.value}`);
      for (const [k, v] of Object.entries(r.grads)) assert.ok(v < 1e-5, `d/d${k}: rel diff ${v}`);
      tf.dispose(x);
      l.dispose();
    });
  }

  it("with a frozen base: one node, x kept once, one GEMM over the tokens, and no dW matmul in the backward", async () => {
    const l = makeLora();
    const x = randVar([2, 5, 12], 2);
    const vars = [x, l.loraA.weight.variable, l.loraB.weight.variable];
    const nodes = tapeOf(() => l.forward(x), vars);
    assert.equal(nodes.length, 1);
    assert.equal(nodes[0].inputs, 3, "x, A, B; W and b are closed over");
    assert.deepEqual(nodes[0].savedSizes, [x.size], "x only");
    const counts = await kernelCounts(() => {
      const g = tf.variableGrads(() => tf.sum(l.forward(x)) as tf.Scalar, vars);
      tf.dispose([g.value, ...Object.values(g.grads)]);
    });
    // forward: A·Bs, x·(W + A·Bs); backward: A·Bs, dy·(W + A·Bs)ᵀ, dy·Bsᵀ, xᵀ·g, x·A, (x·A)ᵀ·dy — no xᵀ·dy for W.
    const mm = (counts.get("BatchMatMul") ?? 0) + (counts.get("_FusedMatMul") ?? 0);
    assert.equal(mm, 8);
    const fwd = await kernelCounts(() => tf.dispose(l.forward(x)));
    assert.equal(fwd.get("_FusedMatMul"), 1, "one GEMM over the N tokens");
    assert.equal(fwd.get("BatchMatMul"), 1, "A·Bs only ([in, r]×[r, out])");
    tf.dispose(x);
    l.dispose();
  });
});
