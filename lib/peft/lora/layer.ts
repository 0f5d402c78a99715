/**
 * LoRA layers (peft's tuners/lora/layer.py): a wrapper around a Linear or Conv2d computing
 * y = base(x) + B(A(dropout(x)))·scaling, with merge / unmerge / safeMerge and adapter enable/disable.
 *
 * Parameter names: the wrapper reports the base layer's own parameters under the wrapped module's path
 * (`blocks.0.attn.qkv.weight`, `.bias`), unchanged, plus `lora_A.weight` and `lora_B.weight` beside them. So a base
 * checkpoint still loads by the original names (non-strictly, or with `loadBaseStateDict`), and the LoRA names are
 * the adapter file's keys without the `base_model.model.` prefix (peft keeps `base_layer.` and `.default.` in memory
 * and strips them on save; we never add them).
 */
import * as tf from "@tensorflow/tfjs";
import { CheckpointError, ConfigError } from "../../errors";
import { Conv2d, Dropout, Linear } from "../../nn/layers";
import { type Buffer, Module, type Parameter } from "../../nn/module";
import { SeedSequence, normal, uniform } from "../../nn/init";
import type { InitLoraWeights, QkvPart } from "./config";
import { type LoraLinearParams, loraLinearOp } from "./lora_op";

/** What a LoRA layer is built from. */
export interface LoraLayerOptions {
  r: number;
  /** Multiplier of B·A (α/r or α/√r), computed by the caller from the config. */
  scaling: number;
  dropout: number;
  init: InitLoraWeights;
  seed: number;
  /** Fused-qkv slicing (peftlab extension): the enabled parts; r is then the per-part rank. */
  qkvParts?: QkvPart[];
}

/** Base class of LoRA wrappers; subclasses supply the A/B modules and the delta-weight maths. */
export abstract class LoraLayer extends Module {
  readonly loraA: Linear | Conv2d;
  readonly loraB: Linear | Conv2d;
  readonly dropout: Dropout;
  /** Total rank of A/B as stored (n·r for qkv slicing). */
  readonly rank: number;
  readonly scaling: number;
  /** tfjs-layout {0,1} mask on B's weight for qkv slicing; undefined for plain LoRA. */
  readonly bMask?: tf.Tensor;
  readonly qkvParts?: QkvPart[];
  merged = false;
  adaptersEnabled = true;

  protected constructor(
    readonly base: Linear | Conv2d,
    opts: LoraLayerOptions,
    make: (rank: number, seeds: SeedSequence) => { a: Linear | Conv2d; b: Linear | Conv2d },
  ) {
    super();
    const seeds = new SeedSequence(opts.seed);
    const nParts = opts.qkvParts?.length ?? 1;
    this.rank = opts.r * nParts;
    this.scaling = opts.scaling;
    const { a, b } = make(this.rank, seeds);
    this.loraA = this.registerModule("lora_A", a);
    this.loraB = this.registerModule("lora_B", b);
    this.dropout = this.registerModule("lora_dropout", new Dropout(opts.dropout, seeds.next()));
    if (opts.qkvParts) {
      this.qkvParts = [...opts.qkvParts];
      this.bMask = qkvMask(outFeaturesOf(base), opts.r, opts.qkvParts);
    }
    initLora(this.loraA, this.loraB, opts, seeds, this.bMask);
  }

  /**
   * Guards against parents that read the wrapped layer's weight directly instead of calling it (such a parent would
   * silently skip the LoRA branch): reading `weight` or `bias` off a LoRA layer is an error that says so.
   */
  get weight(): never {
    throw directAccess(this.base.typeName, "weight");
  }
  get bias(): never {
    throw directAccess(this.base.typeName, "bias");
  }

  abstract get inFeatures(): number;
  abstract get outFeatures(): number;

  /** ΔW = B·A·scaling in the base weight's tfjs layout. */
  abstract deltaWeight(): tf.Tensor;

  /** B·A applied to (dropped-out) input, without scaling. */
  protected abstract loraForward(x: tf.Tensor): tf.Tensor;

