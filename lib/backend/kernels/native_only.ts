/**
 * Shared plumbing of the kernels that exist only while peftlab's native addon is active (layer_norm.ts,
 * fused_attention.ts): their wasm KernelConfigs are registered with the other overrides, but their ops
 * (lib/nn/layer_norm_op.ts, lib/models/vit_attention_op.ts) use them only when `nativeKernelReady` says so and
 * compose tfjs ops otherwise (cpu, tfjs-node, wasm without the addon, PEFTLAB_NATIVE=0).
 */
import * as tf from "@tensorflow/tfjs";
import { BackendError, ShapeError } from "../../errors";
import { activeNative, type NativeAddon } from "../addon/loader";
import { asWasm, heap, offsetOf, type WasmBackend } from "./wasm_gemm";

/** Whether `kernelName` (a native-only kernel) can run on the active backend now. */
export function nativeKernelReady(kernelName: string): boolean {
  return tf.getBackend() === "wasm" && activeNative() !== null && tf.getKernel(kernelName, "wasm") !== undefined;
}

/** The wasm backend and the addon for a native-only kernel, or a BackendError saying why it cannot run. */
export function nativeWasm(backend: unknown, kernelName: string): { wb: WasmBackend; native: NativeAddon } {
  const wb = asWasm(backend, kernelName);
  const native = activeNative();
  if (!native) {
    throw new BackendError(`${kernelName} needs peftlab's native addon, which is not in use`, {
      where: `${kernelName} (wasm)`,
      expected: "the native addon active (initBackend on x86-64 with AVX2 + FMA, PEFTLAB_NATIVE not 0)",
      got: "the wasm GEMM only",
      fix: `call the op (it checks nativeKernelReady("${kernelName}") and composes tfjs ops otherwise), not the kernel`,
    });
  }
  return { wb, native };
}

/** Throws a ShapeError for a native-only kernel's input when `ok` is false. */
export function expectShape(
  ok: boolean,
  kernelName: string,
  input: string,
  expected: string,
  got: tf.TensorInfo,
): void {
  if (ok && got.dtype === "float32") return;
  throw new ShapeError(`${kernelName}: input ${input} does not fit`, {
    where: `${kernelName}(${input})`,
    expected: `float32 ${expected}`,
    got: `${got.dtype} [${got.shape}]`,
    fix: "call the op (layerNormOp / attentionQkvOp), which passes matching tensors",
  });
}

/** Float offsets of tensors in the wasm heap, and the heap itself; take them after every makeOutput. */
export function floatsAt(wb: WasmBackend, ...ts: tf.TensorInfo[]): { h: Float32Array; at: number[] } {
  return { h: heap(wb), at: ts.map((t) => offsetOf(wb, t) >>> 2) };
}
