import { strict as assert } from "node:assert";
import { execFileSync } from "node:child_process";
import * as path from "node:path";
import { simdVariant } from "../../../lib/backend/wasm/loader";
import { SIMD_KERNELS_FMA_WASM_BASE64, SIMD_KERNELS_WASM_BASE64 } from "../../../lib/backend/wasm/simd_kernels_wasm";
import { randArray } from "../kernels/reference";

/** sgemm.c's exports, pointers as byte offsets into the module's memory. */
interface Sgemm {
  sgemm(...args: number[]): void;
  sgemm_work_floats(k: number, n: number): number;
}

interface WA {
  Memory: new (d: { initial: number }) => { buffer: ArrayBuffer; grow(pages: number): number };
  Module: new (bytes: Uint8Array) => object;
  Instance: new (m: object, imports: object) => { exports: unknown };
  validate(bytes: Uint8Array): boolean;
}
const WebAssembly = (globalThis as unknown as { WebAssembly: WA }).WebAssembly;

/** One build of the kernels on a fresh memory of its own. */
function instantiate(base64: string): { k: Sgemm; memory: { buffer: ArrayBuffer; grow(pages: number): number } } {
  const memory = new WebAssembly.Memory({ initial: 64 });
  const module = new WebAssembly.Module(Buffer.from(base64, "base64"));
  return { k: new WebAssembly.Instance(module, { env: { memory } }).exports as Sgemm, memory };
}

// [name, M, K, N, A transposed, B transposed, bias length (0, 1 or N), activation]
type Case = [string, number, number, number, boolean, boolean, number, number];
const CASES: Case[] = [
  ["exact tiles", 8, 16, 16, false, false, 0, 0],
  ["edges in M and N", 13, 9, 21, true, false, 0, 0],
  ["M = 1, N = 1", 1, 5, 1, false, true, 0, 0],
  ["K = 1", 6, 1, 10, true, true, 0, 0],
  ["K over two blocks (512), odd K", 70, 1111, 19, false, false, 0, 0],
  ["K over two blocks, both transposed", 9, 1030, 17, true, true, 0, 0],
  ["rows over two A blocks (64)", 150, 20, 40, false, true, 0, 0],
  ["bias per column + ReLU, edges", 11, 37, 13, false, false, 13, 1],
  ["one bias value + ReLU6, K blocks", 21, 600, 9, true, false, 1, 2],
];

/** float64 reference of the same product and epilogue. */
function reference(a: Float32Array, b: Float32Array, bias: Float32Array, c: Case): Float64Array {
  const [, m, k, n, ta, tb, nb, act] = c;
  const out = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) s += a[ta ? p * m + i : i * k + p] * b[tb ? j * k + p : p * n + j];
      if (nb) s += bias[nb === 1 ? 0 : j];
      if (act >= 1) s = Math.max(s, 0);
      if (act === 2) s = Math.min(s, 6);
      out[i * n + j] = s;
    }
  }
  return out;
}

/** Runs one case with sgemm of one build; returns the output. */
function run(k: Sgemm, memory: { buffer: ArrayBuffer; grow(p: number): number }, c: Case, x: Float32Array[]) {
  const [, m, kk, n, ta, tb, nb, act] = c;
  const [a, b, bias] = x;
  const at = { a: 256, b: 0, bias: 0, out: 0, work: 0 };
  at.b = at.a + a.length * 4;
  at.bias = at.b + b.length * 4;
  at.out = at.bias + Math.max(1, bias.length) * 4;
  at.work = at.out + (m * n + 16) * 4; // 16 guard floats after C
  const need = at.work + k.sgemm_work_floats(kk, n) * 4 + 64;
  if (need > memory.buffer.byteLength) memory.grow(Math.ceil((need - memory.buffer.byteLength) / 65536));
  const heap = new Float32Array(memory.buffer);
  heap.set(a, at.a / 4);
  heap.set(b, at.b / 4);
  heap.set(bias, at.bias / 4);
  heap.fill(NaN, at.out / 4, at.out / 4 + m * n + 16); // unwritten outputs show up as NaN; past the end must stay NaN
  const [ars, acs] = ta ? [1, m] : [kk, 1];
  const [brs, bcs] = tb ? [1, kk] : [n, 1];
  k.sgemm(at.a, ars, acs, at.b, brs, bcs, at.out, m, kk, n, nb ? at.bias : 0, nb === 1 ? 0 : 1, act, at.work);
  const out = new Float32Array(memory.buffer, at.out, m * n + 16).slice();
  return { out: out.subarray(0, m * n), tail: out.subarray(m * n) };
}

