/**
 * Runs one workload and reports it as a WorkloadResult. The runner starts this file as a child process per workload
 * (so each one's RSS high-water mark, wasm heap and kernel registry are its own); `runWorkload` is also callable
 * in-process. As a child it reads a WorkerRequest (JSON) from argv[2], logs progress to stderr, and prints exactly one
 * stdout line starting with RESULT_MARKER followed by the result's JSON.
 */
import * as tf from "@tensorflow/tfjs";
import { initBackend, type BackendPreference } from "../backend";
import { removeKernelOverrides } from "../backend/kernels";
import { adapterName } from "../backend/webgpu";
import { ConfigError } from "../errors";
import { memoryStats, round } from "./measure";
import { loadAverage } from "./reference";
import type { BenchVariant, WorkloadResult } from "./types";
import type { WorkloadOutcome, WorkloadSkip, WorkloadSpec } from "./workload";
import { CNN_WORKLOADS } from "./workloads_cnn";
import { KERNEL_WORKLOADS } from "./workloads_kernel";
import { VIT_WORKLOADS } from "./workloads_vit";

/** Every workload, in the order `peftlab bench` runs them. */
export const WORKLOADS: readonly WorkloadSpec[] = [...VIT_WORKLOADS, ...CNN_WORKLOADS, ...KERNEL_WORKLOADS];

/** The prefix of the one stdout line carrying a child's result. */
export const RESULT_MARKER = "@@peftlab-bench-result ";

/** What the runner asks a worker to do. */
export interface WorkerRequest {
  workload: string;
  backend: BackendPreference;
  variant: BenchVariant;
  quick: boolean;
  warmup: number;
  repeats: number;
  images?: number;
  microBatch?: number;
}

/** The workload with this name; a ConfigError lists the valid names. */
export function getWorkload(name: string): WorkloadSpec {
  const w = WORKLOADS.find((x) => x.name === name);
  if (!w) {
    throw new ConfigError(`Unknown benchmark workload "${name}"`, {
      where: "--workloads",
      expected: `comma-separated names from ${WORKLOADS.map((x) => x.name).join(", ")}`,
      got: JSON.stringify(name),
      fix: "run `peftlab bench --list` to see the workloads",
    });
  }
  return w;
}

/** Initialises the backend for the variant, runs the workload, and turns what happened into a WorkloadResult. */
export async function runWorkload(req: WorkerRequest, log: (line: string) => void = () => {}): Promise<WorkloadResult> {
  const spec = getWorkload(req.workload);
  const t0 = performance.now();
  const loadBefore = loadAverage();
  const overridesOn = req.variant === "peftlab";
  // The peftlab variant leaves the choice to initBackend (so PEFTLAB_KERNELS=tfjs still turns overrides off).
  const choice = await initBackend({
    prefer: req.backend,
    kernelOverrides: overridesOn ? undefined : false,
    log: null,
  });
  // In-process baseline after an earlier run installed overrides: put tfjs's kernels back.
  if (!overridesOn) removeKernelOverrides(choice.tfjsName);
  const base = emptyResult(req, spec, {
    status: "ok",
    backend: choice.name,
    threads: choice.threads,
    simd: choice.simd,
    fma: choice.fma,
    gemm: choice.gemm,
    overrides: choice.overrides,
    loadBefore,
  });
  if (choice.adapter) {
    const a = choice.adapter;
    base.adapter = {
      name: adapterName(a),
      software: a.software ?? null,
      maxBufferSize: a.limits.maxBufferSize,
      maxStorageBufferBindingSize: a.limits.maxStorageBufferBindingSize,
    };
  }
  let out: WorkloadOutcome | WorkloadSkip;
  try {
    out = await spec.run({
      quick: req.quick,
      warmup: req.warmup,
      repeats: req.repeats,
      images: req.images,
      microBatch: req.microBatch,
      log,
    });
  } catch (e) {
    const msg = (e instanceof Error ? e.message : String(e)).split("\n").slice(0, 3).join(" ");
    const memory = memoryStats(null);
    // wasm32 memory stops at 4 GiB; tfjs then fails with unrelated-looking messages ("reading 'map'", out of bounds).
    const heap = memory.wasmHeapMiB ?? 0;
    const oom = heap >= 3800 ? `out of wasm memory (heap ${heap} MiB of 4096; try a smaller --micro-batch): ` : "";
    return finish({ ...base, status: "failed", reason: oom + msg, memory }, t0);
  }
  if ("skipped" in out) return finish({ ...base, status: "skipped", reason: out.skipped }, t0);
  const { timing, flops } = out;
  const imgPerS = out.imagesPerRepeat / timing.medianS;
  const gflopPerImage = flops ? flops.flopsPerImage / 1e9 : null;
  return finish(
    {
      ...base,
      batchSize: out.batchSize,
      imageSize: out.imageSize,
      imagesPerRepeat: out.imagesPerRepeat,
      // Significant digits, not fixed decimals: a quick data_loader repeat lasts a few milliseconds, and 4 decimals
      // of it would disagree with imgPerS by more than 1 %.
      timesS: timing.timesS.map((t) => Number(t.toPrecision(6))),
      medianS: Number(timing.medianS.toPrecision(6)),
      imgPerS: Number(imgPerS.toPrecision(5)),
      gflopPerImage: gflopPerImage === null ? null : Number(gflopPerImage.toPrecision(6)),
      gflops: gflopPerImage === null ? null : Number((gflopPerImage * imgPerS).toPrecision(5)),
      flopFormula: flops?.formula ?? null,
      memory: memoryStats(timing.peakBytes),
      topKernels: timing.topKernels,
      fastPathOf: out.fastPathOf,
      extra: out.extra ?? {},
    },
    t0,
  );
}

function finish(r: WorkloadResult, t0: number): WorkloadResult {
  return { ...r, loadAfter: loadAverage(), wallS: round((performance.now() - t0) / 1000, 2) };
}

async function main(): Promise<void> {
  const req = JSON.parse(process.argv[2] ?? "{}") as WorkerRequest;
  const result = await runWorkload(req, (l) => process.stderr.write(`[bench ${req.workload}] ${l}\n`));
  process.stdout.write(`${RESULT_MARKER}${JSON.stringify(result)}\n`);
  tf.disposeVariables();
}

if (require.main === module) {
  main().then(
    () => process.exit(0),
    (e) => {
      process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
      process.exit(1);
    },
  );
}

/** A result with no measurements yet: the identity and plan of a run, every figure null. */
export function emptyResult(
  req: WorkerRequest,
  spec: WorkloadSpec,
  o: Pick<WorkloadResult, "status" | "backend" | "threads" | "simd" | "fma" | "gemm" | "overrides"> & {
    loadBefore: WorkloadResult["loadBefore"];
    reason?: string;
  },
): WorkloadResult {
  return {
    workload: spec.name,
    title: spec.title,
    variant: req.variant,
    status: o.status,
    ...(o.reason !== undefined ? { reason: o.reason } : {}),
    backend: o.backend,
    threads: o.threads,
    simd: o.simd,
    fma: o.fma,
    gemm: o.gemm,
    overrides: o.overrides,
    batchSize: null,
    imageSize: null,
    imagesPerRepeat: null,
    warmup: req.warmup,
    repeats: req.repeats,
    timesS: [],
    medianS: null,
    imgPerS: null,
    gflopPerImage: null,
    gflops: null,
    flopFormula: null,
    memory: null,
    topKernels: [],
    extra: {},
    loadBefore: o.loadBefore,
    loadAfter: o.loadBefore,
    wallS: 0,
  };
}
