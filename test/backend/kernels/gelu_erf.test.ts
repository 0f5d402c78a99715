import { strict as assert } from "node:assert";
import * as tf from "@tensorflow/tfjs";
import { GELU_ERF_KERNEL } from "../../../lib/backend/kernels";
import { geluErfComposed, geluErfForward } from "../../../lib/nn/gelu_op";
import { alsoWithoutNative, describeBackends } from "../../helpers/backends";
import { randArray } from "./reference";

/** erf in float64: Maclaurin series for |z| < 3, the asymptotic erfc series beyond (abs error < 1e-8 on both). */
function erf64(z: number): number {
  const a = Math.abs(z);
  if (a < 3) {
    let term = a;
    let sum = a;
    for (let n = 1; n < 80; n++) {
      term *= (-a * a) / n;
      sum += term / (2 * n + 1);
    }
    return Math.sign(z) * sum * (2 / Math.sqrt(Math.PI));
  }
  const w = 1 / (2 * a * a);
  const erfc = (Math.exp(-a * a) / (a * Math.sqrt(Math.PI))) * (1 - w + 3 * w * w - 15 * w ** 3 + 105 * w ** 4);
  return Math.sign(z) * (1 - erfc);
}

/** Exact GELU and GELU' in float64. */
function gelu64(x: number): [number, number] {
  const cdf = 0.5 * (1 + erf64(x * Math.SQRT1_2));
  return [x * cdf, cdf + (x * Math.exp(-0.5 * x * x)) / Math.sqrt(2 * Math.PI)];
}

const CASES = [
  { name: "empty", n: 0, scale: 1 },
  { name: "fewer than one vector (3)", n: 3, scale: 2 },
  { name: "one vector plus a tail (7)", n: 7, scale: 3 },
  { name: "around zero (1000)", n: 1000, scale: 0.01 },
  { name: "the MLP range (4099)", n: 4099, scale: 4 },
  { name: "far tails, exp clamped (513)", n: 513, scale: 40 },
  { name: "large enough for the native addon to split across threads (70001)", n: 70001, scale: 3 },
];

describeBackends("PeftlabGeluErf kernel", (backend) => {
  it("is registered on this backend", () => {
    assert.ok(tf.getKernel(GELU_ERF_KERNEL, tf.getBackend()) !== undefined);
  });
  geluCases();
  // Where the native addon computes GELU (AVX2), the same cases again on the wasm SIMD kernel.
  alsoWithoutNative(backend, "on peftlab's wasm SIMD kernel", () => {
    geluCases();
  });
});

function geluCases(): void {
  for (const c of CASES) {
    it(`${c.name}: GELU and GELU' within 3e-7·max(1,|x|) of float64 exact, and near the composed ops`, () => {
      const xs = randArray(c.n, c.n + 11).map((v) => v * c.scale);
      const x = tf.tensor1d(xs);
      const { y, dydx } = geluErfForward(x, true);
      const ref = geluErfComposed(x, true);
      const yv = y.dataSync();
      const gv = (dydx as tf.Tensor).dataSync();
      const ry = ref.y.dataSync();
      const rg = (ref.dydx as tf.Tensor).dataSync();
      assert.equal(yv.length, c.n);
      for (let i = 0; i < c.n; i++) {
        const [ey, eg] = gelu64(xs[i]);
        const tol = 3e-7 * Math.max(1, Math.abs(xs[i]));
        assert.ok(Math.abs(yv[i] - ey) <= tol, `y at x=${xs[i]}: ${yv[i]} vs ${ey}`);
        assert.ok(Math.abs(gv[i] - eg) <= tol, `dydx at x=${xs[i]}: ${gv[i]} vs ${eg}`);
        // tfjs's composed ops carry their own erf error: compare loosely, as a second opinion.
        const tol2 = 2e-6 * Math.max(1, Math.abs(xs[i]));
        assert.ok(Math.abs(yv[i] - ry[i]) <= tol2, `composed y at x=${xs[i]}: ${yv[i]} vs ${ry[i]}`);
        assert.ok(Math.abs(gv[i] - rg[i]) <= tol2, `composed dydx at x=${xs[i]}: ${gv[i]} vs ${rg[i]}`);
      }
      tf.dispose([x, y, dydx as tf.Tensor, ref.y, ref.dydx as tf.Tensor]);
    });
  }

  it("without withGrad returns GELU alone, equal to the withGrad output", () => {
    const x = tf.tensor2d(randArray(6 * 17, 5), [6, 17]);
    const a = geluErfForward(x, false);
    const b = geluErfForward(x, true);
    assert.equal(a.dydx, undefined);
    assert.deepEqual(a.y.shape, [6, 17]);
    assert.deepEqual(Array.from(a.y.dataSync()), Array.from(b.y.dataSync()));
    tf.dispose([x, a.y, b.y, b.dydx as tf.Tensor]);
  });

  it("NaN → NaN, +∞ → +∞, −∞ → NaN (−∞·0, as torch.nn.functional.gelu gives), 0 → 0", () => {
    const x = tf.tensor1d([NaN, Infinity, -Infinity, 0]);
    const { y } = geluErfForward(x, false);
    const v = Array.from(y.dataSync());
    assert.ok(Number.isNaN(v[0]));
    assert.equal(v[1], Infinity);
    assert.ok(Number.isNaN(v[2]), `GELU(-inf) = ${v[2]}`);
    assert.equal(v[3], 0);
    tf.dispose([x, y]);
  });
}
