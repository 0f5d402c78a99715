import { strict as assert } from "node:assert";
import * as tf from "@tensorflow/tfjs";
import {
  AdaptiveAvgPool2d,
  BatchNorm2d,
  Conv2d,
  Linear,
  Module,
  Sequential,
  SeedSequence,
  permute,
  tfToTorch,
  torchToTf,
  type ParamLayout,
} from "../../lib/nn";
import { CheckpointError, ConfigError } from "../../lib/errors";
import { hostTensor } from "../../lib/io/host_tensor";
import { describeBackends, maxAbsDiff } from "../helpers/backends";

class Tiny extends Module {
  readonly body = this.registerModule("body", new Sequential(new Conv2d(3, 4, 3, { padding: 1 }), new BatchNorm2d(4)));
  readonly head = this.registerModule("head", new Linear(4, 2, { seeds: new SeedSequence(1) }));
  forward(x: tf.Tensor): tf.Tensor {
    return this.head.apply(tf.mean(this.body.apply(x), [1, 2]));
  }
}

describe("nn layout conversion", () => {
  const cases: [ParamLayout, number[]][] = [
    ["linear", [3, 5]],
    ["conv2d", [6, 2, 3, 3]],
    ["depthwise", [8, 1, 3, 3]],
    ["none", [7]],
  ];
  for (const [layout, shape] of cases) {
    it(`${layout}: torch → tfjs → torch is the identity`, () => {
      const n = shape.reduce((a, b) => a * b, 1);
      const h = hostTensor(
        Float32Array.from({ length: n }, (_, i) => i),
        shape,
      );
      const back = tfToTorch(torchToTf(h, layout), layout);
      assert.deepEqual(back.shape, shape);
      assert.deepEqual(Array.from(back.data as Float32Array), Array.from(h.data as Float32Array));
    });
  }
  it("linear [out,in] becomes [in,out] with W[o,i] at [i,o]", () => {
    const h = hostTensor(Float32Array.from([1, 2, 3, 4, 5, 6]), [2, 3]);
    const t = torchToTf(h, "linear");
    assert.deepEqual(t.shape, [3, 2]);
    assert.deepEqual(Array.from(t.data as Float32Array), [1, 4, 2, 5, 3, 6]);
  });
  it("depthwise [C*m,1,kh,kw] maps channel c*m+j to [.., c, j]", () => {
    // C=2, m=2, k=1: torch channels 0..3 hold 10,11,12,13.
    const h = hostTensor(Float32Array.from([10, 11, 12, 13]), [4, 1, 1, 1]);
    const t = torchToTf(h, "depthwise");
    assert.deepEqual(t.shape, [1, 1, 4, 1]);
    assert.deepEqual(Array.from(t.data as Float32Array), [10, 11, 12, 13]);
    const p = permute(hostTensor(Float32Array.from([0, 1, 2, 3, 4, 5]), [2, 3]), [1, 0]);
    assert.deepEqual(Array.from(p.data as Float32Array), [0, 3, 1, 4, 2, 5]);
  });
});

