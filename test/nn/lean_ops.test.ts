import { strict as assert } from "node:assert";
import * as tf from "@tensorflow/tfjs";
import { CHANNEL_AFFINE_KERNEL, CHANNEL_SUMS_KERNEL, RELU_GRAD_KERNEL } from "../../lib/backend/kernels";
import { Activation, BatchNorm2d } from "../../lib/nn/layers";
import { alsoWithoutNative, describeBackends, maxAbsDiff } from "../helpers/backends";

/** BatchNorm written with elementary ops (autodiff gradients): the reference for the one-op version. */
function referenceBn(bn: BatchNorm2d, x: tf.Tensor, g: tf.Tensor, b: tf.Tensor): tf.Tensor {
  const { mean, variance } = bn.training
    ? tf.moments(x, [0, 1, 2])
    : { mean: bn.runningMean as tf.Tensor, variance: bn.runningVar as tf.Tensor };
  const s = tf.mul(g, tf.rsqrt(tf.add(variance, bn.eps)));
  return tf.add(tf.mul(x, s), tf.sub(b, tf.mul(mean, s)));
}

/** Full-size tensors the tape keeps (saved inputs/outputs) while `f` runs under a gradient. */
function savedFullSize(f: () => tf.Tensor, size: number, vars: tf.Variable[]): number {
  let n = 0;
  const { value, grads } = tf.variableGrads(() => {
    const y = f();
    const tape = (tf.engine() as unknown as { state: { activeTape: { saved?: tf.Tensor[] }[] } }).state.activeTape;
    for (const node of tape) n += (node.saved ?? []).filter((t) => t.size === size).length;
    return tf.sum(tf.mul(y, y));
  }, vars);
  tf.dispose([value, ...Object.values(grads)]);
  return n;
}

const shape: [number, number, number, number] = [3, 5, 4, 6];

/** BatchNorm2d and ReLU/ReLU6 against the elementary ops, on whichever kernels are active. */
function bnCases(): void {
  const modes = [
    { name: "training", training: true, frozen: false },
    { name: "eval, trainable affine", training: false, frozen: false },
    { name: "eval, frozen affine (LoRA)", training: false, frozen: true },
  ];
  // wasm runs the per-channel kernels (native or SIMD): C = 3, 6, 10 and 20 take the vector loop and its tail; 162 rows are 3 blocks of
  // the float32 partial sums; a mean far from 0 checks that x − μ is formed before scaling.
  const inputs = [
    { shape, mean: 0.2, std: 1.3 },
    { shape: [2, 9, 9, 10] as [number, number, number, number], mean: 3, std: 0.5 },
    // Over 65536 elements: the native kernels split rows (and the sums' 64-row blocks) across threads.
    { shape: [4, 32, 32, 20] as [number, number, number, number], mean: -1, std: 2 },
    { shape: [2, 16, 16, 3] as [number, number, number, number], mean: 0.5, std: 1 },
  ];
  for (const m of modes.flatMap((mode) => inputs.map((input) => ({ ...mode, ...input })))) {
    it(`BatchNorm2d ${m.name} on [${m.shape}] (mean ${m.mean}): output and gradients equal the elementary-op version`, () => {
      const c = m.shape[3];
      const bn = new BatchNorm2d(c, { eps: 1e-3 });
      bn.weight.variable.assign(tf.randomUniform([c], 0.5, 1.5, "float32", 1));
      bn.bias.variable.assign(tf.randomUniform([c], -0.5, 0.5, "float32", 2));
      bn.runningMean.assign(tf.randomUniform([c], -0.3, 0.3, "float32", 3));
      bn.runningVar.assign(tf.randomUniform([c], 0.5, 2, "float32", 4));
      bn.train(m.training);
      if (m.frozen) bn.freeze();
      const x = tf.variable(tf.randomNormal(m.shape, m.mean, m.std, "float32", 5));
      const r = tf.randomNormal(m.shape, 0, 1, "float32", 6); // weights every output element differently
      const vars = [x, ...(m.frozen ? [] : [bn.weight.variable, bn.bias.variable])];
      const lossOf = (f: () => tf.Tensor) => () => tf.sum(tf.mul(f(), r)) as tf.Scalar;
      const runMean0 = bn.runningMean.dataSync().slice();
      const got = tf.variableGrads(
        lossOf(() => bn.forward(x)),
        vars,
      );
      if (m.training) assert.ok(maxAbsDiff(bn.runningMean, runMean0) > 1e-4, "running stats update in training");
      const want = tf.variableGrads(
        lossOf(() => referenceBn(bn, x, bn.weight.variable, bn.bias.variable)),
        vars,
      );
      assert.ok(Math.abs(got.value.dataSync()[0] - want.value.dataSync()[0]) < 1e-3, "loss");
      for (const v of vars) {
        const d = maxAbsDiff(got.grads[v.name], want.grads[v.name]);
        // dγ, dβ sum over every row (20480 in the largest case): the tolerance scales with the gradient's size.
        const scale = want.grads[v.name].dataSync().reduce((a, b) => Math.max(a, Math.abs(b)), 1);
        assert.ok(d < 2e-4 * scale, `d/d${v.name}: max diff ${d} (scale ${scale})`);
      }
      tf.dispose([x, r, got.value, want.value, ...Object.values(got.grads), ...Object.values(want.grads)]);
      bn.dispose();
    });
  }

  for (const kind of ["relu", "relu6"] as const) {
    it(`${kind}: gradient from the output equals PyTorch's mask (0 at the kinks)`, () => {
      const x = tf.tensor1d([-2, -0.5, 0, 0.5, 3, 6, 7.5]);
      const g = tf.grad((t: tf.Tensor) => tf.sum(new Activation(kind).forward(t)))(x);
      const want = kind === "relu" ? [0, 0, 0, 1, 1, 1, 1] : [0, 0, 0, 1, 1, 0, 0];
      assert.deepEqual(Array.from(g.dataSync()), want);
      tf.dispose([x, g]);
    });
  }
}

describeBackends("BatchNorm2d and ReLU6 as single recorded ops", (backend) => {
  it(`${backend === "wasm" ? "uses" : "falls back from"} peftlab's per-channel kernels`, () => {
    for (const k of [CHANNEL_SUMS_KERNEL, CHANNEL_AFFINE_KERNEL, RELU_GRAD_KERNEL]) {
      assert.equal(tf.getKernel(k, tf.getBackend()) !== undefined, backend === "wasm", k);
    }
  });

  bnCases();
  // Where the native addon runs these kernels (AVX2, all cores), the same cases again on the wasm SIMD build.
  alsoWithoutNative(backend, "on the wasm SIMD kernels", () => {
    bnCases();
  });

  it("a training BatchNorm → ReLU6 keeps one full-size tensor on the tape (the elementary ops kept five)", () => {
    const bn = new BatchNorm2d(6);
    const act = new Activation("relu6");
    const x = tf.variable(tf.randomNormal(shape, 0, 2, "float32", 7));
    const size = x.size;
    const lean = savedFullSize(() => act.forward(bn.forward(x)), size, [x, bn.weight.variable]);
    const naive = savedFullSize(() => tf.relu6(referenceBn(bn, x, bn.weight.variable, bn.bias.variable)), size, [
      x,
      bn.weight.variable,
    ]);
    assert.ok(lean <= 2, `lean ops keep ${lean} full-size tensors`); // x for BN, the ReLU6 output
    assert.ok(naive >= lean + 3, `elementary ops keep ${naive}`);
    tf.dispose(x);
    bn.dispose();
  });
});
