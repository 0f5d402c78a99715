/**
 * LoRA injection (peft's tuners/lora/model.py + PeftModel): find the target modules by peft's matching rules, wrap
 * them in place via Module.setSubmodule, freeze everything else, keep modules_to_save trainable, and expose
 * merge / unmerge / disable, parameter counts in peft's format, and the merged state dict (merge_and_unload()).
 *
 * modules_to_save: peft wraps each in a ModulesToSaveWrapper holding the frozen original and a trainable copy. Here
 * the module itself stays in place (so its parameter names do not change) and is trained, and a frozen copy of its
 * original values is kept beside it; disableAdapters() swaps the original values in, enableAdapters() swaps back.
 */
import * as tf from "@tensorflow/tfjs";
import { ConfigError } from "../../errors";
import type { StateDict } from "../../io/host_tensor";
import { Conv2d, Linear } from "../../nn/layers";
import { type Module, type Parameter } from "../../nn/module";
import {
  describeModules,
  entryMatches,
  getPatternKey,
  loraConfig,
  loraScaling,
  matchTarget,
  pyRepr,
  rankAndAlpha,
  type LoraOptions,
} from "./config";
import { type LoraLayer, makeLoraLayer } from "./layer";

/** A module trained fully and saved whole, with a frozen copy of its original values. */
export interface SavedModule {
  path: string;
  module: Module;
  /** Original values by parameter name relative to the module (tfjs layout). */
  original: Map<string, tf.Tensor>;
}

/** A model with LoRA injected. The model object itself is modified in place; `model` is it. */
export class LoraModel<M extends Module = Module> {
  private swapped = false;
  constructor(
    readonly model: M,
    readonly config: LoraOptions,
    /** LoRA layers by module path, in model order. */
    readonly layers: Map<string, LoraLayer>,
    readonly savedModules: SavedModule[],
  ) {}

  /** Runs the wrapped model. */
  forward(x: tf.Tensor): tf.Tensor {
    return this.model.apply(x);
  }

  /** Merges every LoRA delta into its base weight. */
  merge(): void {
    for (const l of this.layers.values()) l.merge();
  }

  /** Merges, refusing NaN/Inf: every layer is checked before any weight is written. */
  safeMerge(): void {
    for (const [p, l] of this.layers) if (!l.merged) l.checkMergeFinite(p);
    this.merge();
  }

  /** safeMerge with asynchronous checks (works on webgpu, where synchronous reads fail). */
  async safeMergeAsync(): Promise<void> {
    for (const [p, l] of this.layers) if (!l.merged) await l.checkMergeFiniteAsync(p);
    this.merge();
  }

  /** Subtracts every merged delta again. */
  unmerge(): void {
    for (const l of this.layers.values()) l.unmerge();
  }

  /** The base model's function: LoRA branches off (unmerged first) and modules_to_save at their original values. */
  disableAdapters(): void {
    for (const l of this.layers.values()) l.disableAdapters();
    if (!this.swapped) this.swapSaved();
  }

  /** Undoes disableAdapters. */
  enableAdapters(): void {
    for (const l of this.layers.values()) l.enableAdapters();
    if (this.swapped) this.swapSaved();
  }

  private swapSaved(): void {
    for (const s of this.savedModules) {
      for (const [n, p] of s.module.namedParameters()) {
        const orig = s.original.get(n)!;
        const cur = p.variable.clone();
        p.assign(orig);
        orig.dispose();
        s.original.set(n, cur);
      }
    }
    this.swapped = !this.swapped;
  }

  /** (trainable, all) parameter counts as peft's get_nb_trainable_parameters counts them (modules_to_save twice). */
  trainableParameterCounts(): { trainable: number; all: number } {
    let trainable = 0;
    let all = 0;
    for (const [, p] of this.model.namedParameters()) {
      all += p.numel;
      if (p.trainable) trainable += p.numel;
    }
    for (const s of this.savedModules) for (const t of s.original.values()) all += t.size;
    return { trainable, all };
  }

