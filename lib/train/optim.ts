/**
 * Optimisers with PyTorch's exact update rules (SGD with momentum/nesterov, Adam, AdamW with decoupled weight decay)
 * over parameter groups, so strategies can set per-group learning rates and multipliers. State is serialisable for
 * checkpoints.
 */
import * as tf from "@tensorflow/tfjs";
import { ConfigError } from "../errors";
import type { HostTensor } from "../io/host_tensor";
import { fromTensor, fromTensorSync, toTensor } from "../io/host_tensor";
import type { Module, Parameter } from "../nn/module";

/** A parameter group: named parameters sharing hyperparameters. `lr` is the base lr; schedules scale it. */
export interface ParamGroup {
  name: string;
  params: [string, Parameter][];
  lr: number;
  weightDecay: number;
  /** Multiplier applied to the scheduled lr (LLRD's lr_scale, discriminative lrs). Default 1. */
  lrScale?: number;
}

export type OptimizerName = "sgd" | "adam" | "adamw";

/** Optimiser hyperparameters (PyTorch defaults noted per field). */
export interface OptimizerOptions {
  name: OptimizerName;
  /** Base learning rate. */
  lr: number;
  /** AdamW default 0.01 (PyTorch), Adam/SGD default 0 (coupled L2). */
  weightDecay?: number;
  /** SGD momentum, default 0. */
  momentum?: number;
  /** SGD dampening, default 0. */
  dampening?: number;
  nesterov?: boolean;
  /** Adam(W) betas, default [0.9, 0.999]. */
  betas?: [number, number];
  /** Adam(W) eps, default 1e-8. */
  eps?: number;
  /** Exempt biases, norms, tokens and position embeddings (rank ≤ 1 or timm's no-weight-decay names) from decay. */
  noDecayNormsAndBiases?: boolean;
}

/** Serializable optimiser state: step count, per-parameter buffers by parameter name, and current group lrs. */
export interface OptimizerState {
  step: number;
  buffers: Record<string, Record<string, HostTensor>>;
  groupLrs: number[];
  beta1?: number;
}

/** timm's convention: no weight decay for 1-d params (biases, norms) and tokens/position embeddings. */
export function isNoDecay(name: string, p: Parameter): boolean {
  return p.shape.length <= 1 || /(^|\.)(cls_token|reg_token|pos_embed|dist_token|mask_token)$/.test(name);
}

/** The weight decay a run uses when none is given: AdamW's 0.01 (torch.optim.AdamW's default), otherwise 0. */
export function resolvedWeightDecay(opts: OptimizerOptions): number {
  return opts.weightDecay ?? (opts.name === "adamw" ? 0.01 : 0);
}

/** Default groups: trainable params, split into decay / no-decay when requested. */
export function defaultParamGroups(model: Module, opts: OptimizerOptions): ParamGroup[] {
  const wd = resolvedWeightDecay(opts);
  const trainable = model.namedParameters().filter(([, p]) => p.trainable);
  if (!opts.noDecayNormsAndBiases) return [{ name: "all", params: trainable, lr: opts.lr, weightDecay: wd }];
  return [
    { name: "decay", params: trainable.filter(([n, p]) => !isNoDecay(n, p)), lr: opts.lr, weightDecay: wd },
    { name: "no_decay", params: trainable.filter(([n, p]) => isNoDecay(n, p)), lr: opts.lr, weightDecay: 0 },
  ].filter((g) => g.params.length > 0);
}

/** An optimiser over parameter groups with PyTorch semantics. */
export class Optimizer {
  step = 0;
  /** The lr each group uses at the next update (set by schedules; starts at the group's base lr). */
  readonly groupLrs: number[];
  /** Adam's β1 at the next update (OneCycle cycles it as PyTorch does with cycle_momentum). */
  beta1: number;
  private readonly state = new Map<string, Map<string, tf.Variable>>();

  constructor(
    readonly groups: ParamGroup[],
    readonly opts: OptimizerOptions,
  ) {
    validateOptions(opts);
    this.groupLrs = groups.map((g) => g.lr);
    this.beta1 = opts.betas?.[0] ?? 0.9;
    const seen = new Set<string>();
    for (const g of groups)
      for (const [n] of g.params) {
        if (seen.has(n)) {
          throw new ConfigError("A parameter appears in two optimiser groups", {
            where: n,
            expected: "each parameter in exactly one group",
            got: "duplicate",
          });
        }
        seen.add(n);
      }
  }

  /** Applies one update from gradients keyed by parameter name. Multipliers (Auto-RGN) scale per-parameter lr. */
  apply(grads: Map<string, tf.Tensor>, multipliers?: Map<string, number>): void {
    this.step += 1;
    const t = this.step;
    const o = this.opts;
    tf.tidy(() => {
      this.groups.forEach((g, gi) => {
        const baseLr = this.groupLrs[gi] * (g.lrScale ?? 1);
        for (const [name, p] of g.params) {
          const grad = grads.get(name);
          if (!grad || !p.trainable) continue;
          const lr = baseLr * (multipliers?.get(name) ?? 1);
          const theta = p.variable;
          if (o.name === "sgd") this.sgd(name, theta, grad, lr, g.weightDecay);
          else this.adam(name, theta, grad, lr, g.weightDecay, t);
        }
      });
    });
  }

