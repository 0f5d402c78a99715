import { strict as assert } from "node:assert";
import * as tf from "@tensorflow/tfjs";
import { describeBackends } from "../helpers/backends";
import { ShapeError } from "../../lib/errors";
import { attentionQkvOp } from "../../lib/models/vit_attention_op";
import { attention } from "../../lib/models/vit_blocks";
import { assertClose, onCpu, randArray, sizeOf } from "../backend/kernels/reference";

/** float64 softmax(q·kᵀ·scale)·v, one (batch·head) slice at a time, for [S, T, Dh] data. */
function naiveAttention(
  q: Float32Array,
  k: Float32Array,
  v: Float32Array,
  s: number,
  t: number,
  dh: number,
  scale: number,
) {
  const out = new Float64Array(s * t * dh);
  for (let b = 0; b < s; b++) {
    for (let i = 0; i < t; i++) {
      const row = new Float64Array(t);
      let max = -Infinity;
      for (let j = 0; j < t; j++) {
        let acc = 0;
        for (let d = 0; d < dh; d++) acc += q[(b * t + i) * dh + d] * k[(b * t + j) * dh + d];
        row[j] = acc * scale;
        max = Math.max(max, row[j]);
      }
      let sum = 0;
      for (let j = 0; j < t; j++) sum += row[j] = Math.exp(row[j] - max);
      for (let d = 0; d < dh; d++) {
        let acc = 0;
        for (let j = 0; j < t; j++) acc += (row[j] / sum) * v[(b * t + j) * dh + d];
        out[(b * t + i) * dh + d] = acc;
      }
    }
  }
  return out;
}

const SHAPES: [string, number[]][] = [
  ["[B,H,T,Dh] = [2,3,7,8]", [2, 3, 7, 8]],
  ["batch 1, one head, odd T", [1, 1, 13, 5]],
  ["ViT-like T=197 (1 image, 2 heads)", [1, 2, 197, 16]],
];

describeBackends("ViT attention: attention() (the dropout path) and attentionQkvOp", (backend) => {
  for (const [name, shape] of SHAPES) {
    it(`${name} matches a float64 reference`, () => {
      const [q, k, v] = [1, 2, 3].map((s) => randArray(sizeOf(shape), s));
      const dh = shape[3];
      const scale = 1 / Math.sqrt(dh);
      const got = tf.tidy(() => attention(tf.tensor(q, shape), tf.tensor(k, shape), tf.tensor(v, shape), scale));
      assert.deepEqual(got.shape, shape);
      assertClose(got.dataSync(), naiveAttention(q, k, v, shape[0] * shape[1], shape[2], dh, scale), name);
      got.dispose();
    });
  }

  it("gradients w.r.t. q, k, v match tfjs's cpu backend", async () => {
    const shape = [2, 3, 9, 4];
    const [q, k, v, r] = [4, 5, 6, 7].map((s) => randArray(sizeOf(shape), s));
    const f = () =>
      tf.tidy(() => {
        const g = tf.grads((Q: tf.Tensor, K: tf.Tensor, V: tf.Tensor) =>
          tf.sum(tf.mul(attention(Q, K, V, 0.5), tf.tensor(r, shape))),
        );
        return g([tf.tensor(q, shape), tf.tensor(k, shape), tf.tensor(v, shape)]).map((t) => Array.from(t.dataSync()));
      });
    const got = f();
    const want = await onCpu(f);
    ["dq", "dk", "dv"].forEach((n, i) => assertClose(got[i], want[i], `${n} on ${backend}`));
  });

  it("attentionQkvOp equals splitting heads by hand", () => {
    const [b, t, heads, dh] = [2, 5, 3, 4];
    const d = heads * dh;
    const qkv = tf.tensor(randArray(b * t * 3 * d, 8), [b, t, 3 * d]);
    const got = attentionQkvOp(qkv, heads, 1 / Math.sqrt(dh));
    const want = tf.tidy(() => {
      const split = (i: number) =>
        tf
          .slice(qkv, [0, 0, i * d], [b, t, d])
          .reshape([b, t, heads, dh])
          .transpose([0, 2, 1, 3]);
      const o = attention(split(0), split(1), split(2), 1 / Math.sqrt(dh));
      return o.transpose([0, 2, 1, 3]).reshape([b, t, d]);
    });
    assert.deepEqual(got.shape, [b, t, d]);
    assertClose(got.dataSync(), want.dataSync(), "qkv");
    tf.dispose([qkv, got, want]);
  });

  it("attentionQkvOp rejects a qkv width that is not 3·D with D divisible by heads, with a ShapeError", () => {
    const bad = tf.zeros([1, 5, 10]);
    assert.throws(() => attentionQkvOp(bad, 4, 1), ShapeError);
    bad.dispose();
  });
});
