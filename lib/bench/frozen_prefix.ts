/**
 * Frozen-prefix training steps for ViTs, used by the bench's frozen-prefix workload (one step at a time; training
 * loops are fit()'s). When only the last blocks (LoRA on blocks k…L−1, the head) are trainable, the tokens entering
 * block k depend on the image alone. Compute them once per item, keep them on the host, and train
 * only the suffix (blocks k…L−1, norm, pooling, head) on the cached tokens, as the feature cache does for a frozen
 * backbone. The gradients and updates are the same as full-forward training (nothing before block k has a gradient).
 *
 * Valid only when the prefix is deterministic per item: no augmentation of the images (the loader's eval path), and
 * no dropout / drop path in the prefix while training; splitVitAtBlock checks the model side and refuses otherwise.
 */
import * as tf from "@tensorflow/tfjs";
import { ConfigError, ShapeError } from "../errors";
import type { VisionTransformer } from "../models/vit";
import type { Module } from "../nn/module";
import { crossEntropy } from "../train/loss";
import type { Optimizer } from "../train/optim";

/** A ViT cut before block `k`: prefix(images) gives the tokens entering block k, suffix(tokens) the logits. */
export interface PrefixSplit {
  model: VisionTransformer;
  /** Number of blocks in the frozen prefix. */
  prefixBlocks: number;
  /** [B, H, W, C] → [B, T, D], the tokens entering block k (no gradient is meant to flow here). */
  prefix(x: tf.Tensor): tf.Tensor;
  /** [B, T, D] → [B, numClasses]: blocks k…L−1, norm, pooling, fc_norm, head. */
  suffix(tokens: tf.Tensor): tf.Tensor;
}

/** Index of the first block holding a trainable parameter (depth when none does). */
export function firstTrainableBlock(model: VisionTransformer): number {
  const n = model.blocks.length;
  for (let i = 0; i < n; i++) {
    if (
      model
        .getSubmodule(`blocks.${i}`)
        .namedParameters()
        .some(([, p]) => p.trainable)
    )
      return i;
  }
  return n;
}

/**
 * Splits a ViT before block `k` (default: the first block with a trainable parameter). Throws ConfigError when
 * anything in the prefix is trainable or stochastic, since cached tokens would then be wrong.
 */
export function splitVitAtBlock(model: VisionTransformer, k?: number): PrefixSplit {
  const depth = model.blocks.length;
  const cut = k ?? firstTrainableBlock(model);
  if (!Number.isInteger(cut) || cut < 1 || cut > depth) {
    throw new ConfigError("No frozen prefix to cache", {
      where: "splitVitAtBlock(k)",
      expected: `1 ≤ k ≤ ${depth} (the first block with a trainable parameter must not be block 0)`,
      got: String(cut),
      fix: "train only the last blocks (e.g. LoRA with a target regex on blocks.(8|9|10|11).attn.qkv), or train without the cache",
    });
  }
  checkPrefixFrozen(model, cut);
  checkPrefixDeterministic(model, cut);
  const embed = embedFn(model);
  return {
    model,
    prefixBlocks: cut,
    prefix: (x) =>
      tf.tidy(() => {
        let t = embed(model.patchEmbed.apply(x)); // [B, T, D]
        t = model.normPre.apply(t);
        for (let i = 0; i < cut; i++) t = model.blocks.at(i).apply(t); // [B, T, D]
        return t;
      }),
    suffix: (tokens) =>
      tf.tidy(() => {
        let t = tokens; // [B, T, D]
        for (let i = cut; i < depth; i++) t = model.blocks.at(i).apply(t);
        t = model.norm.apply(t);
        return model.forwardHead(model.poolTokens(t)); // [B, K]
      }),
  };
}

/** The model's own token embedding (cls/registers/pos in its layout), so the prefix cannot drift from forward(). */
function embedFn(model: VisionTransformer): (patches: tf.Tensor) => tf.Tensor {
  const m = model as unknown as { embedTokens?: (x: tf.Tensor) => tf.Tensor };
  if (typeof m.embedTokens !== "function") {
    throw new ConfigError("This VisionTransformer has no embedTokens step to reuse", {
      where: "splitVitAtBlock",
      expected: "VisionTransformer.embedTokens(patches) → tokens",
      got: "undefined",
      fix: "update lib/bench/frozen_prefix.ts to the ViT's current token-embedding API",
    });
  }
  return (x) => m.embedTokens!.call(model, x);
}

function checkPrefixFrozen(model: VisionTransformer, cut: number): void {
  const inPrefix = (name: string) => {
    const m = /^blocks\.(\d+)\./.exec(name);
    if (m) return Number(m[1]) < cut;
    return /^(cls_token|reg_token|pos_embed|patch_embed|norm_pre)(\.|$)/.test(name);
  };
  const bad = model
    .namedParameters()
    .filter(([n, p]) => p.trainable && inPrefix(n))
    .map(([n]) => n);
  if (bad.length) {
    throw new ConfigError("Trainable parameters in the frozen prefix", {
      where: `splitVitAtBlock(k=${cut})`,
      expected: `no trainable parameter before blocks.${cut}`,
      got: bad.slice(0, 6).join(", ") + (bad.length > 6 ? `, … (${bad.length})` : ""),
      fix: "freeze them, or cut later (k = firstTrainableBlock(model))",
    });
  }
}