  /** peft's print_trainable_parameters line; printed via `log` and returned. */
  printTrainableParameters(log: (s: string) => void = console.log): string {
    const { trainable, all } = this.trainableParameterCounts();
    const s = formatTrainable(trainable, all);
    log(s);
    return s;
  }

  /** The full model's state dict with every delta merged and LoRA keys dropped (merge_and_unload() + state_dict()). */
  async mergedStateDict(): Promise<StateDict> {
    const wasMerged = [...this.layers.values()].map((l) => l.merged);
    const enabled = [...this.layers.values()].map((l) => l.adaptersEnabled);
    for (const l of this.layers.values()) if (l.adaptersEnabled) l.merge();
    try {
      const sd = await this.model.stateDictAsync();
      for (const path of this.layers.keys()) {
        sd.delete(`${path}.lora_A.weight`);
        sd.delete(`${path}.lora_B.weight`);
      }
      return sd;
    } finally {
      [...this.layers.values()].forEach((l, i) => {
        if (enabled[i] && !wasMerged[i]) l.unmerge();
      });
    }
  }

  /** Loads base weights (PyTorch names) into the wrapped model, ignoring the LoRA keys it lacks; refreshes originals. */
  loadBaseStateDict(sd: StateDict): void {
    const res = this.model.loadStateDict(sd, { strict: false });
    const missing = res.missingKeys.filter((k) => !/\.lora_[AB]\.weight$/.test(k));
    if (missing.length || res.unexpectedKeys.length) {
      throw new ConfigError("Base checkpoint does not match the model", {
        where: `${this.model.typeName}.loadBaseStateDict`,
        expected: "every base parameter, no extra keys",
        got: `missing ${missing.slice(0, 5).join(", ") || "none"}; unexpected ${res.unexpectedKeys.slice(0, 5).join(", ") || "none"}`,
        fix: "convert the checkpoint's names first (lib/models/convert)",
      });
    }
    for (const s of this.savedModules) {
      for (const t of s.original.values()) t.dispose();
      s.original = snapshot(s.module);
    }
  }
}

/** peft's format: `trainable params: 1,234 || all params: 5,678 || trainable%: 21.7328`. */
export function formatTrainable(trainable: number, all: number): string {
  const pct = all === 0 ? 0 : (100 * trainable) / all;
  return `trainable params: ${commas(trainable)} || all params: ${commas(all)} || trainable%: ${pct.toFixed(4)}`;
}

function commas(n: number): string {
  return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}

function snapshot(m: Module): Map<string, tf.Tensor> {
  return new Map(m.namedParameters().map(([n, p]) => [n, p.variable.clone()]));
}

/** Which modules a config targets in a model, and the modules_to_save paths, with zero-match checks. */
export function resolveTargets(model: Module, o: LoraOptions): { targets: string[]; saved: string[] } {
  const names = model
    .namedModules()
    .map(([n]) => n)
    .filter((n) => n !== "");
  const targets: string[] = [];
  const saved: string[] = [];
  for (const n of names) {
    const m = matchTarget(o, n);
    if (m === "target") targets.push(n);
  }
  for (const entry of o.modulesToSave ?? []) {
    const hits = names.filter((n) => entryMatches(entry, n));
    if (hits.length === 0) throw zeroMatch("modules_to_save", [entry], model, names);
    // peft wraps the outermost match; nested children of a wrapped module are part of it.
    for (const h of hits) if (!saved.some((s) => h.startsWith(`${s}.`))) saved.push(h);
  }
  if (targets.length === 0) throw zeroMatch("target_modules", o.targetModules, model, names, o);
  if (Array.isArray(o.targetModules)) {
    for (const e of o.targetModules) {
      if (!names.some((n) => entryMatches(e, n))) throw zeroMatch("target_modules", [e], model, names);
    }
  }
  for (const [field, pat] of [
    ["rank_pattern", o.rankPattern],
    ["alpha_pattern", o.alphaPattern],
  ] as const) {
    for (const k of Object.keys(pat)) {
      if (!targets.some((t) => getPatternKey([k], t) !== undefined)) {
        throw new ConfigError(`${field} key matches no targeted module`, {
          where: `${field}.${k}`,
          expected: `a pattern matching one of ${describeModules(targets)}`,
          got: JSON.stringify(k),
          fix: "keys match a module name's suffix after a dot (peft's get_pattern_key)",
        });
      }
    }
  }
  return { targets, saved };
}

