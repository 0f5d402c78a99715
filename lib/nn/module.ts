/**
 * A small PyTorch-like Module tree on tfjs-core: parameters and buffers at dotted paths, named submodules,
 * train/eval, freezing by name or pattern, parameter counts, and state dicts in PyTorch names and layout.
 *
 * Why not tfjs-layers: LoRA injection, freezing by name, gradual unfreezing and peft-compatible keys all need named
 * submodules at dotted paths whose parameters can be swapped or wrapped (shared/DESIGN.md, decision 1).
 */
import * as tf from "@tensorflow/tfjs";
import { CheckpointError, ConfigError } from "../errors";
import { type HostTensor, type StateDict, fromTensor, fromTensorSync, sizeOf, toTensor } from "../io/host_tensor";
import { type ParamLayout, tfToTorch, torchShapeOf, torchToTf } from "./layout";

/** A trainable (or frozen) tensor with the layout tag that maps it to and from PyTorch's layout. */
export class Parameter {
  constructor(
    public variable: tf.Variable,
    readonly layout: ParamLayout = "none",
  ) {}
  get trainable(): boolean {
    return this.variable.trainable;
  }
  set trainable(v: boolean) {
    this.variable.trainable = v;
  }
  get shape(): number[] {
    return [...this.variable.shape];
  }
  get numel(): number {
    return sizeOf(this.variable.shape);
  }
  /** Replaces the value in place (keeps the same variable, so optimizers' references stay valid). */
  assign(t: tf.Tensor): void {
    this.variable.assign(t);
  }
}

/** A non-trainable state tensor (running stats), saved in the state dict unless non-persistent. */
export interface Buffer {
  variable: tf.Variable;
  /** On-disk dtype when it differs from the tfjs one (torch's num_batches_tracked is int64). */
  torchDtype?: "int64";
  persistent: boolean;
}

/** Name matcher: exact name, dotted prefix (`blocks.3` matches `blocks.3.attn.qkv.weight`), `*` glob, RegExp, or predicate. */
export type NamePattern = string | RegExp | ((name: string) => boolean);

/** Compiles a NamePattern to a predicate. */
export function matchName(pattern: NamePattern): (name: string) => boolean {
  if (typeof pattern === "function") return pattern;
  if (pattern instanceof RegExp) return (n) => pattern.test(n);
  if (pattern.includes("*")) {
    const re = new RegExp("^" + pattern.split("*").map(escapeRe).join(".*") + "($|\\.)");
    return (n) => re.test(n);
  }
  return (n) => n === pattern || n.startsWith(pattern + ".");
}

function escapeRe(s: string): string {
  return s.replace(/[.+?^${}()|[\]\\]/g, "\\$&");
}

/** Result of a non-strict loadStateDict. */
export interface LoadResult {
  missingKeys: string[];
  unexpectedKeys: string[];
}

/** Base class of every layer and model. Subclasses register children, parameters and buffers in the constructor. */
export abstract class Module {
  training = true;
  private readonly _params = new Map<string, Parameter>();
  private readonly _buffers = new Map<string, Buffer>();
  private readonly _children = new Map<string, Module>();

  /** The computation, on NHWC images or [B, T, D] tokens. */
  abstract forward(x: tf.Tensor): tf.Tensor;

  /** Calls forward (kept separate so wrappers can intercept). */
  apply(x: tf.Tensor): tf.Tensor {
    return this.forward(x);
  }

  /** A short class name for messages (like PyTorch's `Error(s) in loading state_dict for ViT`). */
  get typeName(): string {
    return this.constructor.name;
  }

  protected registerParameter(
    name: string,
    init: tf.Tensor,
    layout: ParamLayout = "none",
    trainable = true,
  ): Parameter {
    const p = new Parameter(tf.variable(init, trainable), layout);
    init.dispose();
    this._params.set(name, p);
    return p;
  }

  protected registerBuffer(name: string, init: tf.Tensor, opts: { torchDtype?: "int64"; persistent?: boolean } = {}) {
    const v = tf.variable(init, false);
    init.dispose();
    this._buffers.set(name, { variable: v, torchDtype: opts.torchDtype, persistent: opts.persistent ?? true });
    return v;
  }

  protected registerModule<M extends Module>(name: string, m: M): M {
    this._children.set(name, m);
    return m;
  }

  /** Direct children in registration order. */
  children(): [string, Module][] {
    return [...this._children];
  }

  /** All modules, this one first (name ""), in depth-first registration order. */
  namedModules(prefix = ""): [string, Module][] {
    const out: [string, Module][] = [[prefix, this]];
    for (const [n, c] of this._children) out.push(...c.namedModules(join(prefix, n)));
    return out;
  }

