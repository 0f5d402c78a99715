/**
 * A timm-compatible VisionTransformer (timm/models/vision_transformer.py) on peftlab's Module tree, with timm's
 * parameter names: `patch_embed.proj`, `cls_token`, `reg_token`, `pos_embed`, `norm_pre`, `blocks.N.*`, `norm`,
 * `fc_norm`, `head`. Covers timm ViTs, DINOv2 (Meta and timm token layouts, registers, LayerScale, SwiGLU), UNI,
 * H-optimus, Virchow, Phikon/HF ViT (after name conversion), CLIP's visual tower and MAE-style GAP + fc_norm.
 */
import * as tf from "@tensorflow/tfjs";
import { ShapeError } from "../errors";
import { fromTensorSync, toTensor } from "../io/host_tensor";
import { Dropout, Identity, LayerNorm, Linear } from "../nn/layers";
import { ModuleList } from "../nn/containers";
import { Module, type Parameter } from "../nn/module";
import { normal, SeedSequence, truncNormal } from "../nn/init";
import { resamplePosEmbed } from "./pos_embed";
import type { ImageClassifier, Stage } from "./types";
import { Attention, Block, PatchEmbed, type QkvSplitHook } from "./vit_blocks";
import {
  hiddenDim,
  numPrefixTokens,
  posEmbedLength,
  resolveVitConfig,
  usesFcNorm,
  type VitConfig,
  type VitOptions,
} from "./vit_config";

/** A Vision Transformer classifier: NHWC images in, logits out; forwardFeatures gives timm's pre-logits. */
export class VisionTransformer extends Module implements ImageClassifier {
  readonly arch = "vit";
  readonly config: VitConfig;
  readonly cls?: Parameter;
  readonly reg?: Parameter;
  readonly pos: Parameter;
  readonly patchEmbed: PatchEmbed;
  readonly normPre: Module;
  readonly blocks: ModuleList;
  readonly norm: Module;
  readonly fcNorm: Module;
  readonly head: Module;
  readonly posDrop: Dropout;
  readonly headDrop: Dropout;
  readonly headNames = ["head"];
  private _numClasses: number;
  private _grid: [number, number];

  constructor(options: VitOptions = {}) {
    super();
    const c = (this.config = resolveVitConfig(options));
    const seeds = new SeedSequence(c.seed);
    const d = c.embedDim;
    this._grid = [c.imgSize / c.patchSize, c.imgSize / c.patchSize];
    // Own parameters first, then children: the same order as timm's named_parameters().
    if (c.classToken) this.cls = this.registerParameter("cls_token", normal([1, 1, d], 1e-6, seeds));
    if (c.numRegTokens > 0) this.reg = this.registerParameter("reg_token", normal([1, c.numRegTokens, d], 1e-6, seeds));
    const posLen = posEmbedLength(c, this._grid[0] * this._grid[1]);
    this.pos = this.registerParameter("pos_embed", truncNormal([1, posLen, d], 0.02, seeds));
    this.patchEmbed = this.registerModule("patch_embed", new PatchEmbed(c.patchSize, c.inChans, d, c.patchBias, seeds));
    this.posDrop = this.registerModule("pos_drop", new Dropout(c.posDropRate, c.seed + 17));
    this.normPre = this.registerModule("norm_pre", c.preNorm ? new LayerNorm(d, c.layerNormEps) : new Identity());
    const blocks: Block[] = [];
    for (let i = 0; i < c.depth; i++) {
      // timm: drop path rate rises linearly from 0 to drop_path_rate over the blocks.
      const dpr = c.depth > 1 ? (c.dropPathRate * i) / (c.depth - 1) : c.dropPathRate;
      blocks.push(
        new Block({
          dim: d,
          numHeads: c.numHeads,
          mlpHidden: hiddenDim(c),
          mlpLayer: c.mlpLayer,
          act: c.act,
          qkvBias: c.qkvBias,
          initValues: c.initValues,
          layerNormEps: c.layerNormEps,
          attnDrop: c.attnDropRate,
          projDrop: c.projDropRate,
          dropPath: dpr,
          seed: c.seed * 1009 + i * 10,
          seeds,
        }),
      );
    }
    this.blocks = this.registerModule("blocks", new ModuleList(blocks));
    const fc = usesFcNorm(c);
    this.norm = this.registerModule("norm", fc ? new Identity() : new LayerNorm(d, c.layerNormEps));
    this.fcNorm = this.registerModule("fc_norm", fc ? new LayerNorm(d, c.layerNormEps) : new Identity());
    this.headDrop = this.registerModule("head_drop", new Dropout(c.dropRate, c.seed + 19));
    this._numClasses = c.numClasses;
    this.head = this.registerModule("head", this.makeHead(c.numClasses, seeds));
    initLinearsTimm(this, seeds);
  }

