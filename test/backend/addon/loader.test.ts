import { strict as assert } from "node:assert";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { initBackend } from "../../../lib/backend";
import { configureGemmThreads } from "../../../lib/backend/kernels";
import { gemmEngine, nativeStatus, type NativeAddon } from "../../../lib/backend/addon/loader";
import { badCallTests } from "../kernels/native_helpers";
import { randArray } from "../kernels/reference";

const ROOT = path.resolve(__dirname, "../../..");

/** Whether this machine can build the addon: x86-64 Linux with a C compiler and Node's headers. */
function canBuild(): boolean {
  if (process.arch !== "x64" || process.platform !== "linux") return false;
  const headers = [path.join(path.dirname(process.execPath), "../include/node"), "/usr/include/node"];
  if (!headers.some((d) => fs.existsSync(path.join(d, "node_api.h")))) return false;
  try {
    execFileSync(process.env.CC ?? "cc", ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

function cpuHasAvx2Fma(): boolean {
  const info = fs.existsSync("/proc/cpuinfo") ? fs.readFileSync("/proc/cpuinfo", "utf8") : "";
  return /\bavx2\b/.test(info) && /\bfma\b/.test(info);
}

type Case = [
  name: string,
  m: number,
  k: number,
  n: number,
  ta: boolean,
  tb: boolean,
  count: number,
  bias: number,
  act: number,
];

/** peftlab_native.c's PARALLEL_MIN_FLOPS: smaller calls run on one thread. */
const PARALLEL_MIN_FLOPS = 4 * 1024 * 1024;

// op(A)[m,k]·op(B)[k,n] per slice, bias length 0 / 1 / n, act 0 / 1 ReLU / 2 ReLU6.
const CASES: Case[] = [
  ["1x1x1", 1, 1, 1, false, false, 1, 0, 0],
  ["edge tiles NN", 7, 13, 5, false, false, 1, 0, 0],
  ["NT with per-column bias", 29, 40, 33, false, true, 1, 33, 0],
  ["TN with one-value bias + ReLU", 31, 19, 17, true, false, 1, 1, 1],
  ["TT + ReLU6", 12, 9, 20, true, true, 1, 20, 2],
  ["K over two blocks (KC = 384)", 20, 600, 18, false, false, 1, 0, 0],
  ["N over one B block (2048)", 7, 10, 2100, false, false, 1, 2100, 1],
  ["batch with bias and ReLU6", 25, 30, 19, false, false, 3, 19, 2],
  ["rows over one A block (96), split by rows", 401, 128, 70, false, true, 1, 0, 0],
  ["few rows, split by columns", 4, 600, 1000, true, false, 1, 1000, 1],
  ["attention-like batch, split by slices", 70, 64, 70, false, true, 9, 0, 0],
  ["fewer slices than threads: each slice split by rows", 300, 50, 90, true, true, 2, 1, 2],
  // Wider than 256 columns, row-major A is packed 8 k at a time through register transposes, with a scalar tail.
  ["packed row-major A: 8-k transposes, a 5-k tail, a 2-row panel", 50, 45, 300, false, false, 1, 300, 0],
  ["packed row-major A split by rows", 200, 77, 300, false, true, 1, 1, 1],
  // Panels of at most 8 columns run the half-width tile (vector stores at exactly 8, scalar below).
  ["rank-8 product: the 8-column tile with per-column bias", 24, 100, 8, false, false, 1, 8, 2],
  ["16 + 8 columns, one-value bias", 13, 40, 24, true, false, 1, 1, 1],
  ["8 columns over two K blocks", 12, 500, 8, false, true, 1, 8, 1],
  // N ≤ 256 reads A in place, wider N packs it: split by columns, one thread packs and two or three read in place.
  ["columns split across the in-place/packed boundary", 5, 1200, 400, false, false, 1, 400, 1],
  ["transposed A split across the in-place/packed boundary", 4, 1100, 500, true, true, 1, 0, 2],
];

interface Layout {
  heap: Float32Array;
  at: { a: number; b: number; out: number; bias: number };
  s: { ars: number; acs: number; brs: number; bcs: number; aStep: number; bStep: number };
}

function layout(c: Case, seed: number): Layout {
  const [, m, k, n, ta, tb, count, biasLen] = c;
  const aLen = m * k * count;
  const bLen = k * n * count;
  const at = { a: 3, b: 3 + aLen + 1, out: 3 + aLen + 1 + bLen + 2, bias: 0 };
  at.bias = at.out + m * n * count + 1;
  const heap = new Float32Array(at.bias + Math.max(biasLen, 1) + 5);
  heap.set(randArray(aLen, seed), at.a);
  heap.set(randArray(bLen, seed + 1), at.b);
  heap.set(randArray(biasLen, seed + 2), at.bias);
  const [ars, acs] = ta ? [1, m] : [k, 1];
  const [brs, bcs] = tb ? [1, k] : [n, 1];
  return { heap, at, s: { ars, acs, brs, bcs, aStep: m * k, bStep: k * n } };
}

function callNative(addon: NativeAddon, c: Case, l: Layout): void {
  const [, m, k, n, , , count, biasLen, act] = c;
  const { heap, at, s } = l;
  addon.sgemmBatch(
    heap,
    at.a,
    s.ars,
    s.acs,
    s.aStep,
    at.b,
    s.brs,
    s.bcs,
    s.bStep,
    at.out,
    m,
    k,
    n,
    count,
    at.bias,
    biasLen,
    act,
  );
}

/** Float64 reference of the whole output, with the epilogue. */
function reference(c: Case, l: Layout): Float64Array {
  const [, m, k, n, , , count, biasLen, act] = c;
  const { heap, at, s } = l;
  const out = new Float64Array(count * m * n);
  for (let q = 0; q < count; q++) {
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let v = 0;
        for (let p = 0; p < k; p++) {
          v += heap[at.a + q * s.aStep + i * s.ars + p * s.acs] * heap[at.b + q * s.bStep + p * s.brs + j * s.bcs];
        }
        if (biasLen) v += heap[at.bias + (biasLen === 1 ? 0 : j)];
        if (act >= 1) v = Math.max(v, 0);
        if (act === 2) v = Math.min(v, 6);
        out[q * m * n + i * n + j] = v;
      }
    }
  }
  return out;
}

describe("native GEMM addon (lib/backend/addon)", () => {
  const status = nativeStatus();

  it("is built and usable wherever the build can run (x86-64 Linux, cc, node_api.h, AVX2 + FMA)", function () {
    if (!canBuild() || !cpuHasAvx2Fma()) this.skip();
    assert.ok(status.addon, `the addon did not load: ${status.why}`);
    assert.equal(status.isa, "avx2+fma");
  });

  describe("sgemmBatch", function () {
    before(function () {
      if (!status.addon) this.skip();
    });
    after(() => status.addon?.setThreads(configureGemmThreads({})));

    for (const c of CASES) {
      it(`${c[0]}: matches a float64 reference, and 1, 2 and 3 threads agree bit for bit`, () => {
        const addon = status.addon as NativeAddon;
        const outs: Float32Array[] = [];
        const [, m, k, n, , , count] = c;
        const split = 2 * m * k * n * count >= PARALLEL_MIN_FLOPS;
        for (const t of [1, 2, 3]) {
          addon.setThreads(t);
          const l = layout(c, 11);
          const before = addon.info().splits;
          callNative(addon, c, l);
          assert.equal(addon.info().splits - before, split && t > 1 ? 1 : 0, "split across threads");
          if (t === 1) {
            const want = reference(c, l);
            for (let i = 0; i < want.length; i++) {
              const got = l.heap[l.at.out + i];
              assert.ok(
                Math.abs(got - want[i]) <= 1e-5 * Math.sqrt(k) * (1 + Math.abs(want[i])),
                `${c[0]}[${i}]: ${got} vs ${want[i]}`,
              );
            }
            // Nothing outside the output was written.
            assert.equal(l.heap[l.at.out - 1], 0);
            assert.equal(l.heap[l.at.out + count * m * n], 0);
          }
          outs.push(l.heap.slice(l.at.out, l.at.out + count * m * n));
        }
        assert.deepEqual(outs[1], outs[0]);
        assert.deepEqual(outs[2], outs[0]);
      });
    }

    it("propagates NaN through the sum and through ReLU, as torch does", () => {
      const addon = status.addon as NativeAddon;
      const c: Case = ["nan", 8, 5, 20, false, false, 1, 0, 1];
      const l = layout(c, 3);
      l.heap[l.at.a + 2 * 5 + 1] = NaN; // row 2
      callNative(addon, c, l);
      for (let j = 0; j < 20; j++) assert.ok(Number.isNaN(l.heap[l.at.out + 2 * 20 + j]), `col ${j}`);
      assert.ok(!Number.isNaN(l.heap[l.at.out + 3 * 20]));
    });

    // The heap holds 64 floats.
    badCallTests(
      () => status.addon as NativeAddon,
      [
        ["A past the end", "sgemmBatch", [62, 4, 1, 0, 0, 4, 1, 0, 0, 4, 4, 4, 1, 0, 0, 0], /past the end/],
        ["output past the end", "sgemmBatch", [0, 4, 1, 0, 0, 4, 1, 0, 61, 4, 4, 4, 1, 0, 0, 0], /past the end/],
        ["a negative stride", "sgemmBatch", [0, -4, 1, 0, 0, 4, 1, 0, 0, 4, 4, 4, 1, 0, 0, 0], /negative/],
        ["bias length not 0, 1 or n", "sgemmBatch", [0, 4, 1, 0, 16, 4, 1, 0, 32, 4, 4, 4, 1, 50, 3, 0], /biasLen/],
        ["act 3", "sgemmBatch", [0, 4, 1, 0, 16, 4, 1, 0, 32, 4, 4, 4, 1, 0, 0, 3], /act/],
        ["k = 0", "sgemmBatch", [0, 4, 1, 0, 16, 4, 1, 0, 32, 4, 0, 4, 1, 0, 0, 0], /k must be/],
        ["too few arguments", "sgemmBatch", [0, 4], /17 arguments/],
        [
          "a Float64Array heap",
          "sgemmBatch",
          () => [new Float64Array(64), ...[0, 4, 1, 0, 16, 4, 1, 0, 32, 4, 4, 4, 1, 0, 0, 0]],
          /Float32Array/,
        ],
      ],
    );
  });

  describe("geluErf", function () {
    before(function () {
      if (!status.addon) this.skip();
    });
    badCallTests(
      () => status.addon as NativeAddon,
      [
        ["y past the end", "geluErf", [0, 60, -1, 8], /past the end/],
        ["g past the end", "geluErf", [0, 20, 60, 8], /past the end/],
        ["y overlapping x", "geluErf", [0, 4, -1, 8], /overlaps/],
        ["g overlapping x", "geluErf", [0, 20, 7, 8], /overlaps/],
        ["a negative length", "geluErf", [0, 20, -1, -1], /negative/],
      ],
    );
    it("writes exactly [yAt, yAt + len) and [gAt, gAt + len) for every tail length", () => {
      for (let len = 0; len <= 17; len++) {
        const h = new Float32Array(80).fill(7);
        h.fill(0.5, 0, len);
        (status.addon as NativeAddon).geluErf(h, 0, 20, 50, len);
        for (let i = 0; i < 80; i++) {
          const inY = i >= 20 && i < 20 + len;
          const inG = i >= 50 && i < 50 + len;
          const want = inY ? 0.345731 : inG ? 0.867495 : i < len ? 0.5 : 7;
          assert.ok(Math.abs(h[i] - want) < 1e-4, `len ${len}, index ${i}: ${h[i]} vs ${want}`);
        }
      }
    });
  });

  describe("selection", function () {
    before(function () {
      if (!status.addon) this.skip();
    });
    after(async () => {
      await initBackend({ prefer: "wasm", log: null, env: {} });
    });

    it("initBackend reports the native GEMM, and PEFTLAB_NATIVE=0 falls back to the wasm GEMM", async () => {
      const on = await initBackend({ prefer: "wasm", log: null, env: { PEFTLAB_THREADS: "3" } });
      assert.equal(on.gemm, "native avx2+fma");
      assert.equal(on.threads, 3);
      assert.equal(gemmEngine().engine, "native");
      assert.ok(on.overrides.includes("PeftlabAttention") && on.overrides.includes("PeftlabLayerNormGrad"));
      const off = await initBackend({ prefer: "wasm", log: null, env: { PEFTLAB_NATIVE: "0" } });
      assert.match(off.gemm, /^wasm (fma|mul-add)$/);
      assert.equal(gemmEngine().why, "PEFTLAB_NATIVE=0");
      // The native-only kernels stay registered but are not reported: their ops compose tfjs ops now.
      assert.ok(!off.overrides.some((k) => /^Peftlab(Attention|LayerNorm)/.test(k)), off.overrides.join(", "));
      assert.ok(off.overrides.includes("BatchMatMul") && off.overrides.includes("PeftlabGeluErf"));
      const plain = await initBackend({ prefer: "wasm", log: null, env: { PEFTLAB_KERNELS: "tfjs" } });
      assert.equal(plain.gemm, "tfjs");
    });

    it("a missing build is reported, not thrown: the wasm GEMM runs", () => {
      const script = `
        const fs = require("node:fs");
        const { nativeStatus } = require("./lib/backend/addon/loader");
        const real = fs.existsSync;
        fs.existsSync = (p) => (String(p).endsWith("peftlab_native.node") ? false : real(p));
        const s = nativeStatus();
        console.log(JSON.stringify({ addon: s.addon !== null, why: s.why }));`;
      const out = execFileSync(process.execPath, ["--require", "tsx/cjs", "-e", script], {
        cwd: ROOT,
        encoding: "utf8",
      });
      const r = JSON.parse(out.trim().split("\n").pop() as string) as { addon: boolean; why: string };
      assert.equal(r.addon, false);
      assert.match(r.why, /not built/);
    });
  });
});
