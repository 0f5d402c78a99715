/** Shared checks for the CNN tests. */
import { strict as assert } from "node:assert";
import * as tf from "@tensorflow/tfjs";
import { Conv2d } from "../../lib/nn/layers";
import type { Module } from "../../lib/nn/module";

/** Backward kernels `model` needs that `backend` lacks (stock wasm has no Conv2DBackpropFilter or depthwise backprop). */
export function missingBackwardKernels(backend: string, model: Module): string[] {
  const convs = model.namedModules().filter(([, m]) => m instanceof Conv2d) as [string, Conv2d][];
  const need = ["Conv2DBackpropFilter", "Conv2DBackpropInput"];
  if (convs.some(([, m]) => m.depthwise))
    need.push("DepthwiseConv2dNativeBackpropFilter", "DepthwiseConv2dNativeBackpropInput");
  return need.filter((k) => tf.getKernel(k, backend) === undefined);
}

/** Runs a training-mode step: every trainable parameter gets a finite gradient, and every kernel a non-zero one. */
export function checkBackward(model: Module, inputShape: number[], numClasses: number): void {
  model.train();
  const params = model.namedParameters().filter(([, p]) => p.trainable);
  const x = tf.randomNormal(inputShape, 0, 1, "float32", 7);
  const labels = tf.oneHot(
    tf.tensor1d(
      Array.from({ length: inputShape[0] }, (_, i) => i % numClasses),
      "int32",
    ),
    numClasses,
  );
  const { value, grads } = tf.variableGrads(
    () => tf.losses.softmaxCrossEntropy(labels, model.apply(x)) as tf.Scalar,
    params.map(([, p]) => p.variable),
  );
  assert.ok(Number.isFinite(value.dataSync()[0]), "loss is not finite");
  for (const [name, p] of params) {
    const g = grads[p.variable.name];
    assert.ok(g !== undefined, `no gradient for ${name}`);
    assert.deepEqual(g.shape, p.variable.shape, name);
    const d = g.dataSync();
    assert.ok(d.every(Number.isFinite), `non-finite gradient for ${name}`);
    // A BatchNorm bias followed (linearly) by conv → BatchNorm in training mode has an exactly zero gradient in theory
    // (the next batch mean absorbs it: MobileNetV2's linear bottlenecks), so only kernels must be non-zero.
    if (g.rank > 1)
      assert.ok(
        d.some((v) => v !== 0),
        `all-zero gradient for ${name}`,
      );
  }
  tf.dispose([x, labels, value, ...Object.values(grads)]);
  model.eval();
}
