/**
 * peftlab's optional native addon (lib/backend/addon, built by scripts/build-native.mjs into
 * dist/native/peftlab_native.node): an AVX2 + FMA GEMM with its own thread pool that reads and writes the wasm
 * backend's heap in place. Not a kernel itself: wasm_gemm.ts's `sgemmBatch` hands it every GEMM when it is active,
 * gelu_erf.ts its GELU, channel_sums.ts / channel_affine.ts / relu_grad.ts their per-channel passes, and
 * layer_norm.ts and fused_attention.ts (native-only kernels) their LayerNorm and attention.
 *
 * Why: wasm SIMD is 4 lanes wide, so the wasm GEMM tops out near 45 GFLOP/s per core here; AVX2 + FMA doubles the
 * width. Measured on this 2-core machine (2026-11-22, `node scratch/native_bench.mjs`): [3152,384]×[384,1536]
 * 89 GFLOP/s on one thread, 165–176 on two; the wasm GEMM 44–47 and 86.
 *
 * It is used when the file exists, loads, and the CPU has AVX2 + FMA; PEFTLAB_NATIVE=0 turns it off. Anywhere
 * else (no compiler or Node headers at build time, another CPU) the wasm GEMM runs, with the same results to
 * float32 rounding.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { BackendError } from "../../errors";
import { packageRoot } from "../../paths";

/** The addon's exports; offsets, strides and steps are in floats of `heap`. */
export interface NativeAddon {
  /**
   * (heap, aAt, ars, acs, aStep, bAt, brs, bcs, bStep, outAt, m, k, n, count, biasAt, biasLen, act): slice s of
   * out = [m, n] at outAt + s·m·n = op(A_s)·op(B_s) (+ bias) (act); see peftlab_native.c.
   */
  sgemmBatch(heap: Float32Array, ...args: number[]): void;
  /** (heap, xAt, yAt, gAt, len): y = GELU(x) (erf form) and, when gAt ≥ 0, g = GELU'(x); offsets in floats. */
  geluErf(heap: Float32Array, xAt: number, yAt: number, gAt: number, len: number): void;
  /** (heap, aAt, bAt, outAt, len): out = a·b elementwise (multiply.ts). */
  mul(heap: Float32Array, aAt: number, bAt: number, outAt: number, len: number): void;
  /** (heap, xAt, gammaAt, betaAt, yAt, meanAt, rstdAt, rows, d, eps): LayerNorm over rows of d (layer_norm.ts). */
  layerNorm(heap: Float32Array, ...args: number[]): void;
  /** (heap, xAt, meanAt, rstdAt, gammaAt, dyAt, dxAt, rows, d): LayerNorm's input gradient. */
  layerNormGrad(heap: Float32Array, ...args: number[]): void;
  /** (heap, qkvAt, outAt, probsAt (−1: not kept), b, t, heads, dh, scale): attention from qkv (fused_attention.ts). */
  attention(heap: Float32Array, ...args: number[]): void;
  /** (heap, qkvAt, probsAt, dyAt, dqkvAt, b, t, heads, dh, scale): dqkv of attention. */
  attentionGrad(heap: Float32Array, ...args: number[]): void;
  /** (heap, xAt, yAt, mAt, mode, rows, C, outAt): BatchNorm's per-channel sums (channel_sums.ts); −1: absent. */
  channelSums(heap: Float32Array, ...args: number[]): void;
  /** (heap, outAt, aAt, pAt, bAt, mAt, qAt, rAt, rows, C): out = p·a (+ q·(b − m)) + r per channel. */
  channelAffine(heap: Float32Array, ...args: number[]): void;
  /** (heap, dxAt, dyAt, yAt, len, cap6): the ReLU / ReLU6 gradient from the output (relu_grad.ts). */
  reluGrad(heap: Float32Array, ...args: number[]): void;
  /**
   * (heap, xAt, wAt, biasAt, outAt, n, inH, inW, C, kh, kw, strideH, strideW, padTop, padLeft, outH, outW, act):
   * depthwise conv forward, NHWC, multiplier 1 (depthwise_conv2d.ts).
   */
  depthwiseConv(heap: Float32Array, ...args: number[]): void;
  /**
   * (heap, xAt, wAt, biasAt, outAt, n, inH, inW, C, kh, kw, strideH, strideW, dilH, dilW, padTop, padLeft, outH, outW,
   * CO, act): NHWC conv forward, groups 1, as im2col + GEMM (conv2d_forward.ts).
   */
  conv2d(heap: Float32Array, ...args: number[]): void;
  /** Threads the pool uses from now on; returns the value set. */
  setThreads(n: number): number;
  /** splits: calls so far that ran on more than one thread. */
  info(): { isa: string | null; threads: number; cores: number; splits: number };
}