function zeroMatch(
  field: string,
  pat: string[] | string,
  model: Module,
  names: string[],
  o?: LoraOptions,
): ConfigError {
  const leaves = model.namedModules().filter(([, m]) => m instanceof Linear || m instanceof Conv2d);
  const lin = leaves.filter(([, m]) => m instanceof Linear).map(([n]) => n);
  const conv = leaves.filter(([, m]) => m instanceof Conv2d).map(([n]) => n);
  const kinds = [
    lin.length ? `Linear modules are ${describeModules(lin)}` : "",
    conv.length ? `Conv2d modules are ${describeModules(conv)}` : "",
  ].filter((s) => s !== "");
  let fix = "use names from the list above (a list entry matches a whole name or a suffix after a dot)";
  if (o && o.layersToTransform !== null) {
    fix +=
      "; note peft's layers_to_transform regex needs a dot before the layer pattern (`.*?\\.blocks\\.N\\.`), so " +
      "top-level `blocks.N` of a timm ViT never match in peft either: write target_modules as a regex instead, " +
      "e.g. 'blocks\\.(0|1)\\.attn\\.qkv'";
  }
  return new ConfigError(`${field} ${pyRepr(pat)} matched 0 of ${names.length} modules; ${kinds.join("; ")}`, {
    where: field,
    expected: "at least one matching module",
    got: "0 matches",
    fix,
  });
}

/**
 * Injects LoRA into `model` in place (peft's get_peft_model / inject_adapter_in_model) and returns the LoraModel.
 * Everything is frozen except the LoRA A/B weights and modules_to_save.
 */
export function getPeftModel<M extends Module>(
  model: M,
  options: LoraOptions | (Partial<LoraOptions> & { targetModules: string[] | string }),
): LoraModel<M> {
  const o = loraConfig(options);
  const { targets, saved } = resolveTargets(model, o);
  model.freeze();
  const layers = new Map<string, LoraLayer>();
  const qkvName = o.qkvParts?.moduleName ?? "qkv";
  targets.forEach((path, i) => {
    const { r, alpha } = rankAndAlpha(o, path);
    const isQkv = o.qkvParts !== null && path.split(".").pop() === qkvName;
    const layer = makeLoraLayer(
      model.getSubmodule(path),
      {
        r,
        scaling: loraScaling(alpha, r, o.useRslora),
        dropout: o.loraDropout,
        init: o.initLoraWeights,
        seed: o.seed * 7919 + i,
        qkvParts: isQkv ? o.qkvParts!.parts : undefined,
      },
      path,
    );
    model.setSubmodule(path, layer);
    layers.set(path, layer);
  });
  if (o.qkvParts !== null && ![...layers.values()].some((l) => l.qkvParts)) {
    throw new ConfigError("qkvParts is set but no targeted module is a fused qkv Linear", {
      where: "qkvParts.moduleName",
      expected: `a targeted module whose last name segment is "${qkvName}"`,
      got: describeModules(targets),
      fix: `add "${qkvName}" to target_modules`,
    });
  }
  for (const l of layers.values()) {
    l.loraA.weight.trainable = true;
    l.loraB.weight.trainable = true;
  }
  const savedModules: SavedModule[] = saved.map((path) => {
    const module = model.getSubmodule(path);
    module.unfreeze();
    return { path, module, original: snapshot(module) };
  });
  return new LoraModel(model, o, layers, savedModules);
}

/** Alias of getPeftModel under peft's functional name. */
export const injectLora = getPeftModel;

/** The LoRA A/B parameters of a LoraModel, by name. */
export function loraParameters(lm: LoraModel): [string, Parameter][] {
  return [...lm.layers].flatMap(([p, l]) => [
    [`${p}.lora_A.weight`, l.loraA.weight] as [string, Parameter],
    [`${p}.lora_B.weight`, l.loraB.weight] as [string, Parameter],
  ]);
}
