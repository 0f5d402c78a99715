/**
 * tfjs's own kernels that peftlab's overrides replaced, kept so an override can hand the cases it does not speed
 * up back to the kernel it replaced (conv2d_pointwise.ts). index.ts's applyKernelOverrides records them.
 */
import type * as tf from "@tensorflow/tfjs";

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

/** The kernel function tfjs had registered for `kernelName` on `backendName` before peftlab's override, if any. */
export function originalKernel(kernelName: string, backendName: string): tf.KernelFunc | undefined {
  return originals.get(`${backendName}/${kernelName}`)?.kernelFunc;
}
