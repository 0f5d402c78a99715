/**
 * peftlab's own WASM SIMD kernels (lib/backend/wasm/simd_kernels.c), instantiated on tfjs-backend-wasm's own
 * WebAssembly.Memory so they read and write tfjs tensors in place: no copies. Not a kernel itself: the depthwise
 * gradient kernels (channel multiplier 1), the packed GEMM (wasm_gemm.ts), the GELU and BatchNorm kernels call it.
 */
import * as v8 from "node:v8";
import { BackendError } from "../../errors";
import {
  SGEMM_SHARED_FMA_WASM_BASE64,
  SGEMM_SHARED_WASM_BASE64,
  SIMD_KERNELS_FMA_WASM_BASE64,
  SIMD_KERNELS_WASM_BASE64,
} from "./simd_kernels_wasm";
import type { ConvGeom } from "../kernels/conv_util";
import type { WasmBackend } from "../kernels/wasm_gemm";

/** The exports of simd_kernels.wasm; pointers are byte offsets into tfjs's heap. */
export interface SimdExports {
  /** (x, dy, acc64, ...geom): acc64[fh, fw, c] += dW. */
  dw_filter_grad(x: number, dy: number, acc: number, ...geom: number[]): void;
  /** (dx, dy, w, ...geom): dx = the input gradient, fully overwritten. */
  dw_input_grad(dx: number, dy: number, w: number, ...geom: number[]): void;
  f64_to_f32(acc: number, out: number, len: number): void;
  /**
   * (a, ars, acs, b, brs, bcs, c, m, k, n, bias, bstride, act, work): c[m,n] = op(a)·op(b) (+ bias) (act), with
   * op(a)(i, k) = a[i·ars + k·acs] and op(b)(k, j) = b[k·brs + j·bcs] (in floats); see sgemm.c.
   */
  sgemm(...args: number[]): void;
  /** (k, n): floats of scratch `sgemm` needs. */
  sgemm_work_floats(k: number, n: number): number;
  /** (x, y, g, len): y = GELU(x) and, when g ≠ 0, g = GELU'(x), elementwise. */
  gelu_erf(x: number, y: number, g: number, len: number): void;
  /** (x, y, m, mode, rows, C, tmp32, acc64): acc64[c] = Σ x, Σ (x − m)² or Σ y·(x − m) over rows. */
  channel_sums(x: number, y: number, m: number, mode: number, rows: number, c: number, tmp: number, acc: number): void;
  /** (out, a, p, b, m, q, r, rows, C): out = p·a + q·(b − m) + r per channel (b = 0: no second term). */
  channel_affine(
    out: number,
    a: number,
    p: number,
    b: number,
    m: number,
    q: number,
    r: number,
    rows: number,
    c: number,
  ): void;
  /** (dx, dy, y, len, cap6): dx = dy where 0 < y (< 6), else 0. */
  relu_grad(dx: number, dy: number, y: number, len: number, cap6: number): void;
}

/** The slice of the WebAssembly JS API used here (tsconfig's lib has no DOM, and @types/node does not declare it). */
interface WasmJsApi {
  Module: new (bytes: Uint8Array) => object;
  validate(bytes: Uint8Array): boolean;
  Instance: new (module: object, imports: object) => { exports: unknown };
  Memory: abstract new (...args: never[]) => object;
}
const WA = (globalThis as unknown as { WebAssembly: WasmJsApi }).WebAssembly;

let compiled: { module: object; variant: SimdVariant } | undefined;
const instances = new WeakMap<object, SimdExports>();

/**
 * Which build of the kernels runs: "fma" (relaxed SIMD's f32x4.relaxed_madd, one fused multiply-add per lane where
 * the CPU has FMA3) or "mul-add" (plain SIMD128, any engine).
 */
export type SimdVariant = "fma" | "mul-add";

/**
 * The compiled kernels (once per process). Relaxed SIMD is standard WebAssembly (shipped by default from V8 11.4,
 * Node 22), but Node 20's V8 11.3 has it behind --experimental-wasm-relaxed-simd, so the flag is turned on here
 * before compiling; where the engine still rejects the FMA build, the mul-add build runs. PEFTLAB_WASM_FMA=0 picks
 * the mul-add build. Measured on one core (2026-11-22): the packed GEMM at 45 GFLOP/s (fma) vs 33 (mul-add);
 * XNNPACK's, which tfjs-backend-wasm uses, 25.
 */
export function simdModule(): object {
  return compiledKernels().module;
}

let compiledShared: object | undefined;

/** sgemm.c alone on a shared memory, in the same variant as simdModule(): what the GEMM worker runs. */
export function sharedSgemmModule(): object {
  const b64 = simdVariant() === "fma" ? SGEMM_SHARED_FMA_WASM_BASE64 : SGEMM_SHARED_WASM_BASE64;
  compiledShared ??= new WA.Module(Buffer.from(b64, "base64"));
  return compiledShared;
}

/** The build of the kernels in use (see simdModule). */
export function simdVariant(): SimdVariant {
  return compiledKernels().variant;
}

function compiledKernels(): { module: object; variant: SimdVariant } {
  if (compiled) return compiled;
  if (process.env.PEFTLAB_WASM_FMA !== "0") {
    const fma = Buffer.from(SIMD_KERNELS_FMA_WASM_BASE64, "base64");
    if (!WA.validate(fma)) v8.setFlagsFromString("--experimental-wasm-relaxed-simd");
    if (WA.validate(fma)) compiled = { module: new WA.Module(fma), variant: "fma" };
  }
  compiled ??= { module: new WA.Module(Buffer.from(SIMD_KERNELS_WASM_BASE64, "base64")), variant: "mul-add" };
  return compiled;
}

/** simd_kernels.wasm instantiated on `wb`'s memory (once per tfjs wasm module). */
export function simdKernels(wb: WasmBackend, where: string): SimdExports {
  const cached = instances.get(wb.wasm);
  if (cached) return cached;
  const memory = (wb.wasm as unknown as { asm?: { memory?: unknown } }).asm?.memory;
  if (!(memory instanceof WA.Memory)) {
    throw new BackendError("tfjs-backend-wasm does not expose its WebAssembly.Memory", {
      where,
      expected: "Module.asm.memory, a WebAssembly.Memory (tfjs-backend-wasm 4.x)",
      got: typeof memory,
      fix: "pin @tensorflow/tfjs-backend-wasm to 4.22, or set PEFTLAB_KERNELS=tfjs",
    });
  }
  const inst = new WA.Instance(simdModule(), { env: { memory } });
  const ex = inst.exports as unknown as SimdExports;
  instances.set(wb.wasm, ex);
  return ex;
}

/** The geometry arguments every depthwise export takes after its pointers, in simd_kernels.c's order. */
export function geomArgs(g: ConvGeom): number[] {
  return [g.n, g.inH, g.inW, g.inC, g.outH, g.outW, g.fh, g.fw, g.sh, g.sw, g.dh, g.dw, g.padTop, g.padLeft];
}