  private sgd(name: string, theta: tf.Variable, grad: tf.Tensor, lr: number, wd: number): void {
    const mom = this.opts.momentum ?? 0;
    const damp = this.opts.dampening ?? 0;
    let g = wd !== 0 ? tf.add(grad, tf.mul(theta, wd)) : grad;
    if (mom !== 0) {
      const buf = this.buffer(name, "momentum_buffer", theta);
      // First step: buf = g (PyTorch), afterwards buf = μ·buf + (1−dampening)·g.
      const next = !this.hadMomentum.has(name) ? g : tf.add(tf.mul(buf, mom), tf.mul(g, 1 - damp));
      buf.assign(next);
      this.hadMomentum.add(name);
      g = this.opts.nesterov ? tf.add(g, tf.mul(buf, mom)) : buf;
    }
    theta.assign(tf.sub(theta, tf.mul(g, lr)));
  }
  private readonly hadMomentum = new Set<string>();

  private adam(name: string, theta: tf.Variable, grad: tf.Tensor, lr: number, wd: number, t: number): void {
    const b1 = this.beta1;
    const b2 = this.opts.betas?.[1] ?? 0.999;
    const eps = this.opts.eps ?? 1e-8;
    let g = grad;
    if (this.opts.name === "adamw") {
      if (wd !== 0) theta.assign(tf.mul(theta, 1 - lr * wd)); // decoupled decay
    } else if (wd !== 0) {
      g = tf.add(g, tf.mul(theta, wd)); // Adam: L2 added to the gradient
    }
    const m = this.buffer(name, "exp_avg", theta);
    const v = this.buffer(name, "exp_avg_sq", theta);
    const stepKey = this.stepOf(name);
    m.assign(tf.add(tf.mul(m, b1), tf.mul(g, 1 - b1)));
    v.assign(tf.add(tf.mul(v, b2), tf.mul(tf.square(g), 1 - b2)));
    const ts = stepKey ?? t;
    const bc1 = 1 - Math.pow(b1, ts);
    const bc2 = 1 - Math.pow(b2, ts);
    // PyTorch: θ −= (lr/bc1) · m / (√v/√bc2 + eps)
    const denom = tf.add(tf.div(tf.sqrt(v), Math.sqrt(bc2)), eps);
    theta.assign(tf.sub(theta, tf.mul(tf.div(m, denom), lr / bc1)));
  }

  /** Per-parameter step counts (a parameter unfrozen later starts its own bias correction, as in PyTorch). */
  private readonly paramSteps = new Map<string, number>();
  private stepOf(name: string): number {
    const s = (this.paramSteps.get(name) ?? 0) + 1;
    this.paramSteps.set(name, s);
    return s;
  }

  private buffer(name: string, key: string, like: tf.Tensor): tf.Variable {
    let s = this.state.get(name);
    if (!s) this.state.set(name, (s = new Map()));
    let b = s.get(key);
    if (!b) {
      b = tf.variable(tf.zerosLike(like), false);
      s.set(key, b);
    }
    return b;
  }

  /** Serialises the state for a checkpoint, reading synchronously (cpu/wasm/node; webgpu: `getStateAsync`). */
  getState(): OptimizerState {
    return this.assembleState((v) => fromTensorSync(v));
  }

  /** Serialises the state for a checkpoint, reading asynchronously: every backend, webgpu included. */
  async getStateAsync(): Promise<OptimizerState> {
    const host = new Map<tf.Tensor, HostTensor>();
    for (const s of this.state.values()) for (const v of s.values()) host.set(v, await fromTensor(v));
    return this.assembleState((v) => host.get(v)!);
  }

  private assembleState(read: (v: tf.Tensor) => HostTensor): OptimizerState {
    const buffers: Record<string, Record<string, HostTensor>> = {};
    for (const [n, s] of this.state) {
      buffers[n] = {};
      for (const [k, v] of s) buffers[n][k] = read(v);
      buffers[n]["step"] = {
        dtype: "float32",
        shape: [],
        data: Float32Array.of(this.paramSteps.get(n) ?? 0),
      };
    }
    return { step: this.step, buffers, groupLrs: [...this.groupLrs], beta1: this.beta1 };
  }

  /** Restores state saved by getState (buffers are matched by parameter name). */
  setState(st: OptimizerState): void {
    this.dispose();
    this.step = st.step;
    st.groupLrs.forEach((lr, i) => (this.groupLrs[i] = lr));
    if (st.beta1 !== undefined) this.beta1 = st.beta1;
    for (const [n, bufs] of Object.entries(st.buffers)) {
      const s = new Map<string, tf.Variable>();
      for (const [k, h] of Object.entries(bufs)) {
        if (k === "step") {
          this.paramSteps.set(n, Number(h.data[0]));
          continue;
        }
        s.set(k, tf.variable(toTensor(h, `${n}.${k}`), false));
        if (k === "momentum_buffer") this.hadMomentum.add(n);
      }
      this.state.set(n, s);
    }
  }

  /** Frees optimiser buffers. */
  dispose(): void {
    for (const s of this.state.values()) for (const v of s.values()) v.dispose();
    this.state.clear();
    this.paramSteps.clear();
    this.hadMomentum.clear();
  }
}

function validateOptions(o: OptimizerOptions): void {
  if (!["sgd", "adam", "adamw"].includes(o.name)) {
    throw new ConfigError("Unknown optimizer", {
      where: "optimizer.name",
      expected: "sgd, adam or adamw",
      got: String(o.name),
    });
  }
  if (!(o.lr > 0) || !Number.isFinite(o.lr)) {
    throw new ConfigError("Learning rate must be a positive number", {
      where: "optimizer.lr",
      expected: "> 0",
      got: String(o.lr),
    });
  }
  if (o.nesterov && !((o.momentum ?? 0) > 0 && (o.dampening ?? 0) === 0)) {
    throw new ConfigError("Nesterov momentum requires a momentum and zero dampening", {
      where: "optimizer.nesterov",
      expected: "momentum > 0 and dampening = 0",
      got: `momentum=${o.momentum ?? 0}, dampening=${o.dampening ?? 0}`,
    });
  }
}
