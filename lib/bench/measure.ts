/**
 * Timing and memory helpers of the benchmark: warm up, time each repeat, take the median; profile one warm-up step
 * for tfjs's peak bytes and a per-kernel time breakdown; read the process's RSS high-water mark.
 *
 * Pitfall kept out on purpose (shared/DESIGN.md): never return a large TypedArray from tf.tidy. Steps here end by
 * reading one scalar or a small logits tensor, which also forces the computation to finish.
 */
import * as tf from "@tensorflow/tfjs";
import type { KernelTime, MemoryStats } from "./types";

/** The timings of one measured step function. */
export interface Timing {
  timesS: number[];
  medianS: number;
  /** tf.profile of the first warm-up call; null when there was no warm-up. */
  peakBytes: number | null;
  topKernels: KernelTime[];
}

/** Median of a non-empty list. */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/**
 * Runs `step` `warmup` times (the first under tf.profile), then `repeats` timed times; returns each repeat's
 * seconds and their median. `step` receives the call index so it can cycle through inputs.
 */
export async function timeSteps(
  step: (i: number) => unknown,
  o: { warmup: number; repeats: number; log?: (s: string) => void; label?: string },
): Promise<Timing> {
  let peakBytes: number | null = null;
  let topKernels: KernelTime[] = [];
  let call = 0;
  for (let w = 0; w < o.warmup; w++) {
    const t0 = performance.now();
    if (w === 0) {
      const prof = await profileOnce(() => step(call++));
      peakBytes = prof.peakBytes;
      topKernels = prof.topKernels;
    } else {
      await step(call++);
    }
    o.log?.(`${o.label ?? "step"} warm-up ${w + 1}/${o.warmup}: ${((performance.now() - t0) / 1000).toFixed(2)} s`);
  }
  const timesS: number[] = [];
  for (let r = 0; r < o.repeats; r++) {
    const t0 = performance.now();
    await step(call++);
    timesS.push((performance.now() - t0) / 1000);
    o.log?.(`${o.label ?? "step"} repeat ${r + 1}/${o.repeats}: ${timesS[r].toFixed(2)} s`);
  }
  return { timesS, medianS: median(timesS), peakBytes, topKernels };
}

/**
 * One call under tf.profile: peak tfjs bytes and kernel times. tfjs's per-kernel NaN check (which reads every
 * output back asynchronously and holds copies meanwhile) is turned off for the call so it does not inflate memory.
 */
export async function profileOnce(f: () => unknown): Promise<{ peakBytes: number | null; topKernels: KernelTime[] }> {
  const env = tf.env();
  const had = env.getBool("CHECK_COMPUTATION_FOR_ERRORS");
  env.set("CHECK_COMPUTATION_FOR_ERRORS", false);
  try {
    const info = await tf.profile(async () => {
      await f();
      return null as unknown as tf.Tensor;
    });
    const byKernel = new Map<string, { ms: number; calls: number }>();
    for (const k of info.kernels) {
      // customGrad ops (fused matMul, …) appear as a scope ("<op>__op", "unnamed scope") around their kernels: skip them.
      if (k.name.endsWith("__op") || k.name === "unnamed scope") continue;
      const e = byKernel.get(k.name) ?? { ms: 0, calls: 0 };
      e.ms += Number(k.kernelTimeMs) || 0;
      e.calls += 1;
      byKernel.set(k.name, e);
    }
    const total = [...byKernel.values()].reduce((a, e) => a + e.ms, 0) || 1;
    const topKernels = [...byKernel]
      .map(([kernel, e]) => ({ kernel, ms: round(e.ms, 1), calls: e.calls, share: round(e.ms / total, 3) }))
      .sort((a, b) => b.ms - a.ms)
      .slice(0, 10);
    return { peakBytes: Number.isFinite(info.peakBytes) ? info.peakBytes : null, topKernels };
  } finally {
    env.set("CHECK_COMPUTATION_FOR_ERRORS", had);
  }
}

/** Memory figures now: RSS high-water mark, live tfjs bytes and the wasm heap size. */
export function memoryStats(peakBytes: number | null): MemoryStats {
  return {
    maxRssMiB: round(process.resourceUsage().maxRSS / 1024, 1),
    tfBytes: tf.memory().numBytes,
    tfPeakBytes: peakBytes,
    wasmHeapMiB: wasmHeapMiB(),
    gpuPeakBytes: gpuPeakBytes(),
  };
}

function gpuPeakBytes(): number | null {
  if (tf.getBackend() !== "webgpu") return null;
  const m = tf.memory() as tf.MemoryInfo & { numBytesAllocatedInGPU?: number };
  return typeof m.numBytesAllocatedInGPU === "number" ? m.numBytesAllocatedInGPU : null;
}

function wasmHeapMiB(): number | null {
  if (tf.getBackend() !== "wasm") return null;
  const b = tf.backend() as unknown as { wasm?: { HEAPU8?: Uint8Array } };
  const n = b.wasm?.HEAPU8?.byteLength;
  return typeof n === "number" ? round(n / 2 ** 20, 1) : null;
}

/** Rounds to `digits` decimals. */
export function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
