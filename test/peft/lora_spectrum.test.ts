/** Exact ΔW singular values of LoRA layers vs direct computations on the dense ΔW. */
import * as assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { describeBackends } from "../helpers/backends";
import { Conv2d, Linear } from "../../lib/nn/layers";
import { SeedSequence } from "../../lib/nn/init";
import { LoraConv2d, LoraLinear } from "../../lib/peft/lora/layer";
import {
  jacobiSingularValues,
  loraDeltaSingularValues,
  lowRankSingularValues,
  qrR,
} from "../../lib/peft/lora/spectrum";

/** Seeded host matrix with entries in (−1, 1). */
function rand(n: number, seed: number): Float64Array {
  let s = seed >>> 0 || 1;
  return Float64Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 31 - 1;
  });
}

/** Largest singular values of a dense rows×cols matrix by power iteration with deflation on MᵀM (independent of Jacobi). */
function powerSingularValues(m: ArrayLike<number>, rows: number, cols: number, k: number): number[] {
  const g = new Float64Array(cols * cols); // MᵀM
  for (let i = 0; i < cols; i++)
    for (let j = 0; j < cols; j++) {
      let s = 0;
      for (let r = 0; r < rows; r++) s += m[r * cols + i] * m[r * cols + j];
      g[i * cols + j] = s;
    }
  const out: number[] = [];
  for (let t = 0; t < k; t++) {
    let v = rand(cols, 7 + t);
    let lambda = 0;
    for (let it = 0; it < 3000; it++) {
      const w = new Float64Array(cols);
      for (let i = 0; i < cols; i++) for (let j = 0; j < cols; j++) w[i] += g[i * cols + j] * v[j];
      const norm = Math.hypot(...w);
      if (norm === 0) break;
      lambda = norm;
      v = w.map((x) => x / norm);
    }
    out.push(Math.sqrt(Math.max(lambda, 0)));
    for (let i = 0; i < cols; i++) for (let j = 0; j < cols; j++) g[i * cols + j] -= lambda * v[i] * v[j];
  }
  return out;
}

function close(a: number[], b: number[], tol: number, what: string): void {
  assert.equal(a.length, b.length, `${what}: length`);
  a.forEach((x, i) =>
    assert.ok(Math.abs(x - b[i]) <= tol * Math.max(1, Math.abs(b[i])), `${what}[${i}]: ${x} vs ${b[i]}`),
  );
}

describe("lora spectrum (host maths)", () => {
  const cases = [
    { n: 20, r: 4, m: 12 },
    { n: 9, r: 6, m: 30 },
    { n: 5, r: 8, m: 7 }, // r larger than both sides: rank ≤ min(n, m)
  ];
  for (const c of cases) {
    it(`σ(s·A·B) equals the dense product's for A ${c.n}×${c.r}, B ${c.r}×${c.m}`, () => {
      const a = rand(c.n * c.r, 1);
      const b = rand(c.r * c.m, 2);
      const dense = new Float64Array(c.n * c.m);
      for (let i = 0; i < c.n; i++)
        for (let j = 0; j < c.m; j++) {
          let s = 0;
          for (let k = 0; k < c.r; k++) s += a[i * c.r + k] * b[k * c.m + j];
          dense[i * c.m + j] = 0.5 * s;
        }
      const got = lowRankSingularValues(a, b, c, 0.5);
      const k = Math.min(c.r, c.n, c.m);
      assert.equal(got.length, k);
      close(got, powerSingularValues(dense, c.n, c.m, k), 1e-6, "vs power iteration");
      close(got, jacobiSingularValues(dense, c.n, c.m).slice(0, k), 1e-9, "vs Jacobi on the dense matrix");
      const fro = Math.sqrt(dense.reduce((s, x) => s + x * x, 0));
      assert.ok(Math.abs(Math.hypot(...got) - fro) < 1e-9 * fro, "Σσ² = ‖ΔW‖²_F");
    });
  }
  it("recovers a constructed spectrum exactly", () => {
    // A = [diag(3, 2, 1); 0], B = [I 0]: σ = 3, 2, 1 (times the scale).
    const n = 5,
      r = 3,
      m = 4;
    const a = new Float64Array(n * r);
    [3, 2, 1].forEach((s, i) => (a[i * r + i] = s));
    const b = new Float64Array(r * m);
    for (let i = 0; i < r; i++) b[i * m + i] = 1;
    close(lowRankSingularValues(a, b, { n, r, m }, 2), [6, 4, 2], 1e-12, "constructed");
  });
  it("QR's R reproduces AᵀA = RᵀR", () => {
    const a = rand(30, 3);
    const { r, p } = qrR(a, 10, 3);
    assert.equal(p, 3);
    for (let i = 0; i < 3; i++)
      for (let j = 0; j < 3; j++) {
        let ata = 0;
        let rtr = 0;
        for (let k = 0; k < 10; k++) ata += a[k * 3 + i] * a[k * 3 + j];
        for (let k = 0; k < 3; k++) rtr += r[k * 3 + i] * r[k * 3 + j];
        assert.ok(Math.abs(ata - rtr) < 1e-9);
      }
  });
  it("rejects factors that do not match their dimensions", () => {
    assert.throws(
      () => lowRankSingularValues(new Float64Array(6), new Float64Array(5), { n: 3, r: 2, m: 3 }),
      /Low-rank factors/,
    );
  });
});