  /** The base parameters under this module's own path (so checkpoint names do not change), then lora_A / lora_B. */
  override namedParameters(prefix = ""): [string, Parameter][] {
    return [...this.base.namedParameters(prefix), ...super.namedParameters(prefix)];
  }

  override namedBuffers(prefix = ""): [string, Buffer][] {
    return [...this.base.namedBuffers(prefix), ...super.namedBuffers(prefix)];
  }

  override ownParameters(): [string, Parameter][] {
    return this.base.ownParameters();
  }

  /** B's weight with the qkv mask applied (tfjs layout). */
  protected effectiveB(): tf.Tensor {
    const w = this.loraB.weight.variable;
    return this.bMask ? tf.mul(w, this.bMask) : w;
  }

  forward(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      const active = this.adaptersEnabled && !this.merged;
      if (active && this.base instanceof Linear && !(this.training && this.dropout.p > 0)) {
        // base + B·A·scaling as one recorded op (lora_op.ts): no dW for a frozen base, x kept once.
        return loraLinearOp(x, this.leanParams(this.base));
      }
      const y = this.base.apply(x);
      if (!active) return y;
      const d = this.loraForward(this.dropout.apply(x));
      return tf.add(y, tf.mul(d, this.scaling));
    });
  }

  /** The tensors and trainability flags loraLinearOp needs, for a Linear base. */
  private leanParams(base: Linear): LoraLinearParams {
    const w = base.weight;
    const b = base.bias;
    return {
      w: w.variable as tf.Tensor2D,
      b: b?.variable as tf.Tensor1D | undefined,
      a: this.loraA.weight.variable as tf.Tensor2D,
      bLora: this.loraB.weight.variable as tf.Tensor2D,
      mask: this.bMask,
      scaling: this.scaling,
      train: { w: w.trainable, b: !!b?.trainable, a: this.loraA.weight.trainable, bLora: this.loraB.weight.trainable },
    };
  }

  /** Adds ΔW into the base weight; forward then skips the LoRA branch. */
  merge(): void {
    if (this.merged) return;
    const w = this.base.weight;
    const next = tf.tidy(() => tf.add(w.variable, this.deltaWeight()));
    w.assign(next);
    next.dispose();
    this.merged = true;
  }

  /** Throws CheckpointError if merging would put NaN or Inf into the base weight. */
  checkMergeFinite(where = "LoRA layer"): void {
    const finite = tf.tidy(
      () => tf.all(tf.isFinite(tf.add(this.base.weight.variable, this.deltaWeight()))).dataSync()[0] === 1,
    );
    if (!finite) throw nonFiniteMerge(where);
  }

  /** checkMergeFinite with an asynchronous read: the one that works on webgpu (no synchronous reads there). */
  async checkMergeFiniteAsync(where = "LoRA layer"): Promise<void> {
    const t = tf.tidy(() => tf.all(tf.isFinite(tf.add(this.base.weight.variable, this.deltaWeight())))); // scalar bool
    const finite = (await t.data())[0] === 1;
    t.dispose();
    if (!finite) throw nonFiniteMerge(where);
  }

  /** safeMerge with an asynchronous finiteness check (works on every backend, webgpu included). */
  async safeMergeAsync(where = "LoRA layer"): Promise<void> {
    if (this.merged) return;
    await this.checkMergeFiniteAsync(where);
    this.merge();
  }

  /** Like merge, but refuses to write NaN or Inf into the base weight (peft's safe_merge). */
  safeMerge(where = "LoRA layer"): void {
    if (this.merged) return;
    this.checkMergeFinite(where);
    this.merge();
  }

  /** Subtracts ΔW again (restores W up to float rounding, as peft does). */
  unmerge(): void {
    if (!this.merged) return;
    const w = this.base.weight;
    const next = tf.tidy(() => tf.sub(w.variable, this.deltaWeight()));
    w.assign(next);
    next.dispose();
    this.merged = false;
  }

  /** Turns the LoRA branch off (unmerging first, as peft does); the model then computes the base function. */
  disableAdapters(): void {
    this.unmerge();
    this.adaptersEnabled = false;
  }

  /** Turns the LoRA branch back on. */
  enableAdapters(): void {
    this.adaptersEnabled = true;
  }

  /** Torch shape of A's and B's weights, as stored in the adapter file. */
  abstract adapterShapes(): { a: number[]; b: number[] };

  override dispose(): void {
    super.dispose();
    this.bMask?.dispose();
  }
}