/** Whether the addon is usable, and why not when it is not. */
export interface NativeStatus {
  addon: NativeAddon | null;
  /** "avx2+fma" when usable. */
  isa: string | null;
  why: string;
  file: string;
}

let loaded: NativeStatus | undefined;

/**
 * The addon with each export's argument errors (plain RangeErrors from C: what failed and why) rethrown as
 * BackendError with the call, the check that failed and what to do. peftlab's kernels check shapes before they call
 * it, so reaching one is a peftlab bug, not a user error.
 */
function typedAddon(raw: NativeAddon): NativeAddon {
  const out: Record<string, unknown> = {};
  // The exports are defined non-enumerable (napi_default), so list own property names, not entries.
  for (const name of Object.getOwnPropertyNames(raw)) {
    const fn = (raw as unknown as Record<string, unknown>)[name];
    if (typeof fn !== "function") continue;
    out[name] = (...args: unknown[]): unknown => {
      try {
        return (fn as (...a: unknown[]) => unknown)(...args);
      } catch (e) {
        const heap = args[0] instanceof Float32Array ? `heap of ${args[0].length} floats, ` : "";
        const rest = args.filter((a) => typeof a === "number").join(", ");
        const err = new BackendError(`the native addon rejected a call to ${name}`, {
          where: `peftlab_native.${name}(${heap}${rest})`,
          expected: "arguments that pass the export's checks (offsets and sizes inside the heap, no overlaps)",
          got: (e as Error).message,
          fix: "this call comes from peftlab's own kernels, so please report it with this message; meanwhile PEFTLAB_NATIVE=0 runs the same model without the addon",
        });
        (err as Error & { cause?: unknown }).cause = e;
        throw err;
      }
    };
  }
  return out as unknown as NativeAddon;
}

/** Loads the addon once per process. */
export function nativeStatus(): NativeStatus {
  if (loaded) return loaded;
  const file = path.join(packageRoot(), "dist/native/peftlab_native.node");
  const off = (why: string): NativeStatus => ({ addon: null, isa: null, why, file });
  if (!fs.existsSync(file)) return (loaded = off(`not built (${path.relative(process.cwd(), file)} is missing)`));
  try {
    const addon = typedAddon(require(file) as NativeAddon);
    const isa = addon.info().isa;
    loaded = isa ? { addon, isa, why: "", file } : off("this CPU lacks AVX2 + FMA");
  } catch (e) {
    loaded = off(`failed to load: ${(e as Error).message.split("\n")[0]}`);
  }
  return loaded;
}

let enabled = false;
let offWhy = "not configured (initBackend has not run)";

/** The addon when wasm GEMMs go to it (see useNativeKernels), else null. */
export function activeNative(): NativeAddon | null {
  return enabled ? (loaded?.addon ?? null) : null;
}

/**
 * Sends the wasm backend's GEMMs to the addon (true, where it loads) or to peftlab's wasm GEMM (false); returns
 * whether the addon is now in use. initBackend calls it from configureGemmThreads; tests use it to run both.
 */
export function useNativeKernels(on: boolean, threads?: number, why = "turned off"): boolean {
  const s = nativeStatus();
  enabled = on && s.addon !== null;
  offWhy = on ? s.why : why;
  if (enabled && threads !== undefined) s.addon?.setThreads(threads);
  return enabled;
}

/** Which GEMM the wasm kernels use now: "native avx2+fma", or "wasm" with the reason the addon is not used. */
export function gemmEngine(): { engine: "native" | "wasm"; isa: string | null; why: string } {
  return enabled ? { engine: "native", isa: loaded?.isa ?? null, why: "" } : { engine: "wasm", isa: null, why: offWhy };
}
