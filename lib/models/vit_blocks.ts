/**
 * The ViT building blocks with timm's parameter names: PatchEmbed (`proj`), Attention (`qkv`, `proj`), Mlp
 * (`fc1`, `fc2`), SwiGLU (`fc1_g`, `fc1_x`, `fc2`), LayerScale (`gamma`), DropPath and Block
 * (`norm1`, `attn`, `ls1`, `norm2`, `mlp`, `ls2`). Tokens are [B, T, D]; images NHWC.
 *
 * Ops are chosen so every gradient exists on wasm and cpu: slices and concats, never gather (its gradient,
 * UnsortedSegmentSum, is missing on wasm); rank ≤ 4 transposes.
 */
import * as tf from "@tensorflow/tfjs";
import { ShapeError } from "../errors";
import { Conv2d, Dropout, gelu, Identity, LayerNorm, Linear } from "../nn/layers";
import { denseOf, linearOp, mlpGeluOp } from "../nn/linear_op";
import { Module } from "../nn/module";
import type { SeedSequence } from "../nn/init";
import { attentionQkvOp } from "./vit_attention_op";
import type { MlpLayer, VitAct } from "./vit_config";

/** A plain Linear through the frozen-aware op; anything else (a LoRA wrapper) through its own apply. */
function leanLinear(m: Module, x: tf.Tensor): tf.Tensor {
  return m instanceof Linear ? linearOp(x, denseOf(m)) : m.apply(x);
}

/** Applies a ViT activation by name. */
export function activate(x: tf.Tensor, act: VitAct): tf.Tensor {
  return tf.tidy(() => {
    switch (act) {
      case "gelu":
        return gelu(x, "none");
      case "gelu_tanh":
        return gelu(x, "tanh");
      case "quick_gelu":
        return tf.mul(x, tf.sigmoid(tf.mul(x, 1.702))); // OpenAI CLIP's QuickGELU
      case "silu":
        return tf.mul(x, tf.sigmoid(x));
    }
  });
}

/** Conv patchify (kernel = stride = patch) computed as one matmul, which is exact and differentiable on every backend. */
export class PatchEmbed extends Module {
  readonly proj: Conv2d;
  constructor(
    readonly patchSize: number,
    readonly inChans: number,
    readonly embedDim: number,
    bias: boolean,
    seeds?: SeedSequence,
  ) {
    super();
    this.proj = this.registerModule(
      "proj",
      new Conv2d(inChans, embedDim, patchSize, { stride: patchSize, bias, seeds }),
    );
  }
  /** [B, H, W, C] → [B, N, D] with patches in row-major order, as timm's flatten(2).transpose(1, 2). */
  forward(x: tf.Tensor): tf.Tensor {
    const [b, h, w, c] = x.shape;
    const p = this.patchSize;
    if (x.rank !== 4 || c !== this.inChans || h % p !== 0 || w % p !== 0) {
      throw new ShapeError("PatchEmbed input has the wrong shape", {
        where: "patch_embed",
        expected: `[B, H, W, ${this.inChans}] with H and W multiples of ${p}`,
        got: `[${x.shape.join(", ")}]`,
        fix: "resize images to the model's input size (see the registry's inputSize)",
      });
    }
    const gh = h / p;
    const gw = w / p;
    return tf.tidy(() => {
      // Row i of a patch grid row: [B·gh, p, gw, p·C] → [B·gh, gw, p, p·C] puts each patch's pixels in (ki, kj, c) order,
      // the same order as the conv kernel [kh, kw, C, D] flattened to [p·p·C, D].
      const rows = x.reshape([b * gh, p, gw, p * c]);
      const patches = tf.transpose(rows, [0, 2, 1, 3]).reshape([b * gh * gw, p * p * c]); // [B·N, p·p·C]
      const wMat = this.proj.weight.variable.reshape([p * p * c, this.embedDim]); // [p·p·C, D]
      const bias = this.proj.bias?.variable;
      const y = tf.fused.matMul({ a: patches as tf.Tensor2D, b: wMat as tf.Tensor2D, bias }); // [B·N, D]
      return y.reshape([b, gh * gw, this.embedDim]); // [B, N, D]
    });
  }
}

