/**
 * tfjs's own kernels that peftlab's overrides replaced, kept so an override can hand the cases it does not speed
 * up back to the kernel it replaced (conv2d_forward.ts, depthwise_conv2d.ts, multiply.ts). index.ts's applyKernelOverrides records them.
 */
import type * as tf from "@tensorflow/tfjs";
import { BackendError } from "../../errors";

const originals = new Map<string, tf.KernelConfig | undefined>();

/** Records the kernel registered for `backendName/kernelName` before an override replaced it (first call wins). */
export function rememberOriginal(key: string, config: tf.KernelConfig | undefined): void {
  if (!originals.has(key)) originals.set(key, config);
}

/** Forgets the record (the original is registered again). */
export function forgetOriginal(key: string): void {
  originals.delete(key);
}

/** Every recorded `backendName/kernelName` and its original. */
export function recordedOriginals(): [string, tf.KernelConfig | undefined][] {
  return [...originals.entries()];
}

/**
 * A setupFunc for an override that passes calls through to the original: it runs the original's setupFunc (e.g.
 * tfjs-backend-wasm's binary kernels bind their wasm function there) whenever the backend initialises.
 */
export function originalSetup(kernelName: string, backendName: string): tf.KernelSetupFunc {
  return (backend) => originals.get(`${backendName}/${kernelName}`)?.setupFunc?.(backend);
}

/** The kernel function tfjs had registered for `kernelName` on `backendName` before peftlab's override, if any. */
export function originalKernel(kernelName: string, backendName: string): tf.KernelFunc | undefined {
  return originals.get(`${backendName}/${kernelName}`)?.kernelFunc;
}

/** Runs the kernel tfjs had registered for `kernelName` on `backendName` (an override's pass-through). */
export function runOriginal(kernelName: string, backendName: string, args: unknown): tf.TensorInfo {
  const f = originalKernel(kernelName, backendName);
  if (!f) {
    throw new BackendError(`${kernelName}: tfjs-backend-${backendName}'s own kernel is not recorded`, {
      where: `${kernelName} (peftlab's override, passing a call through)`,
      expected: `applyKernelOverrides('${backendName}') to have saved the kernel it replaced`,
      got: "no original",
      fix: "install overrides through initBackend, not by registering the KernelConfig by hand",
    });
  }
  return f(args as Parameters<tf.KernelFunc>[0]) as tf.TensorInfo;
}
