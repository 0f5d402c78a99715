/**
 * Inference-time folding of conv → BatchNorm2d (eval) [→ ReLU / ReLU6] into one fused convolution, as torch's
 * `fuse_conv_bn_eval` and every deployment toolchain do: with s = γ/√(running_var + eps),
 *   BN(conv(x, W) + b) = conv(x, W·s) + (b − μ)·s + β,
 * so the BN's affine map and the activation become the conv's bias and epilogue, and the three passes over the
 * activation map are one. Sequential uses it only when no gradient is being recorded and the BN is in eval mode;
 * the result equals the unfused layers to float32 rounding (tested in test/nn/conv_bn_fold.test.ts).
 *
 * Why: MobileNetV2-0.35 inference at batch 32 spent ~80 ms of ~290 in the BN affine and ReLU6 passes on wasm.
 */
import * as tf from "@tensorflow/tfjs";
import type { Module } from "./module";

/** What folding needs of a conv (lib/nn/layers.ts's Conv2d). */
export interface FoldableConv extends Module {
  readonly weight: { variable: tf.Variable };
  readonly bias?: { variable: tf.Variable };
  readonly groups: number;
  readonly depthwise: boolean;
  readonly outChannels: number;
  /** The conv with explicit weights, bias and a fused activation. */
  forwardWith(x: tf.Tensor, w: tf.Tensor4D, bias: tf.Tensor1D, activation: FoldedActivation): tf.Tensor;
}

/** What folding needs of a BatchNorm2d. */
export interface FoldableBn extends Module {
  readonly weight: { variable: tf.Variable };
  readonly bias: { variable: tf.Variable };
  readonly runningMean: tf.Variable;
  readonly runningVar: tf.Variable;
  readonly eps: number;
}

/** Activations a folded conv can fuse. */
export type FoldedActivation = "linear" | "relu" | "relu6";

/** Whether `conv` → `bn` can be folded now (inference: BN in eval mode, no gradient being recorded). */
export function canFold(conv: FoldableConv, bn: FoldableBn, x: tf.Tensor): boolean {
  return (
    !bn.training &&
    tf.engine().state.gradientDepth === 0 &&
    x.dtype === "float32" &&
    x.rank === 4 &&
    (conv.groups === 1 || conv.depthwise) &&
    bn.runningMean.size === conv.outChannels
  );
}

/** act(bn(conv(x))) as one fused conv with the BN folded into the weights and bias. */
export function foldedConvBn(conv: FoldableConv, bn: FoldableBn, act: FoldedActivation, x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const s = tf.mul(bn.weight.variable, tf.rsqrt(tf.add(bn.runningVar, bn.eps))) as tf.Tensor1D; // [Cout]
    const w = conv.weight.variable as tf.Tensor4D; // [k, k, Cin, Cout] or depthwise [k, k, C, m]
    // Depthwise output channel c·m + j is filter (c, j): s reshaped to [C, m] scales it.
    const ws = conv.depthwise ? tf.mul(w, tf.reshape(s, [w.shape[2], w.shape[3]])) : tf.mul(w, s); // as w
    const mu = conv.bias ? tf.sub(conv.bias.variable, bn.runningMean) : tf.neg(bn.runningMean); // [Cout]
    const shift = tf.add(tf.mul(mu, s), bn.bias.variable) as tf.Tensor1D; // [Cout]
    return conv.forwardWith(x, ws as tf.Tensor4D, shift, act); // [B, H', W', Cout]
  });
}
