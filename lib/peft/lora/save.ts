/**
 * Adapters in peft's on-disk format: `adapter_config.json` (only the keys peft ≥ 0.10 understands) and
 * `adapter_model.safetensors` with `base_model.model.<module path>.lora_A.weight` ([r, in] or [r, in, kh, kw]),
 * `.lora_B.weight` ([out, r] or [out, r, 1, 1]) and modules_to_save tensors as `base_model.model.<path>.<name>`.
 *
 * Save and load are symmetric by construction: both go through `adapterKey` (the one key mapping) and
 * `expectedAdapterEntries` (the keys and torch shapes a LoraModel has), and layouts are converted only by
 * lib/nn/layout.ts (through Module.stateDict / loadStateDict). Files are written deterministically and atomically,
 * so save → load → save is byte-identical.
 *
 * peftlab-only facts go into the safetensors `__metadata__` (peft ignores it; its config loader rejects unknown keys):
 * - `peftlab.python_peft_loadable`: "true" for every adapter written here (see below);
 * - `peftlab.qkv_parts`: for q/v-only LoRA on a fused qkv, {parts, r, modules}. The file holds an ordinary rank-n·r
 *   LoRA on qkv whose B is zero outside each part's rows, with rank_pattern / alpha_pattern entries for those modules,
 *   so Python peft loads it and computes the same outputs (training it further in peft would fill the zero blocks);
 * - `peftlab.exclude_modules`: exclude_modules is not a peft ≥0.10 key, so target_modules is written as the explicit
 *   list of matched modules and the original exclusion is kept here.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { CheckpointError, ConfigError } from "../../errors";
import { writeFileAtomic } from "../../io/atomic";
import { readTextFile } from "../../io/file_read";
import { type HostTensor, type StateDict, syncReadsWork } from "../../io/host_tensor";
import { readSafetensors, writeSafetensors } from "../../io/safetensors";
import { torchShapeOf } from "../../nn/layout";
import type { Module } from "../../nn/module";
import type { LoraLayer } from "./layer";
import { alphaForScaling, type LoraOptions, type QkvPart } from "./config";
import { configFromJson, configToJson, type LoraConfigJson } from "./config_json";
import { getPeftModel, type LoraModel } from "./model";

/** peft's prefix for adapter keys; without it peft silently loads a no-op adapter. */
export const ADAPTER_PREFIX = "base_model.model.";
export const ADAPTER_CONFIG_NAME = "adapter_config.json";
export const ADAPTER_WEIGHTS_NAME = "adapter_model.safetensors";

/** Where an adapter lives: a folder with peft's file names, or explicit files (e.g. the fixtures' vit_lora.*). */
export type AdapterLocation = string | { config: string; weights: string };

/** The one key mapping, used both ways: in-memory parameter name ⇄ adapter file key. */
export function adapterKey(key: string, direction: "toFile" | "fromFile", where = "adapter"): string {
  if (direction === "toFile") return ADAPTER_PREFIX + key;
  if (!key.startsWith(ADAPTER_PREFIX)) {
    throw new CheckpointError("Adapter key lacks peft's base_model.model. prefix", {
      where: `${where}: ${key}`,
      expected: `${ADAPTER_PREFIX}<module path>.lora_A.weight`,
      got: key,
      fix: "re-save the adapter with peft's save_pretrained or peftlab's saveAdapter",
    });
  }
  return key.slice(ADAPTER_PREFIX.length);
}

/** One expected tensor of an adapter: its in-memory name, torch shape and how to read/write it. */
interface AdapterEntry {
  name: string;
  shape: number[];
  read: () => HostTensor;
  readAsync: () => Promise<HostTensor>;
  write: (h: HostTensor) => void;
}

