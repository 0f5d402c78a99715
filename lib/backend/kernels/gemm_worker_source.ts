/**
 * The source of the two-core GEMM worker (plain JavaScript, run with `new Worker(src, { eval: true })` so it
 * needs no TypeScript loader). It instantiates sgemm_shared.wasm (passed in as a WebAssembly.Module) on the shared
 * WebAssembly.Memory that the main thread writes operands into, then serves jobs posted through the control
 * SharedArrayBuffer forever, blocked in Atomics.wait between them; gemm_threads.ts describes the protocol. Each
 * job is one `sgemm_batch` call, the same code the main thread runs on its part, so both compute identically.
 */
export const WORKER_SOURCE = `
"use strict";
const { workerData } = require("node:worker_threads");
const { CTL, STATE } = workerData;
const ctl = new Int32Array(workerData.ctl);
const k = new WebAssembly.Instance(workerData.module, { env: { memory: workerData.memory } }).exports;

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
    const stall = Atomics.load(ctl, CTL.STALL); // tests only: provoke the main thread's timeout
    if (stall > 0) Atomics.wait(ctl, CTL.STALL, stall, stall);
    const w = (i) => ctl[i];
    k.sgemm_batch(w(CTL.A_AT), w(CTL.ARS), w(CTL.ACS), w(CTL.ASTEP), w(CTL.B_AT), w(CTL.BRS), w(CTL.BCS),
      w(CTL.BSTEP), w(CTL.OUT_AT), w(CTL.M), w(CTL.K), w(CTL.N), w(CTL.COUNT), w(CTL.BIAS_AT), w(CTL.BSTRIDE),
      w(CTL.ACT), w(CTL.WORK_AT));
  } catch (e) {
    done = STATE.FAILED;
  }
  Atomics.store(ctl, CTL.STATE, done);
  Atomics.notify(ctl, CTL.STATE);
}
`;