  get numClasses(): number {
    return this._numClasses;
  }

  /** Pre-logits width: D, or 2·D for the `token_avg` pool. */
  get numFeatures(): number {
    return this.config.globalPool === "token_avg" ? 2 * this.config.embedDim : this.config.embedDim;
  }

  /** Current patch grid [rows, cols] (changes with setInputSize). */
  get gridSize(): [number, number] {
    return [...this._grid];
  }

  /** Number of tokens in front of the patches (cls + registers). */
  get numPrefixTokens(): number {
    return numPrefixTokens(this.config);
  }

  /** Rows of pos_embed that belong to prefix tokens (0 for no_embed_class, 1 for Meta's layout). */
  get posPrefixRows(): number {
    const c = this.config;
    return c.posEmbed === "patches" ? 0 : c.posEmbed === "cls+patches" ? 1 : numPrefixTokens(c);
  }

  /** Tokens after the final norm: [B, H, W, C] → [B, T, D] (prefix tokens first). */
  forwardTokens(x: tf.Tensor): tf.Tensor {
    const [, h, w] = x.shape;
    const p = this.config.patchSize;
    if (h / p !== this._grid[0] || w / p !== this._grid[1]) {
      throw new ShapeError("Input size does not match the position embedding", {
        where: "VisionTransformer.forward",
        expected: `[B, ${this._grid[0] * p}, ${this._grid[1] * p}, ${this.config.inChans}]`,
        got: `[${x.shape.join(", ")}]`,
        fix: `resize the images, or call model.setInputSize(${h}) to resample pos_embed bicubically (timm-style)`,
      });
    }
    return tf.tidy(() => {
      let t = this.embedTokens(this.patchEmbed.apply(x)); // [B, T, D]
      t = this.normPre.apply(this.posDrop.apply(t));
      for (let i = 0; i < this.blocks.length; i++) t = this.blocks.at(i).apply(t); // [B, T, D]
      return this.norm.apply(t);
    });
  }