/** Every tensor a LoraModel's adapter holds, keyed by in-memory name (LoRA A/B, then modules_to_save). */
function expectedAdapterEntries(lm: LoraModel): AdapterEntry[] {
  const out: AdapterEntry[] = [];
  for (const [p, l] of lm.layers) {
    const shapes = l.adapterShapes();
    for (const [which, m, shape] of [
      ["lora_A", l.loraA, shapes.a],
      ["lora_B", l.loraB, shapes.b],
    ] as const) {
      out.push({
        name: `${p}.${which}.weight`,
        shape,
        read: () => m.stateDict().get("weight")!,
        readAsync: async () => (await m.stateDictAsync()).get("weight")!,
        write: (h) => m.loadStateDict(new Map([["weight", h]])),
      });
    }
  }
  for (const s of lm.savedModules) {
    const params = new Map(s.module.namedParameters());
    const buffers = new Map(s.module.namedBuffers().filter(([, b]) => b.persistent));
    for (const k of [...params.keys(), ...buffers.keys()]) {
      const v = params.get(k)?.variable ?? buffers.get(k)!.variable;
      const layout = params.get(k)?.layout ?? "none";
      out.push({
        name: `${s.path}.${k}`,
        shape: torchShapeOf(v.shape, layout),
        read: () => s.module.stateDict().get(k)!,
        readAsync: async () => (await s.module.stateDictAsync()).get(k)!,
        write: (h) => loadOne(s.module, k, h),
      });
    }
  }
  return out;
}

function loadOne(m: Module, key: string, h: HostTensor): void {
  m.loadStateDict(new Map([[key, h]]), { strict: false }); // one key: no read of the others (webgpu reads async)
}

/** The adapter's tensors in file keys and torch layout. */
export function adapterStateDict(lm: LoraModel): StateDict {
  const sd: StateDict = new Map();
  for (const e of expectedAdapterEntries(lm)) sd.set(adapterKey(e.name, "toFile"), e.read());
  return sd;
}

/** The adapter_config.json contents and safetensors metadata a LoraModel is saved with. */
export function adapterFileConfig(lm: LoraModel): { json: LoraConfigJson; metadata: Record<string, string> } {
  const o = lm.config;
  const metadata: Record<string, string> = { format: "pt", "peftlab.python_peft_loadable": "true" };
  let cfg: LoraOptions = o;
  if (o.excludeModules !== null) {
    cfg = {
      ...cfg,
      targetModules: [...lm.layers.keys()],
      excludeModules: null,
      layersToTransform: null,
      layersPattern: null,
    };
    metadata["peftlab.exclude_modules"] = JSON.stringify({
      exclude_modules: o.excludeModules,
      target_modules: o.targetModules,
      layers_to_transform: o.layersToTransform,
      layers_pattern: o.layersPattern,
    });
  }
  const sliced = [...lm.layers].filter(([, l]) => l.qkvParts);
  if (sliced.length) {
    // Full module names first, so peft's first-match get_pattern_key picks them over any shorter user key.
    const rank: Record<string, number> = {};
    const alpha: Record<string, number> = {};
    for (const [p, l] of sliced) {
      rank[p] = l.rank;
      alpha[p] = alphaForScaling(l.scaling, l.rank, o.useRslora);
    }
    cfg = { ...cfg, rankPattern: { ...rank, ...o.rankPattern }, alphaPattern: { ...alpha, ...o.alphaPattern } };
    metadata["peftlab.qkv_parts"] = JSON.stringify({
      parts: o.qkvParts!.parts,
      module_name: o.qkvParts!.moduleName ?? "qkv",
      modules: sliced.map(([p]) => p),
    });
  }
  return { json: configToJson(cfg), metadata };
}

/** Serialises adapter_config.json like peft (2-space indent, sorted top-level keys). */
export function formatAdapterConfig(json: LoraConfigJson): string {
  const sorted = Object.fromEntries(
    Object.keys(json)
      .sort()
      .map((k) => [k, json[k as keyof LoraConfigJson]]),
  );
  return JSON.stringify(sorted, null, 2);
}

function locate(loc: AdapterLocation): { config: string; weights: string } {
  return typeof loc === "string"
    ? { config: path.join(loc, ADAPTER_CONFIG_NAME), weights: path.join(loc, ADAPTER_WEIGHTS_NAME) }
    : loc;
}

/**
 * Writes adapter_config.json and adapter_model.safetensors (atomically). Where the backend reads synchronously
 * (cpu, wasm, tfjs-node) the files are written before it returns; on webgpu the tensors are read asynchronously and
 * the returned promise resolves once they are written, so await it there.
 */