describe("sgemm.c, the packed GEMM (both builds)", () => {
  // simdVariant() first: it turns on relaxed SIMD where Node needs the flag.
  const builds: [string, string][] = [["mul-add", SIMD_KERNELS_WASM_BASE64]];
  if (simdVariant() === "fma") builds.push(["fma", SIMD_KERNELS_FMA_WASM_BASE64]);

  it("the FMA build is the one in use where relaxed SIMD validates (Node 20 behind its flag)", () => {
    const fma = WebAssembly.validate(Buffer.from(SIMD_KERNELS_FMA_WASM_BASE64, "base64"));
    assert.equal(simdVariant(), fma && process.env.PEFTLAB_WASM_FMA !== "0" ? "fma" : "mul-add");
  });

  it("PEFTLAB_WASM_FMA=0 runs the mul-add build, and tf.matMul on wasm stays correct with it", () => {
    const script = `
      const tf = require("@tensorflow/tfjs");
      const { initBackend } = require("./lib/backend");
      initBackend({ prefer: "wasm", log: null }).then((c) => {
        const a = tf.tensor2d([[1, 2, 3], [4, 5, 6]]);
        const y = tf.matMul(a, a, false, true).arraySync();
        console.log(JSON.stringify({ fma: c.fma, y }));
      });`;
    const out = execFileSync(process.execPath, ["--require", "tsx/cjs", "-e", script], {
      cwd: path.resolve(__dirname, "../../.."),
      encoding: "utf8",
      env: { ...process.env, PEFTLAB_WASM_FMA: "0", PEFTLAB_BACKEND: "" },
      timeout: 60_000,
    });
    const r = JSON.parse(out.trim().split("\n").pop() as string) as { fma: boolean; y: number[][] };
    assert.equal(r.fma, false);
    assert.deepEqual(r.y, [
      [14, 32],
      [32, 77],
    ]);
  });

  for (const [variant, base64] of builds) {
    const { k, memory } = instantiate(base64);
    for (const c of CASES) {
      it(`[${variant}] ${c[0]}: [${c[1]},${c[2]}]${c[4] ? "ᵀ" : ""}×[${c[2]},${c[3]}]${c[5] ? "ᵀ" : ""} matches float64`, () => {
        const [, m, kk, n, , , nb] = c;
        const x = [randArray(m * kk, 1), randArray(kk * n, 2), randArray(nb, 3)];
        const { out, tail } = run(k, memory, c, x);
        const want = reference(x[0], x[1], x[2], c);
        for (let i = 0; i < want.length; i++) {
          const tol = 1e-5 * Math.sqrt(kk) * (1 + Math.abs(want[i]));
          assert.ok(Math.abs(out[i] - want[i]) <= tol, `element ${i}: got ${out[i]}, want ${want[i]}`);
        }
        assert.ok(
          tail.every((v) => Number.isNaN(v)),
          "wrote past the end of C",
        );
      });
    }

    it(`[${variant}] rows computed from any starting row equal the whole product bit for bit (thread split)`, () => {
      const c: Case = ["split", 45, 700, 30, false, false, 30, 1];
      const x = [randArray(45 * 700, 4), randArray(700 * 30, 5), randArray(30, 6)];
      const whole = run(k, memory, c, x).out;
      const lower = run(k, memory, ["lower", 22, 700, 30, false, false, 30, 1], [x[0].subarray(23 * 700), x[1], x[2]]);
      assert.deepEqual(lower.out, whole.subarray(23 * 30));
    });

    it(`[${variant}] NaN propagates through ReLU and ReLU6, as in torch`, () => {
      const c: Case = ["nan", 5, 3, 9, false, false, 0, 2];
      const a = randArray(15, 7);
      a[4] = NaN; // row 1
      const { out } = run(k, memory, c, [a, randArray(27, 8), new Float32Array(0)]);
      for (let j = 0; j < 9; j++) assert.ok(Number.isNaN(out[9 + j]), `row 1 column ${j}`);
      assert.ok(out.subarray(0, 9).every((v) => v >= 0 && v <= 6));
    });
  }
});