/** LoRA around a Linear: A is Linear(in → r, no bias), B is Linear(r → out, no bias). */
export class LoraLinear extends LoraLayer {
  constructor(base: Linear, opts: LoraLayerOptions) {
    super(base, opts, (rank, seeds) => ({
      a: new Linear(base.inFeatures, rank, { bias: false, seeds }),
      b: new Linear(rank, base.outFeatures, { bias: false, seeds }),
    }));
  }
  get inFeatures(): number {
    return (this.base as Linear).inFeatures;
  }
  get outFeatures(): number {
    return (this.base as Linear).outFeatures;
  }
  protected loraForward(x: tf.Tensor): tf.Tensor {
    const lead = x.shape.slice(0, -1);
    const x2 = x.reshape([-1, this.inFeatures]); // [N, in]
    const a = tf.matMul(x2, this.loraA.weight.variable as tf.Tensor2D); // [N, r]
    const b = tf.matMul(a, this.effectiveB() as tf.Tensor2D); // [N, out]
    return b.reshape([...lead, this.outFeatures]);
  }
  deltaWeight(): tf.Tensor {
    return tf.tidy(() =>
      tf.mul(tf.matMul(this.loraA.weight.variable as tf.Tensor2D, this.effectiveB() as tf.Tensor2D), this.scaling),
    ); // [in, out]
  }
  adapterShapes(): { a: number[]; b: number[] } {
    return { a: [this.rank, this.inFeatures], b: [this.outFeatures, this.rank] };
  }
}

/**
 * LoRA around a Conv2d, as peft builds it: A is a Conv2d(in → r) with the base's kernel, stride and padding; B is a
 * 1×1 Conv2d(r → out). Grouped/depthwise and dilated convs are rejected (peft's A would not match them).
 */
export class LoraConv2d extends LoraLayer {
  constructor(base: Conv2d, opts: LoraLayerOptions, where = "Conv2d") {
    if (base.groups !== 1 || base.dilation !== 1) {
      throw new ConfigError("LoRA on grouped, depthwise or dilated convolutions is not supported", {
        where,
        expected: "a Conv2d with groups=1 and dilation=1 (e.g. a 1×1 pointwise or a plain k×k conv)",
        got: `groups=${base.groups}, dilation=${base.dilation}`,
        fix: "exclude this module (exclude_modules) or target the pointwise convs only",
      });
    }
    if (opts.qkvParts) {
      throw new ConfigError("qkvParts applies to fused qkv Linear layers only", {
        where,
        expected: "Linear",
        got: "Conv2d",
      });
    }
    super(base, opts, (rank, seeds) => ({
      a: new Conv2d(base.inChannels, rank, base.kernelSize, {
        stride: base.stride,
        padding: base.padding,
        bias: false,
        seeds,
      }),
      b: new Conv2d(rank, base.outChannels, 1, { bias: false, seeds }),
    }));
  }
  get inFeatures(): number {
    return (this.base as Conv2d).inChannels;
  }
  get outFeatures(): number {
    return (this.base as Conv2d).outChannels;
  }
  protected loraForward(x: tf.Tensor): tf.Tensor {
    return this.loraB.apply(this.loraA.apply(x)); // [B, H', W', out]
  }
  deltaWeight(): tf.Tensor {
    const base = this.base as Conv2d;
    const k = base.kernelSize;
    return tf.tidy(() => {
      const a = this.loraA.weight.variable.reshape([k * k * base.inChannels, this.rank]); // [k·k·in, r]
      const b = this.loraB.weight.variable.reshape([this.rank, base.outChannels]); // [r, out]
      return tf.mul(tf.matMul(a, b), this.scaling).reshape([k, k, base.inChannels, base.outChannels]);
    });
  }
  adapterShapes(): { a: number[]; b: number[] } {
    const k = (this.base as Conv2d).kernelSize;
    return { a: [this.rank, this.inFeatures, k, k], b: [this.outFeatures, this.rank, 1, 1] };
  }
}