describeBackends("nn Module tree", () => {
  it("names parameters and buffers at dotted paths, in registration order", () => {
    const m = new Tiny();
    assert.deepEqual(
      m.namedParameters().map(([n]) => n),
      ["body.0.weight", "body.0.bias", "body.1.weight", "body.1.bias", "head.weight", "head.bias"],
    );
    assert.deepEqual(
      m.namedBuffers().map(([n]) => n),
      ["body.1.running_mean", "body.1.running_var", "body.1.num_batches_tracked"],
    );
    assert.equal(m.numParameters(), 4 * 3 * 9 + 4 + 4 + 4 + 8 + 2);
    m.dispose();
  });

  it("freezes and unfreezes by prefix, glob and RegExp; an unmatched pattern is an error", () => {
    const m = new Tiny();
    m.freeze();
    assert.equal(m.numParameters({ trainableOnly: true }), 0);
    assert.deepEqual(m.unfreeze("head"), ["head.weight", "head.bias"]);
    assert.deepEqual(m.unfreeze("body.*.bias"), ["body.0.bias", "body.1.bias"]);
    assert.deepEqual(m.freeze(/weight$/), ["body.0.weight", "body.1.weight", "head.weight"]);
    assert.equal(m.trainableVariables().length, 3);
    assert.throws(() => m.freeze("blocks.0"), ConfigError);
    m.dispose();
  });

  it("stateDict → loadStateDict restores outputs exactly, with int64 num_batches_tracked", () => {
    const a = new Tiny();
    const b = new Tiny();
    const x = tf.randomNormal([2, 5, 5, 3], 0, 1, "float32", 3);
    a.train();
    a.apply(x).dispose(); // moves running stats
    a.eval();
    b.eval();
    const sd = a.stateDict();
    assert.equal(sd.get("body.1.num_batches_tracked")?.dtype, "int64");
    assert.deepEqual(sd.get("body.0.weight")?.shape, [4, 3, 3, 3]);
    assert.deepEqual(sd.get("head.weight")?.shape, [2, 4]);
    b.loadStateDict(sd);
    assert.equal(maxAbsDiff(a.apply(x), b.apply(x)), 0);
    a.dispose();
    b.dispose();
  });

  it("strict loading names missing, unexpected and mis-shaped keys in PyTorch's wording", () => {
    const m = new Tiny();
    const sd = m.stateDict();
    sd.delete("head.bias");
    sd.set("extra.weight", hostTensor(new Float32Array(1), [1]));
    sd.set("head.weight", hostTensor(new Float32Array(6), [3, 2]));
    assert.throws(
      () => m.loadStateDict(sd),
      (e: unknown) =>
        e instanceof CheckpointError &&
        /Missing key\(s\) in state_dict: "head.bias"/.test(e.message) &&
        /Unexpected key\(s\) in state_dict: "extra.weight"/.test(e.message) &&
        /size mismatch for head.weight: copying a param with shape torch.Size\(\[3, 2\]\)/.test(e.message),
    );
    sd.set("head.weight", hostTensor(new Float32Array(8), [2, 4]));
    const r = m.loadStateDict(sd, { strict: false });
    assert.deepEqual(r, { missingKeys: ["head.bias"], unexpectedKeys: ["extra.weight"] });
    m.dispose();
  });

  it("BatchNorm2d follows PyTorch: biased var to normalise, unbiased var and momentum 0.1 for running stats", () => {
    const bn = new BatchNorm2d(1);
    const data = [1, 2, 3, 6];
    const x = tf.tensor4d(data, [1, 2, 2, 1]);
    bn.train();
    const y = bn.apply(x).dataSync();
    const mean = 3;
    const varB = data.reduce((a, v) => a + (v - mean) ** 2, 0) / 4;
    const varU = (varB * 4) / 3;
    data.forEach((v, i) => assert.ok(Math.abs(y[i] - (v - mean) / Math.sqrt(varB + 1e-5)) < 1e-5));
    assert.ok(Math.abs(bn.runningMean.dataSync()[0] - 0.1 * mean) < 1e-6);
    assert.ok(Math.abs(bn.runningVar.dataSync()[0] - (0.9 + 0.1 * varU)) < 1e-6);
    assert.equal(bn.numBatchesTracked.dataSync()[0], 1);
    bn.dispose();
  });

  it("grouped Conv2d equals per-group convolutions concatenated", () => {
    const conv = new Conv2d(4, 6, 3, { groups: 2, padding: 1, seeds: new SeedSequence(5) });
    const x = tf.randomNormal([1, 4, 4, 4], 0, 1, "float32", 9);
    const w = conv.weight.variable;
    const ref = tf
      .concat(
        [0, 1].map((g) =>
          tf.conv2d(
            x.slice([0, 0, 0, 2 * g], [1, 4, 4, 2]) as tf.Tensor4D,
            w.slice([0, 0, 0, 3 * g], [3, 3, 2, 3]) as tf.Tensor4D,
            1,
            1,
          ),
        ),
        3,
      )
      .add(conv.bias!.variable);
    assert.ok(maxAbsDiff(conv.apply(x), ref) < 1e-5);
    conv.dispose();
  });

  it("AdaptiveAvgPool2d uses PyTorch's overlapping bins", () => {
    const x = tf.tensor4d([1, 2, 3, 4, 5], [1, 1, 5, 1]);
    const y = new AdaptiveAvgPool2d([1, 3]).apply(x).dataSync();
    // bins over width 5 → 3: [0,2) [1,4) [3,5)
    assert.deepEqual(Array.from(y), [1.5, 3, 4.5]);
  });

  it("setSubmodule swaps a child and the parent's field follows", () => {
    const m = new Tiny();
    const old = m.setSubmodule("head", new Linear(4, 3));
    assert.ok(old instanceof Linear);
    assert.equal((m.head as Linear).outFeatures, 3);
    assert.deepEqual(m.apply(tf.zeros([1, 2, 2, 3])).shape, [1, 3]);
    const first = m.getSubmodule("body.0");
    m.setSubmodule("body.0", new Conv2d(3, 4, 1));
    assert.notEqual(m.getSubmodule("body.0"), first);
    assert.equal((m.body.layers[0] as Conv2d).kernelSize, 1);
    m.dispose();
  });
});
