/**
 * `peftlab adapter inspect DIR`: a peft LoRA adapter's config, tensors, per-module scaling and whether Python peft
 * can load it. `peftlab adapter merge ... --adapter DIR --out MERGED.safetensors`: the full model with the adapter
 * merged, in PyTorch names and layout, as peft's merge_and_unload() + state_dict() would write it.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type { Command } from "commander";
import {
  ADAPTER_CONFIG_NAME,
  ADAPTER_PREFIX,
  ConfigError,
  getPatternKey,
  initBackend,
  loadAdapterAsync,
  loraScaling,
  modelFromCase,
  PEFT_CONFIG_KEYS,
  readAdapter,
  sizeOf,
  writeSafetensors,
  type ImageClassifier,
} from "../../index";
import { createModel, readWeightsFile } from "../../models/create";
import { formatTable, writeJson, writeOut } from "../output";

/** Adds `adapter inspect` and `adapter merge` to the program. */
export function register(program: Command): void {
  const adapter = program.command("adapter").description("inspect or merge peft LoRA adapters");
  adapter
    .command("inspect")
    .description("show an adapter's config, tensors, scaling per module and Python peft compatibility")
    .argument("<dir>", "folder with adapter_config.json and adapter_model.safetensors")
    .option("--json", "print JSON")
    .action(function (this: Command, dir: string, opts: { json?: boolean }) {
      const report = inspectAdapter(dir);
      if (opts.json) writeJson(this, report);
      else writeOut(this, renderInspect(report));
    });
  adapter
    .command("merge")
    .description("merge an adapter into its base model and write the full state dict (PyTorch names and layout)")
    .option("--model <id>", "registry model id (with --weights)")
    .option("--weights <file>", "base weights (.safetensors, any known naming)")
    .option("--manifest <file>", "a reference manifest.json (with --case)")
    .option("--case <name>", "case of the manifest whose architecture and weights to use")
    .requiredOption("--adapter <dir>", "adapter folder (adapter_config.json + adapter_model.safetensors)")
    .requiredOption("--out <file>", "merged .safetensors to write")
    .action(async function (this: Command, opts: MergeOptions) {
      await initBackend({ log: null });
      const r = await mergeAdapter(opts);
      writeOut(this, `wrote ${r.out}: ${r.tensors} tensors, ${r.mergedModules} LoRA modules merged\n`);
    });
}

/** What `adapter inspect` reports. */
export interface AdapterInspectReport {
  dir: string;
  config: Record<string, unknown>;
  tensors: { key: string; shape: number[]; numel: number }[];
  modules: { module: string; rank: number; alpha: number; scaling: number; qkvParts?: string[] }[];
  modulesToSave: string[];
  pythonPeftLoadable: boolean;
  notes: string[];
  metadata: Record<string, string>;
}

/** Reads an adapter folder and describes it (no model needed). */
export function inspectAdapter(dir: string): AdapterInspectReport {
  const warnings: string[] = [];
  const { config: o, tensors, metadata } = readAdapter(dir, (m) => warnings.push(m));
  const config = JSON.parse(fs.readFileSync(path.join(dir, ADAPTER_CONFIG_NAME), "utf8")) as Record<string, unknown>;
  const notes = [...warnings];
  const rows = [...tensors].map(([key, h]) => ({ key, shape: h.shape, numel: sizeOf(h.shape) }));
  const qkv = metadata["peftlab.qkv_parts"]
    ? (JSON.parse(metadata["peftlab.qkv_parts"]) as { parts: string[]; modules: string[] })
    : undefined;
  const modules: AdapterInspectReport["modules"] = [];
  const saved = new Set<string>();
  for (const [key, h] of tensors) {
    const m = /^base_model\.model\.(.+)\.lora_A\.weight$/.exec(key);
    if (m) {
      const name = m[1];
      // The file's own rank_pattern / alpha_pattern (what Python peft uses).
      const rp = config.rank_pattern as Record<string, number> | undefined;
      const ap = config.alpha_pattern as Record<string, number> | undefined;
      const rk = getPatternKey(Object.keys(rp ?? {}), name);
      const ak = getPatternKey(Object.keys(ap ?? {}), name);
      const r = rk !== undefined ? rp![rk] : (config.r as number);
      const alpha = ak !== undefined ? ap![ak] : (config.lora_alpha as number);
      const parts = qkv?.modules.includes(name) ? qkv.parts : undefined;
      if (r !== h.shape[0]) notes.push(`${name}: lora_A has rank ${h.shape[0]} but the config gives r=${r}`);
      modules.push({
        module: name,
        rank: h.shape[0],
        alpha,
        scaling: loraScaling(alpha, r, o.useRslora),
        qkvParts: parts,
      });
    } else if (!/\.lora_B\.weight$/.test(key)) {
      saved.add(key.slice(ADAPTER_PREFIX.length).replace(/\.[^.]+$/, ""));
    }
  }
  const unknownKeys = Object.keys(config).filter((k) => !(PEFT_CONFIG_KEYS as readonly string[]).includes(k));
  const badKeys = [...tensors.keys()].filter((k) => !k.startsWith(ADAPTER_PREFIX));
  if (badKeys.length)
    notes.push(`${badKeys.length} tensor keys lack the base_model.model. prefix (peft would load a no-op)`);
  if (unknownKeys.length) notes.push(`config keys older peft (< 0.14) rejects: ${unknownKeys.join(", ")}`);
  if (qkv) {
    notes.push(
      `q/v-only LoRA on fused qkv (${qkv.parts.join(",")}): stored as a rank-${qkv.parts.length}·r qkv LoRA with zero ` +
        "blocks in B; Python peft loads it and computes the same outputs (further peft training fills the zero blocks)",
    );
  }
  return {
    dir,
    config,
    tensors: rows,
    modules,
    modulesToSave: [...saved],
    pythonPeftLoadable: badKeys.length === 0,
    notes,
    metadata,
  };
}

