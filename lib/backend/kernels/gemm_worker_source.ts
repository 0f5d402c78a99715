/**
 * The source of the two-core GEMM worker (plain JavaScript, run with `new Worker(src, { eval: true })` so it
 * needs no TypeScript loader). It starts its own tfjs-backend-wasm, then serves GEMMs posted through the control
 * SharedArrayBuffer forever, blocked in Atomics.wait between jobs; gemm_threads.ts describes the protocol.
 * Each job is one call of the backend's `_FusedMatMul` on [1,M,K]×[1,K,N] views, the XNNPACK path that the
 * main thread's gemm() takes, so both halves compute identically.
 */
export const WORKER_SOURCE = `
"use strict";
const { workerData, receiveMessageOnPort } = require("node:worker_threads");
const { CTL, STATE, port } = workerData;
const tf = require(workerData.tfjs);
require(workerData.wasm); // registers the wasm backend
const ctl = new Int32Array(workerData.ctl);
const ctlF = new Float32Array(workerData.ctl);

function serve(w) {
  let data = new Float32Array(0);
  let base = 0;
  let cap = 0;
  let nextId = 1 << 30; // view ids far above any the (unused) tfjs tensors of this worker take
  const shapes = w._malloc(32) >>> 0;
  const view = (offset, size) => {
    const id = nextId++;
    w.tfjs.registerTensor(id, size, offset);
    return id;
  };
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
      const m = ctl[CTL.M], k = ctl[CTL.K], n = ctl[CTL.N], nb = ctl[CTL.BIAS], np = ctl[CTL.PRELU];
      const inLen = m * k + k * n + nb + np;
      if (inLen + m * n > cap) {
        if (base) w._free(base);
        cap = inLen + m * n;
        base = w._malloc(cap * 4) >>> 0;
      }
      w.HEAPF32.set(data.subarray(0, inLen), base >>> 2);
      const aAt = base, bAt = aAt + m * k * 4, biasAt = bAt + k * n * 4, preluAt = biasAt + nb * 4;
      const outAt = preluAt + np * 4;
      const ids = [view(aAt, m * k), view(bAt, k * n), nb ? view(biasAt, nb) : 0, np ? view(preluAt, np) : 0];
      const outId = view(outAt, m * n);
      w.HEAP32.set([1, m, k, 1, k, n], shapes >>> 2);
      w.__FusedMatMul(ids[0], shapes, 3, ids[1], shapes + 12, 3, 0, 0, ctl[CTL.ACT], ids[2], ids[3],
        ctlF[CTL.ALPHA], outId);
      for (const id of [...ids, outId]) if (id) w.tfjs.disposeData(id);
      data.set(w.HEAPF32.subarray(outAt >>> 2, (outAt >>> 2) + m * n), inLen);
    } catch (e) {
      done = STATE.FAILED;
    }
    Atomics.store(ctl, CTL.STATE, done);
    Atomics.notify(ctl, CTL.STATE);
  }
}

tf.setBackend("wasm").then((ok) => {
  if (!ok) throw new Error("tfjs-backend-wasm failed to start in the GEMM worker");
  serve(tf.backend().wasm);
});
`;