export function saveAdapter(lm: LoraModel, loc: AdapterLocation): Promise<void> {
  const files = locate(loc);
  const { json, metadata } = adapterFileConfig(lm);
  const write = (sd: StateDict) => {
    writeSafetensors(files.weights, sd, { metadata });
    writeFileAtomic(files.config, formatAdapterConfig(json));
  };
  if (syncReadsWork()) {
    write(adapterStateDict(lm));
    return Promise.resolve();
  }
  return adapterStateDictAsync(lm).then(write);
}

/** The adapter's tensors, read asynchronously (every backend). */
export async function adapterStateDictAsync(lm: LoraModel): Promise<StateDict> {
  const sd: StateDict = new Map();
  for (const e of expectedAdapterEntries(lm)) sd.set(adapterKey(e.name, "toFile"), await e.readAsync());
  return sd;
}

/** Reads an adapter's config (with peftlab's metadata folded back in) and tensors, without a model. */
export function readAdapter(
  loc: AdapterLocation,
  warn?: (m: string) => void,
): { config: LoraOptions; tensors: StateDict; metadata: Record<string, string> } {
  const files = locate(loc);
  for (const f of [files.config, files.weights]) {
    if (!fs.existsSync(f)) {
      throw new CheckpointError("Adapter file not found", {
        where: f,
        expected: `${ADAPTER_CONFIG_NAME} and ${ADAPTER_WEIGHTS_NAME}`,
        got: "no such file",
        fix: "pass the folder written by saveAdapter / peft's save_pretrained",
      });
    }
  }
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(readTextFile(files.config, CheckpointError, ADAPTER_CONFIG_NAME)) as Record<string, unknown>;
  } catch (e) {
    if (e instanceof CheckpointError) throw e;
    throw new CheckpointError("adapter_config.json is not valid JSON", {
      where: files.config,
      got: (e as Error).message,
    });
  }
  let config = configFromJson(json, files.config, warn);
  const { tensors, metadata } = readSafetensors(files.weights);
  config = foldMetadata(config, metadata, files.weights);
  return { config, tensors, metadata };
}

function foldMetadata(c: LoraOptions, meta: Record<string, string>, where: string): LoraOptions {
  let o = c;
  const ex = meta["peftlab.exclude_modules"];
  if (ex !== undefined) {
    const e = parseMeta<{
      exclude_modules: string[] | string;
      target_modules: string[] | string;
      layers_to_transform: number[] | number | null;
      layers_pattern: string[] | string | null;
    }>(ex, where);
    o = {
      ...o,
      excludeModules: e.exclude_modules,
      targetModules: e.target_modules,
      layersToTransform: e.layers_to_transform,
      layersPattern: e.layers_pattern,
    };
  }
  const q = meta["peftlab.qkv_parts"];
  if (q !== undefined) {
    const e = parseMeta<{ parts: QkvPart[]; module_name: string; modules: string[] }>(q, where);
    const rankPattern = { ...o.rankPattern };
    const alphaPattern = { ...o.alphaPattern };
    for (const m of e.modules) {
      delete rankPattern[m];
      delete alphaPattern[m];
    }
    o = { ...o, rankPattern, alphaPattern, qkvParts: { parts: e.parts, moduleName: e.module_name } };
  }
  return o;
}

function parseMeta<T>(s: string, where: string): T {
  try {
    return JSON.parse(s) as T;
  } catch (e) {
    throw new CheckpointError("Unreadable peftlab metadata in adapter", { where, got: (e as Error).message });
  }
}

/**
 * Loads an adapter into `model` (injecting LoRA as its config says) and returns the LoraModel. Every expected key
 * must be present with the right shape, and every key in the file must be used.
 */
export function loadAdapter<M extends Module>(
  model: M,
  loc: AdapterLocation,
  opts: { warn?: (m: string) => void; overrides?: Partial<LoraOptions> } = {},
): LoraModel<M> {
  const files = locate(loc);
  const { config, tensors } = readAdapter(loc, opts.warn);
  const lm = getPeftModel(model, { ...config, ...opts.overrides });
  setAdapterWeights(lm, tensors, files.weights);
  return lm;
}

