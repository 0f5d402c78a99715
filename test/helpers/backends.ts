/**
 * Runs a describe block once per compute backend (cpu and wasm by default; `PEFTLAB_TEST_BACKENDS=cpu` narrows it).
 * Kernel overrides are installed as initBackend would.
 */
import * as tf from "@tensorflow/tfjs";
import { strict as assert } from "node:assert";
import { initBackend, type BackendName } from "../../lib/backend";
import { nativeStatus, useNativeKernels } from "../../lib/backend/addon/loader";

export const TEST_BACKENDS: BackendName[] = (process.env.PEFTLAB_TEST_BACKENDS ?? "cpu,wasm")
  .split(",")
  .map((s) => s.trim())
  .filter((s) => s !== "") as BackendName[];

/** `describe` for each test backend, with the backend active inside. */
export function describeBackends(title: string, fn: (backend: BackendName) => void): void {
  for (const b of TEST_BACKENDS) {
    describe(`${title} [${b}]`, function () {
      before(async function () {
        await initBackend({ prefer: b, log: null, env: {} });
      });
      fn(b);
    });
  }
}

/** Max absolute difference between two tensors or arrays. */
export function maxAbsDiff(a: tf.Tensor | ArrayLike<number>, b: tf.Tensor | ArrayLike<number>): number {
  const x = a instanceof tf.Tensor ? a.dataSync() : a;
  const y = b instanceof tf.Tensor ? b.dataSync() : b;
  if (x.length !== y.length) throw new Error(`length mismatch ${x.length} vs ${y.length}`);
  let m = 0;
  for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i] - y[i]));
  return m;
}

/**
 * Where the native addon is built and `backend` is wasm: a describe block `title` that runs `cases` again with the
 * addon turned off (what PEFTLAB_NATIVE=0 runs), so both engines are tested. Elsewhere it adds nothing.
 */
export function alsoWithoutNative(backend: BackendName, title: string, cases: () => void): void {
  if (backend !== "wasm" || !nativeStatus().addon) return;
  describe(`${title} (PEFTLAB_NATIVE=0)`, () => {
    before(() => assert.equal(useNativeKernels(false), false));
    after(() => assert.equal(useNativeKernels(true), true));
    cases();
  });
}