function renderInspect(r: AdapterInspectReport): string {
  const lines = [`adapter ${r.dir}`, "", "config:", JSON.stringify(r.config, null, 2), ""];
  lines.push(
    formatTable(
      ["tensor", "shape", "numel"],
      r.tensors.map((t) => [t.key, `[${t.shape.join(", ")}]`, String(t.numel)]),
      new Set([2]),
    ),
  );
  lines.push(
    formatTable(
      ["module", "rank", "alpha", "scaling", "qkv parts"],
      r.modules.map((m) => [m.module, String(m.rank), String(m.alpha), String(m.scaling), m.qkvParts?.join(",") ?? ""]),
      new Set([1, 2, 3]),
    ),
  );
  if (r.modulesToSave.length) lines.push(`modules_to_save: ${r.modulesToSave.join(", ")}`);
  lines.push(`Python peft can load it: ${r.pythonPeftLoadable ? "yes" : "no"}`);
  for (const n of r.notes) lines.push(`note: ${n}`);
  return lines.join("\n") + "\n";
}

/** Options of `adapter merge`. */
export interface MergeOptions {
  model?: string;
  weights?: string;
  manifest?: string;
  case?: string;
  adapter: string;
  out: string;
}

/** Builds the base model, loads the adapter, merges it and writes the merged state dict. */
export async function mergeAdapter(
  opts: MergeOptions,
): Promise<{ out: string; tensors: number; mergedModules: number }> {
  const model = baseModel(opts);
  const lm = await loadAdapterAsync(model, opts.adapter);
  await lm.safeMergeAsync();
  const sd = await lm.mergedStateDict();
  writeSafetensors(opts.out, sd);
  const n = lm.layers.size;
  model.dispose();
  return { out: opts.out, tensors: sd.size, mergedModules: n };
}

function baseModel(o: MergeOptions): ImageClassifier {
  if (o.model !== undefined && o.manifest === undefined) {
    if (o.weights === undefined) throw usage("--weights", "a base weights file with --model");
    return createModel(o.model, { weights: o.weights, log: () => undefined });
  }
  if (o.manifest !== undefined && o.model === undefined) {
    if (o.case === undefined) throw usage("--case", "a case name with --manifest");
    const dir = path.dirname(o.manifest);
    const cases = (JSON.parse(fs.readFileSync(o.manifest, "utf8")) as { cases: Record<string, unknown>[] }).cases;
    const c = cases.find((x) => x.name === o.case);
    if (!c) throw usage("--case", `one of ${cases.map((x) => x.name).join(", ")}`, o.case);
    const weights = readWeightsFile(path.join(dir, (o.weights ?? c.weights) as string));
    const model = modelFromCase(c, weights);
    model.loadStateDict(weights);
    return model;
  }
  throw usage("--model/--manifest", "exactly one of --model ID --weights FILE or --manifest FILE --case NAME");
}

function usage(where: string, expected: string, got = "missing"): ConfigError {
  return new ConfigError("Bad adapter merge arguments", {
    where,
    expected,
    got,
    fix: "see `peftlab adapter merge --help`",
  });
}