/**
 * A hook on the fused qkv projection: gets the block input [B, T, D] and the fused output [B, T, 3D] (q | k | v) and
 * returns a replacement [B, T, 3D]. The PEFT engineer uses it for q/v-only LoRA on a fused qkv (DESIGN.md decision 4).
 */
export type QkvSplitHook = (x: tf.Tensor, qkv: tf.Tensor) => tf.Tensor;

/** Multi-head self-attention with one fused qkv Linear, as timm's Attention. */
export class Attention extends Module {
  readonly qkv: Linear;
  readonly proj: Linear;
  readonly attnDrop: Dropout;
  readonly projDrop: Dropout;
  readonly headDim: number;
  readonly scale: number;
  /** Optional hook on the fused qkv output (see QkvSplitHook); undefined = plain timm behaviour. */
  qkvSplit: QkvSplitHook | undefined;
  constructor(
    readonly dim: number,
    readonly numHeads: number,
    opts: { qkvBias: boolean; attnDrop: number; projDrop: number; seed: number; seeds?: SeedSequence },
  ) {
    super();
    this.headDim = dim / numHeads;
    this.scale = this.headDim ** -0.5;
    // timm's registration order (qkv, attn_drop, proj, proj_drop), so fit() seeds the dropouts in the same order.
    this.qkv = this.registerModule("qkv", new Linear(dim, dim * 3, { bias: opts.qkvBias, seeds: opts.seeds }));
    this.attnDrop = this.registerModule("attn_drop", new Dropout(opts.attnDrop, opts.seed));
    this.proj = this.registerModule("proj", new Linear(dim, dim, { seeds: opts.seeds }));
    this.projDrop = this.registerModule("proj_drop", new Dropout(opts.projDrop, opts.seed + 1));
  }
  forward(x: tf.Tensor): tf.Tensor {
    const [b, t, d] = x.shape;
    const h = this.numHeads;
    const hd = this.headDim;
    return tf.tidy(() => {
      let qkv = this.qkv.apply(x); // [B, T, 3D]
      if (this.qkvSplit) qkv = this.qkvSplit(x, qkv);
      if (!(this.training && this.attnDrop.p > 0)) {
        // One recorded op for the attention core and a frozen-aware proj (lib/models/vit_attention_op.ts,
        // lib/nn/linear_op.ts): the tape keeps q, k, v and P instead of every reshape, transpose and product.
        const merged = attentionQkvOp(qkv, h, this.scale); // [B, T, D]
        return this.projDrop.apply(leanLinear(this.proj, merged)); // [B, T, D]
      }
      // Dropout on the attention probabilities needs P itself, so this path composes tfjs ops.
      const heads = (s: tf.Tensor) => tf.transpose(s.reshape([b, t, h, hd]), [0, 2, 1, 3]); // [B, H, T, hd]
      const [q, k, v] = tf.split(qkv, 3, 2).map(heads); // 3 × [B, H, T, hd]
      const o = attention(q, k, v, this.scale, this.attnDrop); // [B, H, T, hd]
      const merged = tf.transpose(o, [0, 2, 1, 3]).reshape([b, t, d]); // [B, T, D]
      return this.projDrop.apply(this.proj.apply(merged)); // [B, T, D]
    });
  }
}

/** softmax(q·kᵀ·scale)·v on [B, H, T, hd] tensors, with optional dropout on the attention probabilities. */
export function attention(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, scale: number, drop?: Dropout): tf.Tensor {
  return tf.tidy(() => {
    const scores = tf.matMul(tf.mul(q, scale), k, false, true); // [B, H, T, T]
    let p = tf.softmax(scores, -1); // [B, H, T, T]
    if (drop) p = drop.apply(p);
    return tf.matMul(p, v); // [B, H, T, hd]
  });
}

