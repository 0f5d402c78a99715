/**
 * Two-core GEMM for the wasm backend (not a kernel itself): a large GEMM is split by rows of A, the main thread
 * computing the top rows and one persistent worker_thread the bottom rows, both with peftlab's sgemm.
 *
 * tfjs-backend-wasm's memory is not shared, so the worker runs the same compiled kernels on a WebAssembly.Memory
 * of its own. Its operands travel through a SharedArrayBuffer (the span of A holding its rows, B, the bias in;
 * its rows of the output back), and the main thread blocks on Atomics.wait for them. sgemm computes every output
 * element the same way whatever the row count and wherever the rows start, so the result is bit-for-bit the
 * single-threaded one. The worker is unref'd: it never keeps the process alive.
 */
import * as os from "node:os";
import { MessageChannel, Worker } from "node:worker_threads";
import { BackendError } from "../../errors";
import { WORKER_SOURCE } from "./gemm_worker_source";
import { simdModule } from "./native_simd";

/** Control words (Int32 indices into the control SharedArrayBuffer). */
export const CTL = {
  STATE: 0,
  M: 1,
  K: 2,
  N: 3,
  ACT: 4,
  BIAS: 5,
  ARS: 6,
  ACS: 7,
  BRS: 8,
  BCS: 9,
  ASPAN: 10,
  BSPAN: 11,
  READY: 12,
  STALL: 13,
} as const;
/** Values of CTL.STATE. */
export const STATE = { IDLE: 0, POSTED: 1, DONE: 2, FAILED: 3 } as const;

/** Smallest GEMM (M·K·N multiply-adds) worth splitting: below it the copies and the hand-off cost more. */
export const SPLIT_MIN_MACS = 1 << 24;
/** Rows of A below which a GEMM is never split (XNNPACK computes rows in tiles of up to 6). */
const SPLIT_MIN_ROWS = 32;
/** Longest wait for the worker's half before giving up with a BackendError. */
let timeoutMs = 120_000;

interface Helper {
  worker: Worker;
  port: MessageChannel["port1"];
  ctl: Int32Array;
  data: Float32Array;
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
 * Default thread count when PEFTLAB_THREADS is unset: 2 where the machine has at least two cores. Measured on a
 * quiet 2-core machine (2026-11-22, load < 1): ViT-S/16 LoRA step 1.18 → 1.58 img/s, inference 2.59 → 3.66 img/s.
 * On a machine whose second core is busy (load 7–11) it was 0.85–1.03× on single GEMMs: set PEFTLAB_THREADS=1 there.
 */
export function defaultGemmThreads(): number {
  return Math.min(2, os.availableParallelism());
}

/** Sets the thread count from PEFTLAB_THREADS (1 disables; more than 2 is capped at 2) and starts the worker. */
export function configureGemmThreads(env: NodeJS.ProcessEnv): number {
  const raw = env.PEFTLAB_THREADS;
  let want = defaultGemmThreads();
  if (raw !== undefined && raw !== "") {
    want = Number(raw);
    if (!Number.isInteger(want) || want < 1) {
      throw new BackendError(`PEFTLAB_THREADS must be a whole number ≥ 1`, {
        where: "PEFTLAB_THREADS",
        expected: "1 (one thread) or 2 (main thread + one GEMM worker)",
        got: JSON.stringify(raw),
        fix: "set PEFTLAB_THREADS=1 or 2, or unset it",
      });
    }
  }
  threads = Math.min(want, 2);
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
  const ctl = new Int32Array(new SharedArrayBuffer(16 * 4));
  const { port1, port2 } = new MessageChannel();
  const worker = new Worker(WORKER_SOURCE, {
    eval: true,
    workerData: {
      ctl: ctl.buffer,
      port: port2,
      module: simdModule(), // the same build (fma or mul-add) as the main thread's
      CTL,
      STATE,
    },
    transferList: [port2],
  });
  worker.unref();
  port1.unref();
  const h: Helper = { worker, port: port1, ctl, data: new Float32Array(0) };
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

/** The GEMM a worker can take: operands as float offsets into `heap`, sizes, and sgemm's fused epilogue. */
export interface SplitGemm {
  /** The current heap view (a function: the main thread's own GEMM may grow the memory). */
  heap: () => Float32Array;
  a: StridedF;
  w: StridedF;
  /** Row-major output [m, n]. */
  out: number;
  m: number;
  k: number;
  n: number;
  /** Float offset and length of the bias (length 0: none; 1: one value for all columns). */
  bias: [number, number];
  act: number;
}

/** Rows of A the main thread keeps when this GEMM should be split, or undefined to run it whole. */
export function splitRows(m: number, k: number, n: number): number | undefined {
  if (threads < 2 || !helper || m < SPLIT_MIN_ROWS || m * k * n < SPLIT_MIN_MACS) return undefined;
  if (helper.dead) {
    // Results stay exact on one thread, so say so once and go on rather than fail a training run.
    process.emitWarning(`peftlab: two-core GEMM disabled (${helper.dead}); GEMMs run on one thread`);
    threads = 1;
    return undefined;
  }
  if (Atomics.load(helper.ctl, CTL.READY) !== 1) return undefined; // still starting: no waiting for it
  return Math.ceil(m / 2);
}

/** Hands rows [m0, m) of the GEMM to the worker; returns a function that waits for them and writes them out. */
export function postWorkerRows(g: SplitGemm, m0: number): () => void {
  const h = helper as Helper;
  const rows = g.m - m0;
  splits++;
  // The floats of A that rows [m0, m) read (the whole of A when it is transposed), and all of B.
  const aFrom = g.a.at + m0 * g.a.rs;
  const aSpan = (rows - 1) * g.a.rs + (g.k - 1) * g.a.cs + 1;
  const bSpan = (g.k - 1) * g.w.rs + (g.n - 1) * g.w.cs + 1;
  const sizes = [aSpan, bSpan, g.bias[1], rows * g.n];
  const need = sizes.reduce((x, y) => x + y, 0);
  if (h.data.length < need) {
    h.data = new Float32Array(new SharedArrayBuffer(Math.ceil(need * 1.25) * 4));
    h.port.postMessage(h.data.buffer); // the worker picks it up synchronously with receiveMessageOnPort
  }
  const d = h.data;
  let at = 0;
  for (const [from, len] of [[aFrom, aSpan], [g.w.at, bSpan], g.bias]) {
    d.set(g.heap().subarray(from, from + len), at);
    at += len;
  }
  const ctl = h.ctl;
  ctl[CTL.M] = rows;
  ctl[CTL.K] = g.k;
  ctl[CTL.N] = g.n;
  ctl[CTL.ACT] = g.act;
  ctl[CTL.BIAS] = g.bias[1];
  ctl[CTL.ARS] = g.a.rs;
  ctl[CTL.ACS] = g.a.cs;
  ctl[CTL.BRS] = g.w.rs;
  ctl[CTL.BCS] = g.w.cs;
  ctl[CTL.ASPAN] = aSpan;
  ctl[CTL.BSPAN] = bSpan;
  Atomics.store(ctl, CTL.STATE, STATE.POSTED); // publishes everything written above
  Atomics.notify(ctl, CTL.STATE);
  return () => {
    const state = waitWhilePosted(h);
    Atomics.store(ctl, CTL.STATE, STATE.IDLE);
    if (state !== STATE.DONE) fail(h, g, state === STATE.FAILED ? "the worker's GEMM failed" : "timed out");
    g.heap().set(d.subarray(at, at + rows * g.n), g.out + m0 * g.n);
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
    where: `gemm worker, [${g.m},${g.k}]×[${g.k},${g.n}]`,
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
