/**
 * Analytical FLOP counts of the benchmark workloads, so "GFLOP/s achieved" means the same thing for peftlab and for
 * the PyTorch reference running the same model.
 *
 * Conventions (those of fvcore / ptflops, stated so the numbers can be checked by hand):
 * - Only matmuls and convolutions count; 1 MAC = 2 FLOPs. LayerNorm, BatchNorm, softmax, GELU, ReLU6, adds and the
 *   optimiser update are left out (together well under 2 % of the total for these models).
 * - Forward: F = Σ MACs of every conv / linear / attention matmul.
 * - Backward, frozen backbone (LoRA): only input gradients flow through frozen layers, and no weight gradients are
 *   formed for them. A frozen linear costs 1× its forward MACs, an attention block 2× (q·kᵀ and p·v each need two
 *   products back). Gradients stop at the first block holding a trainable parameter: nothing below it is
 *   differentiated, and its own qkv base input gradient is not needed either. LoRA A/B add their own small terms.
 *   So a LoRA step on all 12 ViT blocks ≈ 2.05 × forward, not 3 ×.
 * - Backward, full fine-tuning: input and weight gradient per layer, 2× forward, except the first conv's input
 *   gradient (the image needs none). So a full-FT step ≈ 3 × forward.
 */
import { makeDivisible, MOBILENETV2_SETTING } from "../models/mobilenetv2";

/** A FLOP count for one image and the formula that produced it. */
export interface FlopCount {
  /** FLOPs per image for one forward (inference) or one training step. */
  flopsPerImage: number;
  /** The formula, in words, stored in the JSON beside the figure. */
  formula: string;
}

/** The ViT shapes that matter for FLOPs. */
export interface VitShape {
  imgSize: number;
  patchSize: number;
  embedDim: number;
  depth: number;
  mlpRatio: number;
  numClasses: number;
  inChans?: number;
  /** Prefix tokens (cls + registers), default 1. */
  prefixTokens?: number;
}

/** LoRA placement for a ViT training step: rank and the blocks whose qkv carries an adapter. */
export interface VitLoraShape {
  r: number;
  /** Block indices with LoRA on qkv (sorted or not). */
  blocks: number[];
  /** Blocks whose forward is skipped because their output is cached (frozen-prefix training), default 0. */
  cachedPrefixBlocks?: number;
}

function vitDims(s: VitShape) {
  const n = (s.imgSize / s.patchSize) ** 2;
  const t = n + (s.prefixTokens ?? 1);
  const d = s.embedDim;
  const h = Math.floor(d * s.mlpRatio);
  return { n, t, d, h, c: s.inChans ?? 3 };
}

/** MACs of one ViT block's linears (qkv, proj, fc1, fc2) and of its attention matmuls, per image. */
function vitBlockMacs(s: VitShape): { linear: number; qkv: number; attention: number } {
  const { t, d, h } = vitDims(s);
  const qkv = t * d * 3 * d;
  const linear = qkv + t * d * d + 2 * t * d * h;
  const attention = 2 * t * t * d; // q·kᵀ [T, Dh]×[Dh, T] and p·v [T, T]×[T, Dh], summed over heads
  return { linear, qkv, attention };
}

/** Forward MACs of the whole ViT (patch embedding, blocks, head), per image. */
export function vitForwardMacs(s: VitShape, lora?: { r: number; blocks: number }): number {
  const { n, t, d, c } = vitDims(s);
  const b = vitBlockMacs(s);
  const patch = n * s.patchSize * s.patchSize * c * d;
  const loraMacs = lora ? lora.blocks * t * lora.r * (d + 3 * d) : 0;
  return patch + s.depth * (b.linear + b.attention) + loraMacs + d * s.numClasses;
}

/** FLOPs of ViT inference per image (LoRA unmerged adds its branch; merged is the plain model). */
export function vitInferenceFlops(s: VitShape, lora?: { r: number; blocks: number }): FlopCount {
  return {
    flopsPerImage: 2 * vitForwardMacs(s, lora),
    formula:
      "2·MACs(forward): patch N·p²·C·D + depth·(T·(3D² + D² + 2·D·H) + 2·T²·D) + head D·K" +
      (lora ? ` + LoRA ${lora.blocks}·T·r·4D (unmerged branch)` : ""),
  };
}