  /** All parameters at dotted paths, in registration order. */
  namedParameters(prefix = ""): [string, Parameter][] {
    const out: [string, Parameter][] = [];
    for (const [n, p] of this._params) out.push([join(prefix, n), p]);
    for (const [n, c] of this._children) out.push(...c.namedParameters(join(prefix, n)));
    return out;
  }

  /** All buffers at dotted paths. */
  namedBuffers(prefix = ""): [string, Buffer][] {
    const out: [string, Buffer][] = [];
    for (const [n, b] of this._buffers) out.push([join(prefix, n), b]);
    for (const [n, c] of this._children) out.push(...c.namedBuffers(join(prefix, n)));
    return out;
  }

  /** This module's own parameters (not its children's). */
  ownParameters(): [string, Parameter][] {
    return [...this._params];
  }

  /** The trainable variables, for optimizers and tf.variableGrads. */
  trainableVariables(): tf.Variable[] {
    return this.namedParameters()
      .filter(([, p]) => p.trainable)
      .map(([, p]) => p.variable);
  }

  /** The submodule at a dotted path ("" is this module). */
  getSubmodule(path: string): Module {
    if (path === "") return this;
    return path.split(".").reduce<Module>((m, part) => m.child(part, path), this);
  }

  private child(part: string, path: string): Module {
    const c = this._children.get(part);
    if (!c) {
      throw new ConfigError("No submodule at this path", {
        where: path,
        expected: `one of ${[...this._children.keys()].join(", ") || "(no children)"} under "${part}"'s parent`,
        got: part,
        fix: "list paths with model.namedModules()",
      });
    }
    return c;
  }

  /** Replaces the submodule at `path` (used by adapters); fields of the parent that pointed at the old one follow. */
  setSubmodule(path: string, m: Module): Module {
    const dot = path.lastIndexOf(".");
    const parent = dot < 0 ? this : this.getSubmodule(path.slice(0, dot));
    const name = dot < 0 ? path : path.slice(dot + 1);
    const old = parent.getSubmodule(name);
    parent._children.set(name, m);
    const fields = parent as unknown as Record<string, unknown>;
    for (const k of Object.keys(fields)) {
      if (fields[k] === old) fields[k] = m;
      else if (Array.isArray(fields[k])) {
        const arr = fields[k] as unknown[];
        for (let i = 0; i < arr.length; i++) if (arr[i] === old) arr[i] = m;
      }
    }
    return old;
  }

  /** Sets training mode recursively (dropout active, batch norm uses batch stats). */
  train(mode = true): this {
    for (const [, m] of this.namedModules()) m.training = mode;
    return this;
  }

  /** Sets evaluation mode recursively. */
  eval(): this {
    return this.train(false);
  }

  /** Freezes parameters whose names match (all when omitted). Returns the names affected. */
  freeze(pattern?: NamePattern): string[] {
    return this.setTrainable(false, pattern);
  }

  /** Unfreezes parameters whose names match (all when omitted). Returns the names affected. */
  unfreeze(pattern?: NamePattern): string[] {
    return this.setTrainable(true, pattern);
  }

  private setTrainable(flag: boolean, pattern?: NamePattern): string[] {
    const match = pattern === undefined ? () => true : matchName(pattern);
    const hit: string[] = [];
    for (const [n, p] of this.namedParameters()) {
      if (match(n)) {
        p.trainable = flag;
        hit.push(n);
      }
    }
    if (pattern !== undefined && hit.length === 0) {
      throw new ConfigError(`${flag ? "unfreeze" : "freeze"} pattern matched no parameter`, {
        where: String(pattern),
        expected: "a name, dotted prefix, glob or RegExp matching at least one parameter",
        got: "0 matches",
        fix: `parameters look like ${sampleNames(this.namedParameters().map(([n]) => n))}`,
      });
    }
    return hit;
  }

  /** Number of parameter elements, all or trainable only. */
  numParameters(opts: { trainableOnly?: boolean } = {}): number {
    return this.namedParameters()
      .filter(([, p]) => !opts.trainableOnly || p.trainable)
      .reduce((a, [, p]) => a + p.numel, 0);
  }

  /**
   * State dict in PyTorch names and layout (parameters and persistent buffers), read synchronously: cpu, wasm and
   * tfjs-node only. Paths that can run on webgpu use `stateDictAsync()`.
   */
  stateDict(): StateDict {
    return this.assembleStateDict(this.stateTensors().map(fromTensorSync));
  }

  /** The state dict, read asynchronously: works on every backend, webgpu included. */
  async stateDictAsync(): Promise<StateDict> {
    return this.assembleStateDict(await Promise.all(this.stateTensors().map(fromTensor)));
  }