/** timm's Mlp: fc1 → act → drop1 → fc2 → drop2. */
export class Mlp extends Module {
  readonly fc1: Linear;
  readonly drop1: Dropout;
  readonly fc2: Linear;
  readonly drop2: Dropout;
  /** `fc2In`: fc2's input width (hidden; GluMlp's gated half, hidden / 2). */
  constructor(
    dim: number,
    hidden: number,
    readonly act: VitAct,
    drop: number,
    seed: number,
    seeds?: SeedSequence,
    fc2In = hidden,
  ) {
    super();
    this.fc1 = this.registerModule("fc1", new Linear(dim, hidden, { seeds }));
    this.drop1 = this.registerModule("drop1", new Dropout(drop, seed));
    this.fc2 = this.registerModule("fc2", new Linear(fc2In, dim, { seeds }));
    this.drop2 = this.registerModule("drop2", new Dropout(drop, seed + 5));
  }
  forward(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      const fc1 = this.fc1 as Module;
      const fc2 = this.fc2 as Module;
      if (
        this.act === "gelu" &&
        fc1 instanceof Linear &&
        fc2 instanceof Linear &&
        !(this.training && this.drop1.p > 0)
      ) {
        // fc1 → GELU → fc2 as one recorded op keeping only GELU'(fc1(x)) when frozen (lib/nn/linear_op.ts);
        // LoRA-wrapped fc1/fc2 or active dropout take the module path below.
        return mlpGeluOp(x, denseOf(fc1), denseOf(fc2)); // [B, T, D]
      }
      const hdn = this.drop1.apply(activate(this.fc1.apply(x), this.act)); // [B, T, hidden]
      return this.drop2.apply(this.fc2.apply(hdn)); // [B, T, D]
    });
  }
}

/**
 * timm's GluMlp with gate_last=False, i.e. SwiGLUPacked: fc1 gives [B, T, 2·h]; out = fc2(act(first half) · second half).
 * Same maths as Meta's SwiGLUFFNFused (`w12`, `w3`), which is why timm renames w12 → fc1, w3 → fc2.
 */
export class GluMlp extends Mlp {
  constructor(dim: number, hidden: number, act: VitAct, drop: number, seed: number, seeds?: SeedSequence) {
    super(dim, hidden, act, drop, seed, seeds, hidden / 2);
  }
  override forward(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      const [gate, value] = tf.split(this.fc1.apply(x), 2, -1); // 2 × [B, T, h/2]
      const hdn = this.drop1.apply(tf.mul(activate(gate, this.act), value)); // [B, T, h/2]
      return this.drop2.apply(this.fc2.apply(hdn)); // [B, T, D]
    });
  }
}

/** timm's SwiGLU with separate gate and value projections: fc2(act(fc1_g(x)) · fc1_x(x)). */
export class SwiGluMlp extends Module {
  readonly fc1G: Linear;
  readonly fc1X: Linear;
  readonly drop1: Dropout;
  readonly fc2: Linear;
  readonly drop2: Dropout;
  constructor(
    dim: number,
    hidden: number,
    readonly act: VitAct,
    drop: number,
    seed: number,
    seeds?: SeedSequence,
  ) {
    super();
    this.fc1G = this.registerModule("fc1_g", new Linear(dim, hidden / 2, { seeds }));
    this.fc1X = this.registerModule("fc1_x", new Linear(dim, hidden / 2, { seeds }));
    this.drop1 = this.registerModule("drop1", new Dropout(drop, seed));
    this.fc2 = this.registerModule("fc2", new Linear(hidden / 2, dim, { seeds }));
    this.drop2 = this.registerModule("drop2", new Dropout(drop, seed + 5));
  }
  forward(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      const hdn = this.drop1.apply(tf.mul(activate(this.fc1G.apply(x), this.act), this.fc1X.apply(x))); // [B, T, h/2]
      return this.drop2.apply(this.fc2.apply(hdn)); // [B, T, D]
    });
  }
}

/** Builds the MLP a config asks for. `hidden` is int(D·mlp_ratio), the fc1 width timm uses for every flavour. */
export function makeMlp(
  kind: MlpLayer,
  dim: number,
  hidden: number,
  act: VitAct,
  drop: number,
  seed: number,
  seeds?: SeedSequence,
): Module {
  if (kind === "swiglu_packed") return new GluMlp(dim, hidden, act, drop, seed, seeds);
  if (kind === "swiglu") return new SwiGluMlp(dim, hidden, act, drop, seed, seeds);
  return new Mlp(dim, hidden, act, drop, seed, seeds);
}