describeBackends("loraDeltaSingularValues", () => {
  function randomize(layer: LoraLinear | LoraConv2d, seed: number): void {
    for (const p of [layer.loraA.weight, layer.loraB.weight]) {
      const t = tf.randomNormal(p.shape, 0, 1, "float32", seed++);
      p.assign(t);
      t.dispose();
    }
  }
  const dense = (t: tf.Tensor, rows: number, cols: number) => ({ data: Float64Array.from(t.dataSync()), rows, cols });

  it("Linear: equals the dense ΔW's singular values (deltaWeight)", () => {
    const layer = new LoraLinear(new Linear(24, 16, { seeds: new SeedSequence(0) }), {
      r: 4,
      scaling: 0.5,
      dropout: 0,
      init: true,
      seed: 0,
    });
    randomize(layer, 1);
    const d = layer.deltaWeight();
    const { data } = dense(d, 24, 16);
    close(loraDeltaSingularValues(layer), powerSingularValues(data, 24, 16, 4), 1e-4, "linear");
    d.dispose();
  });
  it("fused qkv with q/v parts: the mask is applied (rank ≤ 2·r)", () => {
    const layer = new LoraLinear(new Linear(8, 24, { seeds: new SeedSequence(0) }), {
      r: 2,
      scaling: 1,
      dropout: 0,
      init: true,
      seed: 0,
      qkvParts: ["q", "v"],
    });
    randomize(layer, 3);
    const d = layer.deltaWeight();
    const { data } = dense(d, 8, 24);
    const got = loraDeltaSingularValues(layer);
    close(got, powerSingularValues(data, 8, 24, 4), 1e-4, "qkv");
    d.dispose();
  });
  it("Conv2d 3×3: equals the singular values of the reshaped [k·k·in, out] ΔW", () => {
    const layer = new LoraConv2d(new Conv2d(4, 6, 3, { padding: 1, seeds: new SeedSequence(0) }), {
      r: 3,
      scaling: 2,
      dropout: 0,
      init: true,
      seed: 0,
    });
    randomize(layer, 5);
    const d = layer.deltaWeight();
    const { data } = dense(d, 36, 6);
    close(loraDeltaSingularValues(layer), powerSingularValues(data, 36, 6, 3), 1e-4, "conv");
    d.dispose();
  });
  it("is all zeros at init (B = 0)", () => {
    const layer = new LoraLinear(new Linear(10, 6, { seeds: new SeedSequence(0) }), {
      r: 3,
      scaling: 1,
      dropout: 0,
      init: true,
      seed: 0,
    });
    assert.deepEqual(loraDeltaSingularValues(layer), [0, 0, 0]);
  });
});
