/**
 * The source of the two-core GEMM worker (plain JavaScript, run with `new Worker(src, { eval: true })` so it
 * needs no TypeScript loader). It instantiates peftlab's compiled SIMD kernels (passed in as a WebAssembly.Module)
 * on a WebAssembly.Memory of its own, then serves GEMMs posted through the control SharedArrayBuffer forever,
 * blocked in Atomics.wait between jobs; gemm_threads.ts describes the protocol. Each job is one `sgemm` call, the
 * same code the main thread runs on its rows, so both halves compute identically.
 *
 * Its memory: [0, 64) unused (a zero bias pointer means "no bias"), then A's span, B's span, the bias, the output
 * rows and sgemm's scratch, grown as jobs need.
 */
export const WORKER_SOURCE = `
"use strict";
const { workerData, receiveMessageOnPort } = require("node:worker_threads");
const { CTL, STATE, port } = workerData;
const ctl = new Int32Array(workerData.ctl);
const memory = new WebAssembly.Memory({ initial: 16 });
const k = new WebAssembly.Instance(workerData.module, { env: { memory } }).exports;
const BASE = 64;

function ensure(bytes) {
  const have = memory.buffer.byteLength;
  if (bytes > have) memory.grow(Math.ceil((bytes - have) / 65536));
}

function serve() {
  let data = new Float32Array(0);
  Atomics.store(ctl, CTL.READY, 1);
  Atomics.notify(ctl, CTL.READY);
  for (;;) {
    const s = Atomics.load(ctl, CTL.STATE);
    if (s !== STATE.POSTED) {
      Atomics.wait(ctl, CTL.STATE, s);
      continue;
    }
    let done = STATE.DONE;
    try {
      for (let msg; (msg = receiveMessageOnPort(port)); ) data = new Float32Array(msg.message);
      const stall = Atomics.load(ctl, CTL.STALL); // tests only: provoke the main thread's timeout
      if (stall > 0) Atomics.wait(ctl, CTL.STALL, stall, stall);
      const m = ctl[CTL.M], kk = ctl[CTL.K], n = ctl[CTL.N], nb = ctl[CTL.BIAS];
      const aSpan = ctl[CTL.ASPAN], bSpan = ctl[CTL.BSPAN];
      const inLen = aSpan + bSpan + nb;
      const aAt = BASE, bAt = aAt + aSpan * 4, biasAt = bAt + bSpan * 4, outAt = biasAt + nb * 4;
      const workAt = outAt + m * n * 4;
      ensure(workAt + k.sgemm_work_floats(kk, n) * 4);
      const heap = new Float32Array(memory.buffer);
      heap.set(data.subarray(0, inLen), aAt >>> 2);
      k.sgemm(aAt, ctl[CTL.ARS], ctl[CTL.ACS], bAt, ctl[CTL.BRS], ctl[CTL.BCS], outAt, m, kk, n,
        nb ? biasAt : 0, nb === 1 ? 0 : 1, ctl[CTL.ACT], workAt);
      data.set(heap.subarray(outAt >>> 2, (outAt >>> 2) + m * n), inLen);
    } catch (e) {
      done = STATE.FAILED;
    }
    Atomics.store(ctl, CTL.STATE, done);
    Atomics.notify(ctl, CTL.STATE);
  }
}

serve();
`;