/** LayerScale: x · gamma, gamma initialised to `initValues` (CaiT; used by DINOv2, UNI, H-optimus, Virchow). */
export class LayerScale extends Module {
  readonly gamma;
  constructor(dim: number, initValues: number) {
    super();
    this.gamma = this.registerParameter("gamma", tf.fill([dim], initValues));
  }
  forward(x: tf.Tensor): tf.Tensor {
    return tf.mul(x, this.gamma.variable);
  }
}

/** Stochastic depth: in training, drops a residual branch per sample with probability p and rescales by 1/(1−p). */
export class DropPath extends Module {
  /** Number of forward calls so far; with `seed`, the RNG state a checkpoint saves (fit() reseeds both). */
  calls = 0;
  constructor(
    readonly p: number,
    public seed: number,
  ) {
    super();
  }
  forward(x: tf.Tensor): tf.Tensor {
    if (!this.training || this.p === 0) return x;
    return tf.tidy(() => {
      const keep = 1 - this.p;
      const s = (this.seed * 7919 + this.calls++) % 2147483647;
      const u = tf.randomUniform([x.shape[0], ...x.shape.slice(1).map(() => 1)], 0, 1, "float32", s); // [B, 1, 1]
      const mask = tf.floor(tf.add(u, keep)); // 1 with probability keep
      return tf.mul(x, tf.div(mask, keep));
    });
  }
}

/** Block options shared by every block of a model. */
export interface BlockOptions {
  dim: number;
  numHeads: number;
  mlpHidden: number;
  mlpLayer: MlpLayer;
  act: VitAct;
  qkvBias: boolean;
  initValues: number | null;
  layerNormEps: number;
  attnDrop: number;
  projDrop: number;
  dropPath: number;
  seed: number;
  seeds?: SeedSequence;
}

/** Pre-norm transformer block: x + ls1(attn(norm1(x))), then x + ls2(mlp(norm2(x))), with drop path on each branch. */
export class Block extends Module {
  readonly norm1: LayerNorm;
  readonly attn: Attention;
  readonly ls1: Module;
  readonly norm2: LayerNorm;
  readonly mlp: Module;
  readonly ls2: Module;
  readonly dropPath1: DropPath;
  readonly dropPath2: DropPath;
  constructor(o: BlockOptions) {
    super();
    this.norm1 = this.registerModule("norm1", new LayerNorm(o.dim, o.layerNormEps));
    const attnOpts = { qkvBias: o.qkvBias, attnDrop: o.attnDrop, projDrop: o.projDrop, seed: o.seed, seeds: o.seeds };
    this.attn = this.registerModule("attn", new Attention(o.dim, o.numHeads, attnOpts));
    this.ls1 = this.registerModule("ls1", o.initValues === null ? new Identity() : new LayerScale(o.dim, o.initValues));
    this.dropPath1 = this.registerModule("drop_path1", new DropPath(o.dropPath, o.seed + 3));
    this.norm2 = this.registerModule("norm2", new LayerNorm(o.dim, o.layerNormEps));
    const mlp = makeMlp(o.mlpLayer, o.dim, o.mlpHidden, o.act, o.projDrop, o.seed + 2, o.seeds);
    this.mlp = this.registerModule("mlp", mlp);
    this.ls2 = this.registerModule("ls2", o.initValues === null ? new Identity() : new LayerScale(o.dim, o.initValues));
    this.dropPath2 = this.registerModule("drop_path2", new DropPath(o.dropPath, o.seed + 4));
  }
  forward(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      // Submodules are looked up at call time so adapters swapped in by setSubmodule take effect.
      const attn = this.getSubmodule("attn");
      const mlp = this.getSubmodule("mlp");
      const a = this.ls1.apply(attn.apply(this.norm1.apply(x))); // [B, T, D]
      const y = tf.add(x, this.dropPath1.apply(a));
      const m = this.ls2.apply(mlp.apply(this.norm2.apply(y))); // [B, T, D]
      return tf.add(y, this.dropPath2.apply(m));
    });
  }
}