function checkPrefixDeterministic(model: VisionTransformer, cut: number): void {
  const c = model.config;
  const depth = model.blocks.length;
  const lastDpr = depth > 1 ? (c.dropPathRate * (cut - 1)) / (depth - 1) : c.dropPathRate;
  const stochastic: string[] = [];
  if (c.posDropRate > 0) stochastic.push(`posDropRate=${c.posDropRate}`);
  if (c.attnDropRate > 0) stochastic.push(`attnDropRate=${c.attnDropRate}`);
  if (c.projDropRate > 0) stochastic.push(`projDropRate=${c.projDropRate}`);
  if (lastDpr > 0) stochastic.push(`drop path ${lastDpr} in blocks.${cut - 1}`);
  if (stochastic.length) {
    throw new ConfigError("The frozen prefix is stochastic in training, so its output cannot be cached", {
      where: `splitVitAtBlock(k=${cut})`,
      expected: "no dropout or drop path before the cut",
      got: stochastic.join(", "),
      fix: "set those rates to 0 for the prefix (drop path rises from 0 at block 0), or train without the cache",
    });
  }
}

/** Host-side cache of prefix tokens by item id, filled on first sight of an item. */
export class PrefixTokenCache {
  private readonly store = new Map<string, Float32Array>();
  private tokenShape: [number, number] | undefined;
  private held = 0;
  hits = 0;
  misses = 0;

  constructor(
    readonly split: PrefixSplit,
    /** Refuse to grow beyond this many bytes (default 4 GiB); a full cache is an error, not a silent slowdown. */
    readonly maxBytes = 4 * 2 ** 30,
  ) {}

  /** Bytes held on the host. */
  get bytes(): number {
    return this.held;
  }

  /** Number of cached items. */
  get size(): number {
    return this.store.size;
  }

  /** Computes and stores prefix tokens for every id not yet cached; `images` is [B, H, W, C] in `ids` order. */
  fill(ids: string[], images: tf.Tensor | (() => tf.Tensor)): void {
    if (ids.every((id) => this.store.has(id))) return;
    const x = typeof images === "function" ? images() : images;
    const tokens = this.split.prefix(x); // [B, T, D]
    try {
      const [b, t, d] = tokens.shape;
      if (b !== ids.length) {
        throw new ShapeError("One id per image is needed", {
          where: "PrefixTokenCache.fill",
          expected: `${ids.length} images`,
          got: `${b}`,
        });
      }
      this.tokenShape = [t, d];
      const all = tokens.dataSync() as Float32Array;
      const per = t * d;
      ids.forEach((id, i) => {
        if (this.store.has(id)) return;
        this.misses++;
        if (this.held + per * 4 > this.maxBytes) {
          throw new ConfigError("Prefix token cache is full", {
            where: "PrefixTokenCache",
            expected: `≤ ${this.maxBytes} bytes`,
            got: `${this.store.size} items of ${per * 4} bytes`,
            fix: "raise maxBytes, or train without the cache",
          });
        }
        this.store.set(id, all.slice(i * per, (i + 1) * per));
        this.held += per * 4;
      });
    } finally {
      if (tokens !== x) tokens.dispose();
      if (typeof images === "function") x.dispose();
    }
  }

  /** The cached tokens of `ids` as one [B, T, D] tensor; every id must have been filled. */
  get(ids: string[]): tf.Tensor3D {
    if (!this.tokenShape)
      throw new ConfigError("Prefix token cache is empty", { where: "PrefixTokenCache.get", fix: "call fill() first" });
    const [t, d] = this.tokenShape;
    const out = new Float32Array(ids.length * t * d);
    ids.forEach((id, i) => {
      const v = this.store.get(id);
      if (!v)
        throw new ConfigError("Item not in the prefix token cache", {
          where: "PrefixTokenCache.get",
          got: id,
          fix: "call fill(ids, images) for this batch first",
        });
      out.set(v, i * t * d);
      this.hits++;
    });
    return tf.tensor3d(out, [ids.length, t, d]);
  }

  /** Drops every cached item. */
  clear(): void {
    this.store.clear();
    this.tokenShape = undefined;
    this.held = 0;
  }
}

/** Gradients of the mean cross-entropy of suffix(tokens) w.r.t. the trainable parameters, by parameter name. */
export function suffixGradients(
  split: PrefixSplit,
  tokens: tf.Tensor,
  labels: tf.Tensor,
): { loss: tf.Scalar; grads: Map<string, tf.Tensor> } {
  return lossGradients(split.model, () => crossEntropy(split.suffix(tokens), labels));
}

/** Gradients of `lossFn` w.r.t. `model`'s trainable parameters, by parameter name. */
export function lossGradients(
  model: Module,
  lossFn: () => tf.Scalar,
): { loss: tf.Scalar; grads: Map<string, tf.Tensor> } {
  const named = model.namedParameters().filter(([, p]) => p.trainable);
  const { value, grads } = tf.variableGrads(
    lossFn,
    named.map(([, p]) => p.variable),
  );
  const byName = new Map<string, tf.Tensor>();
  for (const [n, p] of named) {
    const g = grads[p.variable.name];
    if (g) byName.set(n, g);
  }
  return { loss: value, grads: byName };
}

/** One optimiser update from cached prefix tokens; returns the loss. */
export function prefixTrainStep(
  split: PrefixSplit,
  optimizer: Optimizer,
  tokens: tf.Tensor,
  labels: tf.Tensor,
): number {
  const { loss, grads } = suffixGradients(split, tokens, labels);
  try {
    optimizer.apply(grads);
    return loss.dataSync()[0];
  } finally {
    loss.dispose();
    for (const g of grads.values()) g.dispose();
  }
}
