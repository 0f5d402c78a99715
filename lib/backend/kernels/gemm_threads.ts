/**
 * Two-core GEMM for the wasm backend (not a kernel itself): a large GEMM is split by rows of A, or a batch of
 * GEMMs (attention's per-head products) by slices, the main thread computing the first part and one persistent
 * worker_thread the rest, both with peftlab's sgemm.
 *
 * tfjs-backend-wasm's memory is not shared, so the worker runs sgemm (sgemm_shared.wasm, the same variant as the
 * main thread's) on a *shared* WebAssembly.Memory that the main thread writes its operands into (the span of A it
 * reads, B, the bias) and reads its output from: one copy each way. The main thread blocks on Atomics.wait for it.
 * sgemm computes every output element the same way whatever the row count and wherever the rows start, so the
 * result is bit-for-bit the single-threaded one. The worker is unref'd: it never keeps the process alive.
 */
import * as os from "node:os";
import { Worker } from "node:worker_threads";
import { BackendError } from "../../errors";
import { WORKER_SOURCE } from "./gemm_worker_source";
import { useNativeKernels } from "../addon/loader";
import { sharedSgemmModule } from "../wasm/loader";

/**
 * Control words (Int32 indices into the control SharedArrayBuffer). A job is `sgemm_batch` with these arguments;
 * the *_AT words are byte offsets into the shared memory.
 */
export const CTL = {
  STATE: 0,
  READY: 1,
  STALL: 2,
  A_AT: 3,
  ARS: 4,
  ACS: 5,
  ASTEP: 6,
  B_AT: 7,
  BRS: 8,
  BCS: 9,
  BSTEP: 10,
  OUT_AT: 11,
  M: 12,
  K: 13,
  N: 14,
  COUNT: 15,
  BIAS_AT: 16,
  BSTRIDE: 17,
  ACT: 18,
  WORK_AT: 19,
} as const;
/** Values of CTL.STATE. */
export const STATE = { IDLE: 0, POSTED: 1, DONE: 2, FAILED: 3 } as const;

/** The worker's shared memory: 64 KiB pages, initial and maximum (2 GiB, sgemm_shared.wasm's declared limit). */
const SHARED_PAGES = { initial: 256, maximum: 32768 };

/** Smallest GEMM (M·K·N multiply-adds) worth splitting: below it the copies and the hand-off cost more. */
export const SPLIT_MIN_MACS = 1 << 24;
/** Rows of A below which a GEMM is never split by rows (sgemm computes rows in tiles of 4, blocks of 64). */
const SPLIT_MIN_ROWS = 32;
/** Longest wait for the worker's half before giving up with a BackendError. */
let timeoutMs = 120_000;

/** The parts of the WebAssembly JS API used here (tsconfig's lib has no DOM). */
interface SharedMemory {
  buffer: SharedArrayBuffer;
  grow(pages: number): number;
}
interface WasmApi {
  Memory: new (d: { initial: number; maximum: number; shared: true }) => SharedMemory;
  Instance: new (m: object, imports: object) => { exports: unknown };
}
const WA = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

interface Helper {
  worker: Worker;
  ctl: Int32Array;
  memory: SharedMemory;
  /** sgemm_shared.wasm's sgemm_work_floats, from an instance on the main thread (it writes nothing). */
  workFloats: (k: number, n: number) => number;
  dead?: string;
}

let threads = 1;
let helper: Helper | undefined;
let splits = 0;

/** Threads used by large wasm GEMMs (1 or 2). */
export function gemmThreads(): number {
  return threads;
}

/**
 * Default thread count when PEFTLAB_THREADS is unset: every core for the native GEMM's pool; for the wasm GEMM, 2
 * where the machine has at least two cores. Measured on a
 * quiet 2-core machine (2026-11-22, load < 1): ViT-S/16 LoRA step 1.18 → 1.58 img/s, inference 2.59 → 3.66 img/s.
 * On a machine whose second core is busy (load 7–11) it was 0.85–1.03× on single GEMMs: set PEFTLAB_THREADS=1 there.
 */
export function defaultGemmThreads(native = false): number {
  return native ? os.availableParallelism() : Math.min(2, os.availableParallelism());
}

/**
 * Chooses the GEMM engine and its threads: the native addon (lib/backend/addon/loader.ts) where it loads and PEFTLAB_NATIVE
 * is not 0, with PEFTLAB_THREADS threads (default: every core); else the wasm GEMM with at most 2 (1 disables the
 * worker, which is started here).
 */
