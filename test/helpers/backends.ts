/**
 * Runs a describe block once per compute backend (cpu and wasm by default; `PEFTLAB_TEST_BACKENDS=cpu` narrows it,
 * `PEFTLAB_TEST_BACKENDS=cpu,wasm,webgpu` adds webgpu: SwiftShader where no GPU, skipped with the reason where Dawn
 * finds no adapter). Kernel overrides are installed as initBackend would.
 */
import * as tf from "@tensorflow/tfjs";
import { strict as assert } from "node:assert";
import { initBackend, type BackendName } from "../../lib/backend";
import { nativeStatus, useNativeKernels } from "../../lib/backend/addon/loader";
import { probeWebgpu, SWIFTSHADER_ICD } from "../../lib/backend/webgpu";
import * as fs from "node:fs";

/**
 * Points the Vulkan loader at Debian chromium's SwiftShader where no ICD is chosen (tests set it themselves), then
 * asks Dawn for an adapter: undefined when webgpu can run here, else why not (the reason a test states on skipping).
 */
export async function webgpuUnavailable(): Promise<string | undefined> {
  if (!process.env.VK_ICD_FILENAMES && !process.env.VK_DRIVER_FILES && fs.existsSync(SWIFTSHADER_ICD)) {
    process.env.VK_ICD_FILENAMES = SWIFTSHADER_ICD;
  }
  const p = await probeWebgpu().catch((e: Error) => e.message);
  return typeof p === "string" ? `${p} (install Debian's chromium and libvulkan1 for SwiftShader)` : undefined;
}

/** `before` hook body for webgpu suites that activate it themselves: skip the suite, stating why, where it cannot run. */
export async function skipWithoutWebgpu(ctx: Mocha.Context): Promise<void> {
  const why = await webgpuUnavailable();
  if (why !== undefined) {
    console.log(`      skipped: webgpu unavailable: ${why}`);
    ctx.skip();
  }
}

/** `before` hook body for webgpu suites: activate it (forced: SwiftShader is software) or skip with the reason. */
export async function useWebgpuOrSkip(ctx: Mocha.Context): Promise<void> {
  await skipWithoutWebgpu(ctx);
  await initBackend({ prefer: "webgpu", log: null, env: {} });
}

export const TEST_BACKENDS: BackendName[] = (process.env.PEFTLAB_TEST_BACKENDS ?? "cpu,wasm")
  .split(",")
  .map((s) => s.trim())
  .filter((s) => s !== "") as BackendName[];

/** `describe` for each test backend, with the backend active inside. */
export function describeBackends(title: string, fn: (backend: BackendName) => void): void {
  for (const b of TEST_BACKENDS) {
    describe(`${title} [${b}]`, function () {
      before(async function () {
        if (b === "webgpu") await useWebgpuOrSkip(this);
        else await initBackend({ prefer: b, log: null, env: {} });
      });
      fn(b);
    });
  }
}

/** Max absolute difference between two tensors or arrays, read asynchronously (every backend, webgpu included). */
export async function maxAbsDiffAsync(
  a: tf.Tensor | ArrayLike<number>,
  b: tf.Tensor | ArrayLike<number>,
): Promise<number> {
  const x = a instanceof tf.Tensor ? await a.data() : a;
  const y = b instanceof tf.Tensor ? await b.data() : b;
  return maxAbsDiff(x as ArrayLike<number>, y as ArrayLike<number>);
}

/** Max absolute difference between two tensors or arrays (synchronous reads: cpu/wasm). */
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