/** Wraps a Linear or Conv2d in the matching LoRA layer; anything else is an error naming the module. */
export function makeLoraLayer(module: Module, opts: LoraLayerOptions, where: string): LoraLayer {
  if (module instanceof Linear) {
    if (opts.qkvParts && module.outFeatures % 3 !== 0) {
      throw new ConfigError("qkvParts needs a fused qkv Linear whose output is 3·dim", {
        where,
        expected: "out_features divisible by 3",
        got: String(module.outFeatures),
      });
    }
    return new LoraLinear(module, opts);
  }
  if (module instanceof Conv2d) return new LoraConv2d(module, opts, where);
  throw new ConfigError("LoRA target is not a Linear or Conv2d module", {
    where,
    expected: "Linear or Conv2d",
    got: module.typeName,
    fix: "target the Linear/Conv2d leaves (e.g. attn.qkv, mlp.fc1), not a block",
  });
}

function directAccess(kind: string, field: string): ConfigError {
  return new ConfigError(`A module read .${field} of a LoRA-wrapped ${kind} instead of calling it`, {
    where: `LoraLayer.${field}`,
    expected: "the parent module to call the wrapped layer's apply()",
    got: `direct access to .${field} (e.g. the ViT's PatchEmbed computes its conv as a matmul on proj.weight)`,
    fix: 'exclude that module from target_modules (e.g. use "attn.proj" instead of "proj"), or use layer.base',
  });
}

function outFeaturesOf(m: Linear | Conv2d): number {
  return m instanceof Linear ? m.outFeatures : m.outChannels;
}

/** The {0,1} mask (tfjs layout [n·r, 3·dim]) that keeps part j's rank block on its own rows of the qkv output. */
export function qkvMask(out: number, r: number, parts: QkvPart[]): tf.Tensor {
  const dim = out / 3;
  const rows = parts.length * r;
  const m = new Float32Array(rows * out);
  parts.forEach((p, j) => {
    const o0 = "qkv".indexOf(p) * dim;
    for (let c = j * r; c < (j + 1) * r; c++) for (let o = o0; o < o0 + dim; o++) m[c * out + o] = 1;
  });
  return tf.tensor2d(m, [rows, out]);
}

function initLora(
  a: Linear | Conv2d,
  b: Linear | Conv2d,
  o: LoraLayerOptions,
  seeds: SeedSequence,
  mask?: tf.Tensor,
): void {
  // A: Linear/Conv2d's own init is already kaiming-uniform(a=√5), i.e. U(±1/√fan_in), which is peft's default.
  if (o.init === "gaussian") replace(a.weight, normal(a.weight.shape, 1 / o.r, seeds)); // peft: std = 1/r
  if (o.init === false) {
    // peft leaves B at nn.Linear/Conv2d's default init (U(±1/√fan_in), fan_in = rank) so the adapter is not identity.
    const fanIn = b.weight.shape.slice(0, -1).reduce((x, y) => x * y, 1);
    replace(b.weight, uniform(b.weight.shape, 1 / Math.sqrt(fanIn), seeds));
    if (mask) replace(b.weight, tf.mul(b.weight.variable, mask));
  } else {
    replace(b.weight, tf.zeros(b.weight.shape));
  }
}

function replace(p: Parameter, t: tf.Tensor): void {
  p.assign(t);
  t.dispose();
}

function nonFiniteMerge(where: string): CheckpointError {
  return new CheckpointError("Merging the adapter would put NaN or Inf into the base weight", {
    where,
    expected: "finite lora_A / lora_B weights",
    got: "a non-finite merged weight",
    fix: "the adapter is broken (diverged training?); retrain it or load a good checkpoint",
  });
}
