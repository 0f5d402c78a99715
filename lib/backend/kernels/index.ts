/**
 * peftlab's replacement kernels, one per file, registered through tfjs's kernel registry.
 * Each entry is a tfjs KernelConfig for a given backend. They are installed only on the backend they target,
 * and never when a native backend (tfjs-node) is active.
 */
import * as tf from "@tensorflow/tfjs";
import { batchMatMulConfig } from "./batch_mat_mul";
import { conv2DBackpropFilterConfig } from "./conv2d_backprop_filter";
import { conv2DBackpropInputConfig } from "./conv2d_backprop_input";
import {
  depthwiseConv2dNativeBackpropFilterConfig,
  depthwiseConv2dNativeBackpropFilterCpuConfig,
} from "./depthwise_conv2d_backprop_filter";
import {
  depthwiseConv2dNativeBackpropInputConfig,
  depthwiseConv2dNativeBackpropInputCpuConfig,
} from "./depthwise_conv2d_backprop_input";
import { channelAffineConfig } from "./channel_affine";
import { channelSumsConfig } from "./channel_sums";
import { fusedMatMulConfig } from "./fused_mat_mul";
import { geluErfConfig, geluErfCpuConfig } from "./gelu_erf";
import { identityConfig } from "./identity";
import { conv2DForwardConfig, fusedConv2DForwardConfig } from "./conv2d_forward";
import { multiplyConfig } from "./multiply";
import { depthwiseConv2dNativeConfig, fusedDepthwiseConv2DConfig } from "./depthwise_conv2d";
import { forgetOriginal, recordedOriginals, rememberOriginal } from "./originals";
import { ATTENTION_GRAD_KERNEL, ATTENTION_KERNEL, attentionConfig, attentionGradConfig } from "./fused_attention";
import { LAYER_NORM_GRAD_KERNEL, LAYER_NORM_KERNEL, layerNormConfig, layerNormGradConfig } from "./layer_norm";
import { nativeKernelReady } from "./native_only";
import { reluGradConfig } from "./relu_grad";
import { sliceConfig } from "./slice";
import { splitVConfig } from "./split_v";
import { checkTfjsVersions } from "../wasm/tfjs_version";

export { configureGemmThreads, gemmThreads, waitForGemmWorker } from "./gemm_threads";
export { GELU_ERF_KERNEL } from "./gelu_erf";
export { CHANNEL_AFFINE_KERNEL } from "./channel_affine";
export { CHANNEL_SUMS_KERNEL } from "./channel_sums";
export { RELU_GRAD_KERNEL } from "./relu_grad";
export { ATTENTION_KERNEL, ATTENTION_GRAD_KERNEL } from "./fused_attention";
export { LAYER_NORM_KERNEL, LAYER_NORM_GRAD_KERNEL } from "./layer_norm";
export { nativeKernelReady } from "./native_only";

const NATIVE_ONLY = new Set([ATTENTION_KERNEL, ATTENTION_GRAD_KERNEL, LAYER_NORM_KERNEL, LAYER_NORM_GRAD_KERNEL]);

/**
 * The installed overrides that can run now: the native-only kernels (native_only.ts) are registered with the rest
 * but count only while the addon is in use; without it their ops compose tfjs ops.
 */
export function overridesInUse(installed: string[]): string[] {
  return installed.filter((k) => !NATIVE_ONLY.has(k) || nativeKernelReady(k));
}

/** A kernel override: the tfjs KernelConfig plus a note on what it replaces. */
export interface KernelOverride {
  config: tf.KernelConfig;
  replaces: string;
}

const REGISTRY: Record<string, KernelOverride[]> = {};

/** Adds overrides for a backend; called by kernel modules at import. */
export function defineOverrides(backendName: string, overrides: KernelOverride[]): void {
  (REGISTRY[backendName] ??= []).push(...overrides);
}

/**
 * Installs the overrides for `backendName` and returns the kernel names replaced. Idempotent. The wasm overrides
 * first check that tfjs is the exact release they were written against (BackendError otherwise).
 */
export function applyKernelOverrides(backendName: string): string[] {
  const list = REGISTRY[backendName] ?? [];
  if (backendName === "wasm" && list.length > 0) checkTfjsVersions();
  const names: string[] = [];
  for (const o of list) {
    const key = `${o.config.backendName}/${o.config.kernelName}`;
    rememberOriginal(key, tf.getKernel(o.config.kernelName, o.config.backendName));
    if (tf.getKernel(o.config.kernelName, o.config.backendName) !== undefined) {
      tf.unregisterKernel(o.config.kernelName, o.config.backendName);
    }
    tf.registerKernel(o.config);
    names.push(o.config.kernelName);
  }
  return names;
}