export function configureGemmThreads(env: NodeJS.ProcessEnv): number {
  const raw = env.PEFTLAB_THREADS;
  let want: number | undefined;
  if (raw !== undefined && raw !== "") {
    want = Number(raw);
    if (!Number.isInteger(want) || want < 1 || want > 64) {
      throw new BackendError(`PEFTLAB_THREADS must be a whole number from 1 to 64`, {
        where: "PEFTLAB_THREADS",
        expected: "1 (one thread), or more (the native GEMM's pool; the wasm GEMM uses at most 2)",
        got: JSON.stringify(raw),
        fix: "set PEFTLAB_THREADS=1, 2, …, or unset it",
      });
    }
  }
  const native = env.PEFTLAB_NATIVE !== "0";
  if (useNativeKernels(native, want ?? defaultGemmThreads(true), "PEFTLAB_NATIVE=0")) {
    threads = want ?? defaultGemmThreads(true);
    return threads;
  }
  threads = Math.min(want ?? defaultGemmThreads(), 2);
  if (threads > 1) startHelper(); // an already-started worker just stays idle (blocked, unref'd) at 1 thread
  return threads;
}

/** Blocks until the GEMM worker has started (benchmarks, tests); returns whether it is ready. */
export function waitForGemmWorker(timeoutMs = 30_000): boolean {
  if (!helper || helper.dead) return false;
  const deadline = Date.now() + timeoutMs;
  while (Atomics.load(helper.ctl, CTL.READY) !== 1 && !helper.dead && Date.now() < deadline) {
    Atomics.wait(helper.ctl, CTL.READY, 0, 100);
  }
  return Atomics.load(helper.ctl, CTL.READY) === 1;
}

function startHelper(): void {
  if (helper && !helper.dead) return;
  const ctl = new Int32Array(new SharedArrayBuffer(32 * 4));
  const memory = new WA.Memory({ ...SHARED_PAGES, shared: true });
  const module = sharedSgemmModule();
  const local = new WA.Instance(module, { env: { memory } }).exports as {
    sgemm_work_floats(k: number, n: number): number;
  };
  const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { ctl: ctl.buffer, memory, module, CTL, STATE } });
  worker.unref();
  const h: Helper = { worker, ctl, memory, workFloats: (k, n) => local.sgemm_work_floats(k, n) };
  worker.on("error", (e) => (h.dead = `worker failed: ${e.message}`));
  worker.on("exit", (code) => (h.dead ??= `worker exited with code ${code}`));
  helper = h;
}

/** A strided operand in floats: element (r, c) at heap[at + r·rs + c·cs]. */
export interface StridedF {
  at: number;
  rs: number;
  cs: number;
}

/**
 * A GEMM, or a batch of `count` GEMMs, a worker can take: operands as float offsets into `heap`, sizes, and
 * sgemm's fused epilogue. Slice s reads A at a.at + s·aStep and B at w.at + s·wStep (a step of 0 repeats one
 * operand) and writes the row-major [m, n] output at out + s·m·n.
 */
export interface SplitGemm {
  /** The current heap view (a function: the main thread's own GEMM may grow the memory). */
  heap: () => Float32Array;
  a: StridedF;
  aStep: number;
  w: StridedF;
  wStep: number;
  out: number;
  m: number;
  k: number;
  n: number;
  count: number;
  /** Float offset and length of the bias (length 0: none; 1: one value for all columns). */
  bias: [number, number];
  act: number;
}

/** Rows of A the main thread keeps when this GEMM should be split, or undefined to run it whole. */
export function splitRows(m: number, k: number, n: number): number | undefined {
  if (m < SPLIT_MIN_ROWS || !workerReady(m * k * n)) return undefined;
  return Math.ceil(m / 2);
}

/** Slices the main thread keeps when this batch of GEMMs should be split, or undefined to run it here. */
export function splitSlices(count: number, m: number, k: number, n: number): number | undefined {
  if (count < 2 || !workerReady(count * m * k * n)) return undefined;
  return Math.ceil(count / 2);
}

function workerReady(macs: number): boolean {
  if (threads < 2 || !helper || macs < SPLIT_MIN_MACS) return false;
  if (helper.dead) {
    // Results stay exact on one thread, so say so once and go on rather than fail a training run.
    process.emitWarning(`peftlab: two-core GEMM disabled (${helper.dead}); GEMMs run on one thread`);
    threads = 1;
    return false;
  }
  return Atomics.load(helper.ctl, CTL.READY) === 1; // still starting: no waiting for it
}

/** Floats of `s` that rows [0, rows) × columns [0, cols) read. */
function span(s: StridedF, rows: number, cols: number): number {
  return (rows - 1) * s.rs + (cols - 1) * s.cs + 1;
}

/**
 * Hands the part of `g` from row `m0` (a single GEMM: `from` = "rows") or slice `m0` (`from` = "slices") to the
 * worker; returns a function that waits for it and writes its output into the heap.
 */