/** loadAdapter whose qkv-mask check reads asynchronously: the one to use on webgpu (no synchronous reads there). */
export async function loadAdapterAsync<M extends Module>(
  model: M,
  loc: AdapterLocation,
  opts: { warn?: (m: string) => void; overrides?: Partial<LoraOptions> } = {},
): Promise<LoraModel<M>> {
  const files = locate(loc);
  const { config, tensors } = readAdapter(loc, opts.warn);
  const lm = getPeftModel(model, { ...config, ...opts.overrides });
  await setAdapterWeightsAsync(lm, tensors, files.weights);
  return lm;
}

/** Assigns adapter tensors (file keys, torch layout) to a LoraModel; missing, extra or mis-shaped keys are errors. */
export function setAdapterWeights(lm: LoraModel, tensors: StateDict, where = "adapter"): void {
  writeAdapterWeights(lm, tensors, where);
  checkMasks(lm, where);
}

/** setAdapterWeights with the qkv-mask check read asynchronously (works on webgpu). */
export async function setAdapterWeightsAsync(lm: LoraModel, tensors: StateDict, where = "adapter"): Promise<void> {
  writeAdapterWeights(lm, tensors, where);
  for (const [p, l] of lm.layers) {
    if (!l.bMask) continue;
    const t = outsideMask(l);
    const outside = (await t.data())[0];
    t.dispose();
    checkOutside(outside, `${where}: ${p}.lora_B.weight`);
  }
}

function writeAdapterWeights(lm: LoraModel, tensors: StateDict, where: string): void {
  const entries = expectedAdapterEntries(lm);
  const want = new Map(entries.map((e) => [e.name, e]));
  const inMemory = new Map<string, HostTensor>();
  for (const [k, h] of tensors) inMemory.set(adapterKey(k, "fromFile", where), h);
  const unused = [...inMemory.keys()].filter((k) => !want.has(k));
  const missing = entries.filter((e) => !inMemory.has(e.name)).map((e) => e.name);
  if (unused.length || missing.length) {
    throw new CheckpointError("Adapter keys do not match the model", {
      where,
      expected: `${entries.length} keys like ${adapterKey(entries[0].name, "toFile")}`,
      got: `${unused.length} matching nothing (${unused.slice(0, 4).join(", ")}${unused.length > 4 ? ", …" : ""}); ${missing.length} missing (${missing.slice(0, 4).join(", ")}${missing.length > 4 ? ", …" : ""})`,
      fix: "check the adapter was trained on this architecture with the same target_modules and modules_to_save",
    });
  }
  for (const e of entries) {
    const h = inMemory.get(e.name)!;
    if (h.shape.length !== e.shape.length || h.shape.some((d, i) => d !== e.shape[i])) {
      throw new CheckpointError("Adapter tensor has the wrong shape", {
        where: `${where}: ${adapterKey(e.name, "toFile")}`,
        expected: `[${e.shape.join(", ")}]`,
        got: `[${h.shape.join(", ")}]`,
        fix: "the adapter's r / rank_pattern or the model's sizes differ from the ones it was trained with",
      });
    }
    e.write(h);
  }
}

/** max |B| outside the qkv mask, a scalar tensor (0 for a block-structured adapter). */
function outsideMask(l: LoraLayer): tf.Tensor {
  return tf.tidy(() => tf.max(tf.abs(tf.mul(l.loraB.weight.variable, tf.sub(1, l.bMask!)))));
}

function checkOutside(outside: number, where: string): void {
  if (outside !== 0) {
    throw new ConfigError("Adapter's qkv B weight is not block-structured for qkvParts", {
      where,
      expected: "zeros outside the enabled q/k/v rows of each part's rank block",
      got: `max |value| ${outside} outside`,
      fix: "load it as a plain LoRA (without qkvParts); it was probably trained further in Python peft",
    });
  }
}

/** Synchronous mask check (cpu/wasm/node); setAdapterWeightsAsync reads asynchronously instead. */
function checkMasks(lm: LoraModel, where: string): void {
  for (const [p, l] of lm.layers) {
    if (!l.bMask) continue;
    const t = outsideMask(l);
    const outside = t.dataSync()[0];
    t.dispose();
    checkOutside(outside, `${where}: ${p}.lora_B.weight`);
  }
}
