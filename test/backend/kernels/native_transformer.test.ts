/**
 * The native addon's transformer exports (layerNorm, layerNormGrad, attention, attentionGrad) called directly on a
 * plain Float32Array "heap": against float64 references, bit-identical for 1, 2 and 3 threads, writing nothing
 * outside their outputs, and refusing bad calls. The ops that use them are tested in test/nn/layer_norm_op.test.ts
 * and test/models/vit_ops.test.ts. (Whether the addon is built where it can be is asserted in test/backend/addon/loader.test.ts.)
 */
import { strict as assert } from "node:assert";
import { configureGemmThreads } from "../../../lib/backend/kernels";
import { nativeStatus, type NativeAddon } from "../../../lib/backend/addon/loader";
import { type BadCall, badCallTests, GUARD, heapOf, threadsAgree } from "./native_helpers";
import { randArray } from "./reference";

function lnReference(x: Float32Array, gm: Float32Array, bt: Float32Array, dy: Float32Array, d: number, eps: number) {
  const y = new Float64Array(x.length);
  const dx = new Float64Array(x.length);
  let dxScale = 0; // max σ⁻¹·|g|: dx's rounding is relative to the terms it cancels, not to dx
  for (let r = 0; r < x.length / d; r++) {
    const row = Array.from(x.subarray(r * d, (r + 1) * d));
    const mu = row.reduce((s, v) => s + v, 0) / d;
    const rs = 1 / Math.sqrt(row.reduce((s, v) => s + (v - mu) ** 2, 0) / d + eps);
    const xh = row.map((v) => (v - mu) * rs);
    const g = xh.map((_, i) => dy[r * d + i] * gm[i]);
    const mg = g.reduce((s, v) => s + v, 0) / d;
    const mgx = g.reduce((s, v, i) => s + v * xh[i], 0) / d;
    dxScale = Math.max(dxScale, ...g.map((v) => rs * Math.abs(v)));
    for (let i = 0; i < d; i++) {
      y[r * d + i] = xh[i] * gm[i] + bt[i];
      dx[r * d + i] = rs * (g[i] - mg - xh[i] * mgx);
    }
  }
  return { y, dx, dxScale };
}

/** |got − want| ≤ tol·max(1, scale) elementwise; scale defaults to max |want|. */
function closeTo(got: ArrayLike<number>, want: ArrayLike<number>, tol: number, what: string, scale = 0): void {
  for (let i = 0; i < want.length; i++) scale = Math.max(scale, Math.abs(want[i]));
  for (let i = 0; i < want.length; i++) {
    assert.ok(Math.abs(got[i] - want[i]) <= tol * Math.max(1, scale), `${what}[${i}]: ${got[i]} vs ${want[i]}`);
  }
}

