/**
 * The native addon's per-channel exports (channelSums, channelAffine, reluGrad) called directly: float64 references,
 * bit-identical for 1, 2 and 3 threads, nothing written outside their outputs, bad calls refused. The BatchNorm and
 * ReLU ops that use them are tested in test/nn/lean_ops.test.ts on both the native and the wasm SIMD kernels.
 */
import { strict as assert } from "node:assert";
import { configureGemmThreads } from "../../../lib/backend/kernels";
import { nativeStatus, type NativeAddon } from "../../../lib/backend/addon/loader";
import { type BadCall, badCallTests, GUARD, heapOf, threadsAgree } from "./native_helpers";
import { randArray } from "./reference";

/** |got − want| ≤ tol·max(1, scale); scale defaults to |want| (pass the terms' size where they cancel). */
function near(got: number, want: number, tol: number, what: string, scale = Math.abs(want)): void {
  assert.ok(Math.abs(got - want) <= tol * Math.max(1, scale), `${what}: ${got} vs ${want}`);
}

describe("native per-channel kernels (channel_avx2.c)", () => {
  const addon = nativeStatus().addon as NativeAddon;
  before(function () {
    if (!nativeStatus().addon) this.skip();
  });
  after(() => nativeStatus().addon?.setThreads(configureGemmThreads({})));

  // [rows, C]; rows·C ≥ 65536 splits across threads.
  const shapes: [number, number][] = [
    [1, 1],
    [70, 3],
    [130, 8],
    [65, 21],
    [8000, 16],
    [2000, 48],
  ];
  for (const [rows, c] of shapes) {
    it(`rows ${rows}, C ${c}: sums (3 modes), affine (2 forms), ReLU/ReLU6 grad match float64; threads agree`, () => {
      const size = rows * c;
      const parts = {
        x: size,
        y: size,
        m: c,
        p: c,
        q: c,
        r: c,
        s0: c,
        s1: c,
        s2: c,
        o1: size,
        o2: size,
        g1: size,
        g2: size,
      };
      const { h, at } = heapOf(parts);
      for (const [k, len] of Object.entries(parts)) {
        if (!/^[so]|^g/.test(k))
          h.set(
            randArray(len, len + k.charCodeAt(0)).map((v) => 4 * v),
            at[k],
          );
      }
      const big = size >= 65536 ? 1 : 0;
      const out = threadsAgree(
        addon,
        h,
        (u) => {
          addon.channelSums(u, at.x, -1, -1, 0, rows, c, at.s0);
          addon.channelSums(u, at.x, -1, at.m, 1, rows, c, at.s1);
          addon.channelSums(u, at.x, at.y, at.m, 2, rows, c, at.s2);
          addon.channelAffine(u, at.o1, at.x, at.p, -1, -1, -1, at.r, rows, c);
          addon.channelAffine(u, at.o2, at.x, at.p, at.y, at.m, at.q, at.r, rows, c);
          addon.reluGrad(u, at.g1, at.y, at.x, size, 0);
          addon.reluGrad(u, at.g2, at.y, at.x, size, 1);
        },
        7 * big,
      );
      const v = (k: string, i: number) => h[at[k] + i];
      for (let ch = 0; ch < c; ch++) {
        let s0 = 0,
          s1 = 0,
          s2 = 0;
        for (let r = 0; r < rows; r++) {
          const x = v("x", r * c + ch),
            d = x - v("m", ch);
          [s0, s1, s2] = [s0 + x, s1 + d * d, s2 + v("y", r * c + ch) * d];
        }
        near(out[at.s0 + ch], s0, 1e-5 * Math.sqrt(rows), `Σx[${ch}]`);
        near(out[at.s1 + ch], s1, 1e-5 * Math.sqrt(rows), `Σ(x−m)²[${ch}]`);
        near(out[at.s2 + ch], s2, 1e-5 * Math.sqrt(rows), `Σy(x−m)[${ch}]`);
      }
      for (let i = 0; i < size; i++) {
        const ch = i % c,
          x = v("x", i),
          y = v("y", i);
        near(out[at.o1 + i], v("p", ch) * x + v("r", ch), 1e-6, `p·a + r [${i}]`, Math.abs(v("p", ch) * x) + 4);
        const terms = [v("p", ch) * x, v("q", ch) * (y - v("m", ch)), v("r", ch)];
        const termSize = terms.reduce((a, t) => a + Math.abs(t), 0);
        near(out[at.o2 + i], terms[0] + terms[1] + terms[2], 1e-6, `affine [${i}]`, termSize);
        assert.equal(out[at.g1 + i], x > 0 ? y : 0, `relu grad [${i}]`);
        assert.equal(out[at.g2 + i], x > 0 && x < 6 ? y : 0, `relu6 grad [${i}]`);
      }
      for (const k of Object.keys(at)) assert.equal(out[at[k] - 1], GUARD, `guard before ${k}`);
      assert.equal(out[out.length - 1], GUARD);
    });
  }

  const bad: BadCall[] = [
    ["channelSums: mode 3", "channelSums", [0, -1, -1, 3, 4, 2, 40], /mode/],
    ["channelSums: mode 1 without m", "channelSums", [0, -1, -1, 1, 4, 2, 40], /missing/],
    ["channelSums: out overlapping x", "channelSums", [0, -1, -1, 0, 4, 2, 3], /overlaps/],
    ["channelAffine: b without m and q", "channelAffine", [30, 0, 10, 20, -1, -1, 12, 4, 2], /all given/],
    ["channelAffine: out past the end", "channelAffine", [60, 0, 10, -1, -1, -1, 12, 4, 2], /past the end/],
    ["channelAffine: out overlapping a", "channelAffine", [4, 0, 20, -1, -1, -1, 22, 4, 2], /overlaps/],
    ["reluGrad: cap6 = 2", "reluGrad", [0, 10, 20, 8, 2], /cap6/],
    ["reluGrad: dy past the end", "reluGrad", [0, 60, 20, 8, 0], /past the end/],
    ["reluGrad: dx overlapping y", "reluGrad", [0, 10, 4, 8, 0], /overlaps/],
  ];
  badCallTests(() => addon, bad);
});