/**
 * Restores tfjs's own kernels for `backendName` (used by tests that compare an override with the original);
 * returns whether any override was installed.
 */
export function removeKernelOverrides(backendName: string): boolean {
  let removed = false;
  for (const [key, cfg] of recordedOriginals()) {
    const [b, k] = key.split("/");
    if (b !== backendName) continue;
    if (tf.getKernel(k, b) !== undefined) tf.unregisterKernel(k, b);
    if (cfg) tf.registerKernel(cfg);
    forgetOriginal(key);
    removed = true;
  }
  return removed;
}

defineOverrides("wasm", [
  { config: batchMatMulConfig, replaces: "tfjs-backend-wasm BatchMatMul: scalar loop unless 2D untransposed" },
  { config: fusedMatMulConfig, replaces: "tfjs-backend-wasm _FusedMatMul: scalar loop unless 2D untransposed" },
  { config: conv2DForwardConfig, replaces: "tfjs-backend-wasm Conv2D (XNNPACK, one thread): 1×1 or im2col GEMM" },
  {
    config: fusedConv2DForwardConfig,
    replaces:
      "tfjs-backend-wasm FusedConv2D: GEMM with bias + ReLU/ReLU6 in its epilogue (1×1, or im2col on the addon)",
  },
  {
    config: depthwiseConv2dNativeConfig,
    replaces: "tfjs-backend-wasm DepthwiseConv2dNative (XNNPACK, one thread): multiplier 1 on the addon",
  },
  {
    config: fusedDepthwiseConv2DConfig,
    replaces: "tfjs-backend-wasm FusedDepthwiseConv2D: multiplier 1 with bias + ReLU/ReLU6 on the addon",
  },
  { config: conv2DBackpropFilterConfig, replaces: "nothing: missing on tfjs-backend-wasm" },
  { config: conv2DBackpropInputConfig, replaces: "tfjs-backend-wasm Conv2DBackpropInput: direct scalar loop" },
  { config: depthwiseConv2dNativeBackpropFilterConfig, replaces: "nothing: missing on tfjs-backend-wasm" },
  { config: depthwiseConv2dNativeBackpropInputConfig, replaces: "nothing: missing on tfjs-backend-wasm" },
  { config: channelSumsConfig, replaces: "nothing: BatchNorm statistics in one SIMD pass (tfjs: Mean/Sub/Square)" },
  { config: channelAffineConfig, replaces: "nothing: BatchNorm's affine maps in one SIMD pass (tfjs: Mul/Add/Sub)" },
  { config: reluGradConfig, replaces: "nothing: ReLU/ReLU6 gradient in one pass (tfjs: Greater/Less/And/Cast/Mul)" },
  { config: sliceConfig, replaces: "tfjs-backend-wasm Slice: copies the whole input before slicing" },
  { config: splitVConfig, replaces: "tfjs-backend-wasm SplitV: one whole-input copy per output" },
  {
    config: multiplyConfig,
    replaces: "tfjs-backend-wasm Multiply (one thread): large same-shape products on the addon",
  },
  { config: geluErfConfig, replaces: "nothing: a new fused GELU kernel (SIMD); tfjs composes ~8 scalar passes" },
  { config: layerNormConfig, replaces: "nothing: native LayerNorm (addon only); tfjs composes ~8 passes" },
  { config: layerNormGradConfig, replaces: "nothing: native LayerNorm gradient (addon only)" },
  {
    config: attentionConfig,
    replaces: "nothing: native attention on qkv in place (addon only); tfjs: Transpose, Split…",
  },
  { config: attentionGradConfig, replaces: "nothing: native attention backward into dqkv (addon only)" },
  {
    config: identityConfig,
    replaces: "tfjs-backend-wasm Identity: copies; the autodiff tape clones every saved tensor",
  },
]);

defineOverrides("cpu", [
  { config: depthwiseConv2dNativeBackpropFilterCpuConfig, replaces: "tfjs-backend-cpu: ignores dilations, slow" },
  { config: depthwiseConv2dNativeBackpropInputCpuConfig, replaces: "tfjs-backend-cpu: ignores dilations, slow" },
  { config: geluErfCpuConfig, replaces: "nothing: a new fused GELU kernel; tfjs composes ~8 passes" },
]);