/** out, P and dqkv of attention per (image, head) in float64, from qkv [b, t, 3·heads·dh] and dy [b, t, heads·dh]. */
function attnReference(
  qkv: Float32Array,
  dy: Float32Array,
  b: number,
  t: number,
  heads: number,
  dh: number,
  sc: number,
) {
  const d = heads * dh;
  const out = new Float64Array(b * t * d);
  const dqkv = new Float64Array(b * t * 3 * d);
  const q = (i: number, j: number, part: number, hh: number, c: number) =>
    qkv[(i * t + j) * 3 * d + part * d + hh * dh + c];
  for (let i = 0; i < b; i++) {
    for (let hh = 0; hh < heads; hh++) {
      const P: number[][] = [];
      for (let r = 0; r < t; r++) {
        const s = Array.from({ length: t }, (_, j) => {
          let acc = 0;
          for (let c = 0; c < dh; c++) acc += q(i, r, 0, hh, c) * q(i, j, 1, hh, c);
          return acc * sc;
        });
        const mx = Math.max(...s);
        const e = s.map((v) => Math.exp(v - mx));
        const sum = e.reduce((a, v) => a + v, 0);
        P.push(e.map((v) => v / sum));
      }
      const dO = (r: number, c: number) => dy[(i * t + r) * d + hh * dh + c];
      const dS = P.map((row, r) => {
        const dp = row.map((_, j) => {
          let acc = 0;
          for (let c = 0; c < dh; c++) acc += dO(r, c) * q(i, j, 2, hh, c);
          return acc;
        });
        const dot = dp.reduce((a, v, j) => a + v * row[j], 0);
        return dp.map((v, j) => row[j] * (v - dot) * sc);
      });
      for (let r = 0; r < t; r++) {
        for (let c = 0; c < dh; c++) {
          let o = 0,
            dv = 0,
            dq = 0,
            dk = 0;
          for (let j = 0; j < t; j++) {
            o += P[r][j] * q(i, j, 2, hh, c);
            dv += P[j][r] * dO(j, c);
            dq += dS[r][j] * q(i, j, 1, hh, c);
            dk += dS[j][r] * q(i, j, 0, hh, c);
          }
          out[(i * t + r) * d + hh * dh + c] = o;
          const at = (i * t + r) * 3 * d + hh * dh + c;
          [dqkv[at], dqkv[at + d], dqkv[at + 2 * d]] = [dq, dk, dv];
        }
      }
    }
  }
  return { out, dqkv };
}