/** FLOPs of one LoRA training step per image (forward + input-gradient backward + LoRA A/B gradients). */
export function vitLoraTrainFlops(s: VitShape, lora: VitLoraShape): FlopCount {
  const { n, t, d, c } = vitDims(s);
  const b = vitBlockMacs(s);
  const first = Math.min(...lora.blocks);
  const cached = lora.cachedPrefixBlocks ?? 0;
  // Forward: patch embedding and the prefix blocks only when they are not cached.
  const fwdBlocks = s.depth - cached;
  const patch = cached > 0 ? 0 : n * s.patchSize * s.patchSize * c * d;
  const forward =
    patch + fwdBlocks * (b.linear + b.attention) + lora.blocks.length * t * lora.r * 4 * d + d * s.numClasses;
  // Backward: blocks first..depth-1, frozen linears 1×, attention 2×; the first block's qkv input gradient is not needed.
  const bwdBlocks = s.depth - first;
  const backward = bwdBlocks * (b.linear + 2 * b.attention) - b.qkv;
  // LoRA per adapted qkv: d(a) = dy·Bᵀ, dB = aᵀ·dy, dA = xᵀ·da, and dx through A (T·r·(3D + 3D + D + D)).
  const loraBwd = lora.blocks.length * t * lora.r * 8 * d;
  const head = 2 * d * s.numClasses; // dW and dx of the head
  return {
    flopsPerImage: 2 * (forward + backward + loraBwd + head),
    formula:
      "2·(F + Bdx + L): F = forward MACs" +
      (cached ? ` without patch embedding and the ${cached} cached prefix blocks` : "") +
      `; Bdx = input-gradient MACs of blocks ${first}..${s.depth - 1} (linears 1×, attention matmuls 2×, ` +
      "minus the first LoRA block's qkv input gradient; no weight gradients for frozen weights); " +
      "L = LoRA A/B backward T·r·8D per adapted qkv + head dW, dx",
  };
}

/** One MobileNetV2 configuration for FLOP counting. */
export interface MobileNetV2Shape {
  widthMult: number;
  imgSize: number;
  numClasses: number;
  lastChannel?: number;
  roundNearest?: number;
}

/** Forward MACs of MobileNetV2 per image, walking torchvision's structure; `stem` is the first conv's share. */
export function mobileNetV2ForwardMacs(s: MobileNetV2Shape): { total: number; stem: number } {
  const div = s.roundNearest ?? 8;
  let inp = makeDivisible(32 * s.widthMult, div);
  const last = makeDivisible((s.lastChannel ?? 1280) * Math.max(1, s.widthMult), div);
  let hw = Math.ceil(s.imgSize / 2); // stem: 3×3, stride 2, "same"-sized output for both paddings
  const stem = hw * hw * inp * 9 * 3;
  let total = stem;
  for (const [t, c, n, st] of MOBILENETV2_SETTING) {
    const outp = makeDivisible(c * s.widthMult, div);
    for (let i = 0; i < n; i++) {
      const stride = i === 0 ? st : 1;
      const hidden = Math.round(inp * t);
      if (t !== 1) total += hw * hw * inp * hidden; // expand 1×1
      const ho = Math.ceil(hw / stride);
      total += ho * ho * hidden * 9; // depthwise 3×3
      total += ho * ho * hidden * outp; // project 1×1
      hw = ho;
      inp = outp;
    }
  }
  total += hw * hw * inp * last; // last 1×1 conv
  total += last * s.numClasses; // classifier
  return { total, stem };
}

/** FLOPs of MobileNetV2 inference (or feature extraction with numClasses 0) per image. */
export function mobileNetV2InferenceFlops(s: MobileNetV2Shape): FlopCount {
  return {
    flopsPerImage: 2 * mobileNetV2ForwardMacs(s).total,
    formula: "2·MACs(forward): Σ convs Ho·Wo·Cout·k²·Cin/groups + classifier 1280·K",
  };
}

/** FLOPs of one full fine-tuning step per image: forward, input gradients and weight gradients. */
export function mobileNetV2TrainFlops(s: MobileNetV2Shape): FlopCount {
  const { total, stem } = mobileNetV2ForwardMacs(s);
  return {
    flopsPerImage: 2 * (3 * total - stem),
    formula:
      "2·(3·F − stem): forward F + input gradients F + weight gradients F, minus the first conv's input gradient",
  };
}