  /** Pre-logits: tokens → pool ("token", "avg" or "token_avg") → fc_norm → head dropout. [B, H, W, C] → [B, F]. */
  forwardFeatures(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => this.poolTokens(this.forwardTokens(x))); // [B, F]
  }

  /** forwardFeatures after the final norm: pool ("token", "avg" or "token_avg") → fc_norm → head dropout. [B, T, D] → [B, F]. */
  poolTokens(t: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      const [b, n, d] = t.shape;
      const p = this.numPrefixTokens;
      const cls = () => tf.slice(t, [0, 0, 0], [b, 1, d]).reshape([b, d]); // [B, D]
      const avg = () => tf.mean(tf.slice(t, [0, p, 0], [b, n - p, d]), 1); // [B, D]
      const pool = this.config.globalPool;
      const pooled = pool === "token" ? cls() : pool === "avg" ? avg() : tf.concat([cls(), avg()], 1);
      return this.headDrop.apply(this.fcNorm.apply(pooled)); // [B, F]
    });
  }

  /** Logits from pre-logits: [B, F] → [B, numClasses]. */
  forwardHead(features: tf.Tensor): tf.Tensor {
    return this.getSubmodule("head").apply(features);
  }

  /** Logits: [B, H, W, C] → [B, numClasses]. */
  forward(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => this.forwardHead(this.forwardFeatures(x)));
  }

  /** Replaces the head with a fresh Linear(numFeatures, n) (PyTorch's default init, as timm's reset_classifier) or Identity. */
  resetClassifier(numClasses: number, seed?: number): void {
    const old = this.getSubmodule("head");
    this.setSubmodule("head", this.makeHead(numClasses, new SeedSequence(seed ?? this.config.seed + 1)));
    old.dispose();
    this._numClasses = numClasses;
  }

  /** Resamples pos_embed to a new square (or [h, w]) input size, bicubic like timm's resample_abs_pos_embed. */
  setInputSize(size: number | [number, number]): void {
    const [h, w] = typeof size === "number" ? [size, size] : size;
    const p = this.config.patchSize;
    if (h % p !== 0 || w % p !== 0) {
      throw new ShapeError("Input size must be a multiple of the patch size", {
        where: "VisionTransformer.setInputSize",
        expected: `multiples of ${p}`,
        got: `${h}×${w}`,
      });
    }
    const grid: [number, number] = [h / p, w / p];
    const host = resamplePosEmbed(fromTensorSync(this.pos.variable), grid, this.posPrefixRows, this._grid);
    const next = toTensor(host, "pos_embed");
    const trainable = this.pos.trainable;
    this.pos.variable.dispose();
    this.pos.variable = tf.variable(next, trainable);
    next.dispose();
    this._grid = grid;
  }

  /** Block module paths, input side first: `blocks.0` … `blocks.N-1`. */
  blockNames(): string[] {
    return Array.from({ length: this.blocks.length }, (_, i) => `blocks.${i}`);
  }

  /** The attention module of every block (where a QkvSplitHook goes). */
  attentions(): Attention[] {
    return this.blockNames().map((n) => this.getSubmodule(`${n}.attn`) as Attention);
  }

  /** Installs (or with undefined removes) a hook on the fused qkv output of the given blocks (all by default). */
  setQkvSplitHook(hook: QkvSplitHook | undefined, blocks?: number[]): void {
    const all = this.attentions();
    for (const i of blocks ?? all.map((_, j) => j)) all[i].qkvSplit = hook;
  }

  /** Stages: embeddings (patch_embed + tokens + norm_pre), each block, then norm/fc_norm + head. */
  stages(): Stage[] {
    const have = new Set(this.namedParameters().map(([n]) => n.split(".")[0]));
    const keep = (xs: string[]) => xs.filter((x) => have.has(x));
    return [
      { name: "patch_embed", prefixes: keep(["cls_token", "reg_token", "pos_embed", "patch_embed", "norm_pre"]) },
      ...this.blockNames().map((n) => ({ name: n, prefixes: [n] })),
      { name: "head", prefixes: keep(["norm", "fc_norm", "head"]) },
    ];
  }

  private embedTokens(x: tf.Tensor): tf.Tensor {
    const b = x.shape[0] as number;
    const d = x.shape[2] as number;
    const expand = (p: Parameter | undefined) =>
      p ? [tf.broadcastTo(p.variable, [b, p.variable.shape[1] as number, d])] : []; // [B, k, D]
    const pos = this.pos.variable;
    switch (this.config.posEmbed) {
      case "prefix+patches":
        return tf.add(tf.concat([...expand(this.cls), ...expand(this.reg), x], 1), pos); // [B, P + N, D]
      case "patches":
        return tf.concat([...expand(this.cls), ...expand(this.reg), tf.add(x, pos)], 1);
      case "cls+patches": {
        // Meta DINOv2: pos over [cls, patches], then registers go between cls and the patches, with no position.
        const t = tf.add(tf.concat([...expand(this.cls), x], 1), pos); // [B, 1 + N, D]
        if (!this.reg) return t;
        const n = t.shape[1] as number;
        const first = tf.slice(t, [0, 0, 0], [b, 1, d]);
        const rest = tf.slice(t, [0, 1, 0], [b, n - 1, d]);
        return tf.concat([first, ...expand(this.reg), rest], 1); // [B, 1 + R + N, D]
      }
    }
  }

  private makeHead(numClasses: number, seeds: SeedSequence): Module {
    return numClasses > 0 ? new Linear(this.numFeatures, numClasses, { seeds }) : new Identity();
  }
}

/** timm's init_weights_vit_timm: every Linear gets trunc_normal(std=0.02) weights and zero bias. */
function initLinearsTimm(root: Module, seeds: SeedSequence): void {
  for (const [name, m] of root.namedModules()) {
    if (!(m instanceof Linear) || name === "head") continue;
    const w = truncNormal(m.weight.shape, 0.02, seeds);
    m.weight.assign(w);
    w.dispose();
    if (m.bias) {
      const z = tf.zerosLike(m.bias.variable);
      m.bias.assign(z);
      z.dispose();
    }
  }
}

/** Builds a VisionTransformer from a partial config (the registry's and the manifest's entry point). */
export function createVit(options: VitOptions = {}): VisionTransformer {
  return new VisionTransformer(options);
}