  private stateTensors(): tf.Variable[] {
    const ps = this.namedParameters().map(([, p]) => p.variable);
    return [...ps, ...this.namedBuffers().flatMap(([, b]) => (b.persistent ? [b.variable] : []))];
  }

  private assembleStateDict(hosts: HostTensor[]): StateDict {
    const sd: StateDict = new Map();
    let i = 0;
    for (const [n, p] of this.namedParameters()) sd.set(n, tfToTorch(hosts[i++], p.layout, n));
    for (const [n, b] of this.namedBuffers()) {
      if (!b.persistent) continue;
      const h = hosts[i++];
      sd.set(n, b.torchDtype === "int64" ? toInt64(h) : h);
    }
    return sd;
  }

  /**
   * Loads a state dict in PyTorch names and layout. Shape mismatches always fail; missing and unexpected keys fail
   * when strict (the default), and are returned otherwise. Messages use PyTorch's wording. `keepCurrent` names keys
   * that keep their current value without counting as missing (a freshly initialised head), so nothing is read back.
   */
  loadStateDict(sd: StateDict, opts: { strict?: boolean; keepCurrent?: (key: string) => boolean } = {}): LoadResult {
    const strict = opts.strict ?? true;
    const targets = new Map<string, { v: tf.Variable; layout: ParamLayout }>();
    for (const [n, p] of this.namedParameters()) targets.set(n, { v: p.variable, layout: p.layout });
    for (const [n, b] of this.namedBuffers()) if (b.persistent) targets.set(n, { v: b.variable, layout: "none" });
    const missing = [...targets.keys()].filter((k) => !sd.has(k) && !opts.keepCurrent?.(k));
    const unexpected = [...sd.keys()].filter((k) => !targets.has(k));
    const mismatches: string[] = [];
    for (const [k, t] of targets) {
      const h = sd.get(k);
      if (!h) continue;
      const want = torchShapeOf(t.v.shape, t.layout);
      if (!sameShape(h.shape, want)) {
        mismatches.push(
          `size mismatch for ${k}: copying a param with shape torch.Size([${h.shape.join(", ")}]) from checkpoint, ` +
            `the shape in current model is torch.Size([${want.join(", ")}]).`,
        );
      }
    }
    const problems: string[] = [];
    if (strict && missing.length) problems.push(`Missing key(s) in state_dict: ${quoteList(missing)}.`);
    if (strict && unexpected.length) problems.push(`Unexpected key(s) in state_dict: ${quoteList(unexpected)}.`);
    problems.push(...mismatches);
    if (problems.length) {
      throw new CheckpointError(`Error(s) in loading state_dict for ${this.typeName}:\n\t${problems.join("\n\t")}\n`, {
        where: `${this.typeName}.loadStateDict`,
        expected: `${targets.size} keys matching the model`,
        got: `${sd.size} keys (${missing.length} missing, ${unexpected.length} unexpected, ${mismatches.length} size mismatches)`,
        fix: "convert the checkpoint's names first (lib/models/convert) or pass { strict: false } to load a subset",
      });
    }
    for (const [k, t] of targets) {
      const h = sd.get(k);
      if (!h) continue;
      const value = tf.tidy(() => {
        const x = toTensor(torchToTf(h, t.layout, k), k);
        return x.dtype === t.v.dtype ? x : x.cast(t.v.dtype);
      });
      t.v.assign(value);
      value.dispose();
    }
    return { missingKeys: missing, unexpectedKeys: unexpected };
  }

  /** Frees every variable of this module tree. */
  dispose(): void {
    for (const [, p] of this.namedParameters()) p.variable.dispose();
    for (const [, b] of this.namedBuffers()) b.variable.dispose();
  }
}

function join(prefix: string, name: string): string {
  return prefix === "" ? name : `${prefix}.${name}`;
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

function quoteList(keys: string[]): string {
  return keys.map((k) => `"${k}"`).join(", ");
}

function toInt64(h: HostTensor): HostTensor {
  const out = new BigInt64Array(h.data.length);
  for (let i = 0; i < out.length; i++) out[i] = BigInt(Math.round(Number(h.data[i])));
  return { dtype: "int64", shape: h.shape, data: out };
}

/** A few example names for error messages, with numeric indices collapsed to N. */
export function sampleNames(names: string[], max = 8): string {
  const uniq = [...new Set(names.map((n) => n.replace(/\.\d+\./g, ".N.")))];
  return uniq.slice(0, max).join(", ") + (uniq.length > max ? `, … (${uniq.length} patterns)` : "");
}