export function postWorker(g: SplitGemm, from: "rows" | "slices", m0: number): () => void {
  const h = helper as Helper;
  splits++;
  const rows = from === "rows" ? g.m - m0 : g.m;
  const count = from === "rows" ? 1 : g.count - m0;
  const aFrom = from === "rows" ? g.a.at + m0 * g.a.rs : g.a.at + m0 * g.aStep;
  const bFrom = from === "rows" ? g.w.at : g.w.at + m0 * g.wStep;
  const outFrom = g.out + (from === "rows" ? m0 * g.n : m0 * g.m * g.n);
  const aLen = (count - 1) * g.aStep + span(g.a, rows, g.k);
  const bLen = (count - 1) * g.wStep + span(g.w, g.k, g.n);
  const outLen = count * rows * g.n;
  // Shared memory layout (floats): [16 unused: bias pointer 0 means none] A, B, bias, output, sgemm's scratch.
  const at = { a: 16, b: 16 + aLen, bias: 16 + aLen + bLen, out: 0, work: 0 };
  at.out = at.bias + g.bias[1];
  at.work = at.out + outLen;
  const bytes = (at.work + h.workFloats(g.k, g.n)) * 4;
  if (bytes > h.memory.buffer.byteLength) h.memory.grow(Math.ceil((bytes - h.memory.buffer.byteLength) / 65536));
  const shared = new Float32Array(h.memory.buffer);
  const heapNow = g.heap();
  shared.set(heapNow.subarray(aFrom, aFrom + aLen), at.a);
  shared.set(heapNow.subarray(bFrom, bFrom + bLen), at.b);
  shared.set(heapNow.subarray(g.bias[0], g.bias[0] + g.bias[1]), at.bias);
  const ctl = h.ctl;
  const words: [number, number][] = [
    [CTL.A_AT, at.a * 4],
    [CTL.ARS, g.a.rs],
    [CTL.ACS, g.a.cs],
    [CTL.ASTEP, g.aStep],
    [CTL.B_AT, at.b * 4],
    [CTL.BRS, g.w.rs],
    [CTL.BCS, g.w.cs],
    [CTL.BSTEP, g.wStep],
    [CTL.OUT_AT, at.out * 4],
    [CTL.M, rows],
    [CTL.K, g.k],
    [CTL.N, g.n],
    [CTL.COUNT, count],
    [CTL.BIAS_AT, g.bias[1] ? at.bias * 4 : 0],
    [CTL.BSTRIDE, g.bias[1] === 1 ? 0 : 1],
    [CTL.ACT, g.act],
    [CTL.WORK_AT, at.work * 4],
  ];
  for (const [i, v] of words) ctl[i] = v;
  Atomics.store(ctl, CTL.STATE, STATE.POSTED); // publishes everything written above
  Atomics.notify(ctl, CTL.STATE);
  return () => {
    const state = waitWhilePosted(h);
    Atomics.store(ctl, CTL.STATE, STATE.IDLE);
    if (state !== STATE.DONE) fail(h, g, state === STATE.FAILED ? "the worker's GEMM failed" : "timed out");
    g.heap().set(new Float32Array(h.memory.buffer, at.out * 4, outLen), outFrom);
  };
}

function waitWhilePosted(h: Helper): number {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const s = Atomics.load(h.ctl, CTL.STATE);
    if (s !== STATE.POSTED) return s;
    const left = deadline - Date.now();
    if (left <= 0 || h.dead) return s;
    Atomics.wait(h.ctl, CTL.STATE, STATE.POSTED, Math.min(left, 1000));
  }
}

function fail(h: Helper, g: SplitGemm, why: string): never {
  const reason = h.dead ?? why;
  h.dead ??= reason;
  threads = 1; // never hand work to a broken worker again
  void h.worker.terminate();
  throw new BackendError(`Two-core GEMM: ${reason}`, {
    where: `gemm worker, ${g.count} × [${g.m},${g.k}]×[${g.k},${g.n}]`,
    expected: `the worker's rows within ${timeoutMs / 1000} s`,
    got: reason,
    fix: "set PEFTLAB_THREADS=1 to run every GEMM on the main thread",
  });
}

/** Test hooks: a shorter timeout, and a worker that sleeps `ms` before each job (to provoke the timeout). */
export const gemmThreadsTestHooks = {
  /** GEMMs handed to the worker so far. */
  splits: (): number => splits,
  setTimeoutMs(ms: number): void {
    timeoutMs = ms;
  },
  setWorkerStallMs(ms: number): void {
    if (helper) Atomics.store(helper.ctl, CTL.STALL, ms);
  },
};
