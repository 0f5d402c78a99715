/** Plain-data types of `peftlab bench`: one result per workload run, and the report written as JSON. */
import type { ReferenceRun } from "./reference";

/** Format tag of the JSON report; bump when a field changes meaning. */
export const BENCH_SCHEMA = "peftlab-bench/1";

/** `peftlab` = with peftlab's kernel overrides (as shipped); `tfjs-kernels` = overrides off (--baseline). */
export type BenchVariant = "peftlab" | "tfjs-kernels";

/** Memory figures of one workload (each workload runs in its own process, so the high-water marks are its own). */
export interface MemoryStats {
  /** Process RSS high-water mark, process.resourceUsage().maxRSS, in MiB. */
  maxRssMiB: number;
  /** tf.memory().numBytes after the timed runs (weights, optimiser state, caches still alive). */
  tfBytes: number;
  /** Highest tf.memory().numBytes inside one profiled step (tf.profile's peakBytes); null when not profiled. */
  tfPeakBytes: number | null;
  /** Size of the wasm linear memory (it never shrinks, so this is its high-water mark); null off wasm. */
  wasmHeapMiB: number | null;
  /**
   * On webgpu: peak GPU bytes, the high-water mark of tfjs's GPU buffer pool (tf.memory().numBytesAllocatedInGPU:
   * the pool only grows, so after the runs it is the peak of live tensors plus reusable free buffers); null elsewhere.
   */
  gpuPeakBytes?: number | null;
}

/** Time spent in one kernel during the profiled warm-up step. */
export interface KernelTime {
  kernel: string;
  ms: number;
  calls: number;
  /** Fraction of the summed kernel time of that step. */
  share: number;
}

/** The result of one workload. */
export interface WorkloadResult {
  workload: string;
  title: string;
  variant: BenchVariant;
  status: "ok" | "skipped" | "failed";
  /** Why it was skipped or how it failed. */
  reason?: string;
  backend: string;
  threads: number;
  simd: boolean;
  /** peftlab's wasm kernels ran their relaxed-SIMD FMA build. */
  fma: boolean;
  /** What computed the matrix products (BackendChoice.gemm): "native avx2+fma", "wasm fma", "tfjs", … */
  gemm: string;
  /** Kernel names peftlab replaced on this backend for this run (empty for the baseline and on native backends). */
  overrides: string[];
  /** On webgpu: the adapter, "vendor / architecture (description)", and whether it is a software one. */
  adapter?: { name: string; software: string | null; maxBufferSize: number; maxStorageBufferBindingSize: number };
  batchSize: number | null;
  imageSize: number | null;
  /** Images processed per timed repeat. */
  imagesPerRepeat: number | null;
  warmup: number;
  repeats: number;
  /** Wall seconds of each timed repeat. */
  timesS: number[];
  medianS: number | null;
  imgPerS: number | null;
  /** Analytical FLOPs per image (see flops.ts); null where FLOPs do not apply (data loading). */
  gflopPerImage: number | null;
  /** Achieved GFLOP/s = gflopPerImage · imgPerS. */
  gflops: number | null;
  flopFormula: string | null;
  memory: MemoryStats | null;
  /** Top kernels by time in the profiled warm-up step. */
  topKernels: KernelTime[];
  /** The workload this one is a fast path of (merged vs unmerged, cached prefix vs full forward). */
  fastPathOf?: string;
  /** Workload-specific figures (cache fill time, merged-vs-unmerged max difference, ...). */
  extra: Record<string, number | string | boolean | null>;
  /** Load averages (1, 5, 15 min) before and after the workload. */
  loadBefore: number[];
  loadAfter: number[];
  /** Seconds the workload process ran, setup included. */
  wallS: number;
}

/** peftlab / reference for one workload. */
export interface BenchRatio {
  workload: string;
  reference: string;
  referenceImgPerS: number;
  peftlabImgPerS: number | null;
  /** peftlab / reference; null when the workload did not run. */
  ratio: number | null;
  referenceGflops: number | null;
}

/** The whole report, as written to --out. */
export interface BenchReport {
  schema: typeof BENCH_SCHEMA;
  date: string;
  command: string;
  host: {
    cpus: number;
    cpuModel: string;
    platform: string;
    node: string;
    tfjs: string;
    loadStart: number[];
    loadEnd: number[];
  };
  options: { backend: string; workloads: string[]; repeats: number; warmup: number; quick: boolean; baseline: boolean };
  results: WorkloadResult[];
  references: ReferenceRun[];
  ratios: BenchRatio[];
}