describe("native transformer kernels (layer_norm_avx2.c, attention_avx2.c)", () => {
  const addon = nativeStatus().addon as NativeAddon;
  before(function () {
    if (!nativeStatus().addon) this.skip();
  });
  after(() => nativeStatus().addon?.setThreads(configureGemmThreads({})));

  // [rows, d, eps]; rows·d ≥ 65536 splits across threads.
  const lnCases: [number, number, number][] = [
    [1, 1, 1e-5],
    [3, 7, 1e-6],
    [5, 8, 1e-12],
    [17, 19, 1e-6],
    [200, 384, 1e-6],
  ];
  for (const [rows, d, eps] of lnCases) {
    it(`layerNorm + layerNormGrad, ${rows} rows of ${d}: float64 reference, threads bit-identical, guards intact`, () => {
      const { h, at } = heapOf({
        x: rows * d,
        g: d,
        b: d,
        y: rows * d,
        mu: rows,
        rs: rows,
        dy: rows * d,
        dx: rows * d,
      });
      h.set(
        randArray(rows * d, 1).map((v) => 3 * v + 1),
        at.x,
      );
      h.set(
        randArray(d, 2).map((v) => 1 + v / 2),
        at.g,
      );
      h.set(randArray(d, 3), at.b);
      h.set(randArray(rows * d, 4), at.dy);
      const out = threadsAgree(
        addon,
        h,
        (c) => {
          addon.layerNorm(c, at.x, at.g, at.b, at.y, at.mu, at.rs, rows, d, eps);
          addon.layerNormGrad(c, at.x, at.mu, at.rs, at.g, at.dy, at.dx, rows, d);
        },
        rows * d >= 65536 ? 2 : 0,
      );
      const ref = lnReference(
        h.subarray(at.x, at.x + rows * d),
        h.subarray(at.g, at.g + d),
        h.subarray(at.b, at.b + d),
        h.subarray(at.dy, at.dy + rows * d),
        d,
        eps,
      );
      closeTo(out.subarray(at.y, at.y + rows * d), ref.y, 2e-6, "y");
      closeTo(out.subarray(at.dx, at.dx + rows * d), ref.dx, 2e-6, "dx", ref.dxScale);
      for (const k of Object.keys(at)) assert.equal(out[at[k] - 1], GUARD, `guard before ${k}`);
      assert.equal(out[out.length - 1], GUARD);
    });
  }

  // [b, t, heads, dh]; the last splits its b·heads slices across threads.
  const attnCases: [number, number, number, number][] = [
    [1, 1, 1, 1],
    [1, 5, 2, 3],
    [2, 9, 3, 8],
    [2, 17, 2, 16],
    [1, 197, 6, 64],
  ];
  for (const [b, t, heads, dh] of attnCases) {
    it(`attention + attentionGrad, b ${b}, t ${t}, ${heads} heads of ${dh}: float64 reference, threads bit-identical`, () => {
      const d = heads * dh;
      const sc = 1 / Math.sqrt(dh);
      const parts = { qkv: b * t * 3 * d, out: b * t * d, p: b * heads * t * t, dy: b * t * d, dq: b * t * 3 * d };
      const { h, at } = heapOf(parts);
      h.set(
        randArray(parts.qkv, 5).map((v) => 2 * v),
        at.qkv,
      );
      h.set(randArray(parts.dy, 6), at.dy);
      const flops = 4 * b * heads * t * t * dh;
      const out = threadsAgree(
        addon,
        h,
        (c) => {
          addon.attention(c, at.qkv, at.out, at.p, b, t, heads, dh, sc);
          addon.attentionGrad(c, at.qkv, at.p, at.dy, at.dq, b, t, heads, dh, sc);
        },
        flops >= 4 * 1024 * 1024 ? 2 : 0,
      );
      const ref = attnReference(h.subarray(at.qkv), h.subarray(at.dy), b, t, heads, dh, sc);
      closeTo(out.subarray(at.out, at.out + parts.out), ref.out, 2e-6, "out");
      closeTo(out.subarray(at.dq, at.dq + parts.dq), ref.dqkv, 2e-6, "dqkv");
      for (const k of Object.keys(at)) assert.equal(out[at[k] - 1], GUARD, `guard before ${k}`);
      // Without probsAt the forward gives the same output and leaves P's memory alone.
      const noP = h.slice();
      addon.attention(noP, at.qkv, at.out, -1, b, t, heads, dh, sc);
      assert.deepEqual(noP.subarray(at.out, at.out + parts.out), out.subarray(at.out, at.out + parts.out));
      assert.ok(noP.subarray(at.p, at.p + parts.p).every((v) => v === GUARD));
    });
  }

  const bad: BadCall[] = [
    ["layerNorm: y past the end", "layerNorm", [0, 10, 20, 60, 30, 40, 2, 4, 1e-5], /past the end/],
    ["layerNorm: y overlapping x", "layerNorm", [0, 10, 20, 4, 30, 40, 2, 4, 1e-5], /overlaps/],
    ["layerNorm: a negative eps", "layerNorm", [0, 10, 20, 30, 40, 45, 2, 4, -1], /eps/],
    ["layerNorm: a missing eps", "layerNorm", [0, 10, 20, 30, 40, 45, 2, 4], /10 arguments/],
    ["layerNormGrad: dx overlapping dy", "layerNormGrad", [0, 10, 12, 20, 30, 34, 2, 4], /overlaps/],
    ["layerNormGrad: a negative offset", "layerNormGrad", [-1, 10, 12, 20, 30, 40, 2, 4], /negative/],
    ["attention: out past the end", "attention", [0, 62, -1, 1, 2, 1, 2, 0.5], /past the end/],
    ["attention: out overlapping qkv", "attention", [0, 5, -1, 1, 2, 1, 2, 0.5], /overlaps/],
    ["attention: scale 0", "attention", [0, 20, -1, 1, 2, 1, 2, 0], /scale/],
    ["attention: P overlapping out", "attention", [0, 20, 22, 1, 2, 1, 2, 0.5], /overlaps/],
    ["attentionGrad: dqkv overlapping dy", "attentionGrad", [0, 20, 30, 28, 1, 2, 1, 2, 0.5], /overlaps/],
    ["attentionGrad: P past the end", "attentionGrad", [0, 62, 30, 40, 1, 2, 1, 2, 0.5], /past the end/],
  ];
  badCallTests(() => addon, bad);
});
