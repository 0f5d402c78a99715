/**
 * `PeftlabAttention` and `PeftlabAttentionGrad`: multi-head self-attention straight from a fused qkv, forward and
 * backward, on the native addon (lib/backend/addon/attention_avx2.c). Native-only (see native_only.ts):
 * lib/models/vit_attention_op.ts composes tfjs ops where the addon is not in use.
 *
 * Why: composed, the layout work around attention's two products (Transpose + SplitV in, Transpose out, the q
 * scale, Softmax; in the backward a Transpose of dO, Mul/Sum/Sub and a Concat + Transpose into dqkv) was ~380 ms
 * of a ViT-S/16 batch-16 LoRA step on this machine. Here the products read strided views of qkv and dy in place.
 *
 * Forward: qkv [B, T, 3·D] (timm's q | k | v blocks of `heads` heads) → out [B, T, D] and, with keepProbs,
 * P = softmax(scale·q·kᵀ) [B·heads, T, T]. Gradient: qkv, P, dy [B, T, D] → dqkv [B, T, 3·D].
 */
import * as tf from "@tensorflow/tfjs";
import { expectShape, floatsAt, nativeWasm } from "./native_only";

/** The kernels' names in tfjs's registry. */
export const ATTENTION_KERNEL = "PeftlabAttention";
export const ATTENTION_GRAD_KERNEL = "PeftlabAttentionGrad";

/** Attributes of both kernels. */
export interface AttentionAttrs {
  heads: number;
  /** Multiplies q·kᵀ before the softmax; must be finite and > 0 (usually 1/√Dh). */
  scale: number;
  /** Forward only: also output P for the backward. */
  keepProbs?: boolean;
}

type T = tf.TensorInfo;

/** B, T, heads and Dh of qkv [B, T, 3·heads·Dh]. */
function dims(name: string, qkv: T, heads: number): [number, number, number, number] {
  const [b, t, d3] = qkv.shape;
  const ok = qkv.shape.length === 3 && Number.isInteger(heads) && heads > 0 && d3 % (3 * heads) === 0;
  expectShape(ok, name, "qkv", `[B, T, 3·D] with D divisible by heads (${heads})`, qkv);
  return [b, t, heads, d3 / 3 / heads];
}

function forward(args: { inputs: { qkv: T }; backend: unknown; attrs: AttentionAttrs }): T[] {
  const { wb, native } = nativeWasm(args.backend, ATTENTION_KERNEL);
  const { qkv } = args.inputs;
  const { heads, scale, keepProbs } = args.attrs;
  const [b, t, , dh] = dims(ATTENTION_KERNEL, qkv, heads);
  const out = wb.makeOutput([b, t, heads * dh], "float32");
  const probs = keepProbs ? wb.makeOutput([b * heads, t, t], "float32") : undefined;
  if (b * t * dh > 0) {
    const { h, at } = floatsAt(wb, qkv, out, ...(probs ? [probs] : []));
    native.attention(h, at[0], at[1], probs ? at[2] : -1, b, t, heads, dh, scale);
  }
  return probs ? [out, probs] : [out];
}

function backward(args: { inputs: { qkv: T; probs: T; dy: T }; backend: unknown; attrs: AttentionAttrs }): T {
  const { wb, native } = nativeWasm(args.backend, ATTENTION_GRAD_KERNEL);
  const { qkv, probs, dy } = args.inputs;
  const { heads, scale } = args.attrs;
  const [b, t, , dh] = dims(ATTENTION_GRAD_KERNEL, qkv, heads);
  const pShape = [b * heads, t, t];
  expectShape(tf.util.arraysEqual(probs.shape, pShape), ATTENTION_GRAD_KERNEL, "probs", `[${pShape}]`, probs);
  const oShape = [b, t, heads * dh];
  expectShape(tf.util.arraysEqual(dy.shape, oShape), ATTENTION_GRAD_KERNEL, "dy", `[${oShape}]`, dy);
  const dqkv = wb.makeOutput([...qkv.shape], "float32");
  if (b * t * dh > 0) {
    const { h, at } = floatsAt(wb, qkv, probs, dy, dqkv);
    native.attentionGrad(h, at[0], at[1], at[2], at[3], b, t, heads, dh, scale);
  }
  return dqkv;
}

/** KernelConfig adding PeftlabAttention to the wasm backend (runs only while the native addon is active). */
export const attentionConfig: tf.KernelConfig = {
  kernelName: ATTENTION_KERNEL,
  backendName: "wasm",
  kernelFunc: forward as unknown as tf.KernelFunc,
};

/** KernelConfig adding PeftlabAttentionGrad to the wasm backend (runs only while the native addon is active). */
export const attentionGradConfig: tf.KernelConfig = {
  kernelName: ATTENTION_GRAD_KERNEL,
  backendName: "wasm",
  kernelFunc: backward as unknown as tf.KernelFunc,
};
