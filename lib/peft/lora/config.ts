/**
 * LoRA configuration, mirroring peft's `LoraConfig`: camelCase `LoraOptions` at runtime (snake_case
 * adapter_config.json on disk: config_json.ts), validated once with messages that name the fields. Target matching follows peft's
 * `check_target_module_exists` and `get_pattern_key` exactly, so an adapter_config.json selects the same modules here
 * and in Python.
 */
import { ConfigError } from "../../errors";

/** peft's init_lora_weights: true (A kaiming-uniform(a=√5), B = 0), "gaussian" (A ~ N(0, std 1/r), B = 0), false (B random too). */
export type InitLoraWeights = boolean | "gaussian";

/** Which slices of a fused qkv Linear get LoRA (peftlab extension; see `QkvPartsOptions`). */
export type QkvPart = "q" | "k" | "v";

/**
 * peftlab extension: LoRA on some of q, k, v of a fused `qkv` Linear (loralib's MergedLinear with
 * enable_lora=[True, False, True], seeds 000 and 002). It is stored as an ordinary peft LoRA on `qkv` with rank
 * n·r whose B has zero blocks outside the enabled parts, so Python peft loads it and computes the same outputs.
 */
export interface QkvPartsOptions {
  parts: QkvPart[];
  /** Last name segment of the fused modules this applies to (default "qkv"). */
  moduleName?: string;
}

/** Runtime LoRA options (peft's LoraConfig in camelCase). */
export interface LoraOptions {
  r: number;
  loraAlpha: number;
  loraDropout: number;
  /** List: entry matches a name equal to it or ending in `.entry`. String: a regex that must match the whole name. */
  targetModules: string[] | string;
  excludeModules: string[] | string | null;
  /** Modules trained fully and saved whole (peft's ModulesToSaveWrapper), e.g. ["head"]. */
  modulesToSave: string[] | null;
  useRslora: boolean;
  initLoraWeights: InitLoraWeights;
  layersToTransform: number[] | number | null;
  layersPattern: string[] | string | null;
  rankPattern: Record<string, number>;
  alphaPattern: Record<string, number>;
  bias: "none";
  taskType: string | null;
  baseModelNameOrPath: string | null;
  revision: string | null;
  inferenceMode: boolean;
  /** peftlab extension (not written to adapter_config.json; recorded in the safetensors metadata). */
  qkvParts: QkvPartsOptions | null;
  /** Seed for LoRA initialisation and dropout (not a peft field). */
  seed: number;
}

/** peft's defaults (r=8, alpha=8, dropout 0, kaiming init, no rsLoRA); target_modules has no default. */
export const LORA_DEFAULTS: Omit<LoraOptions, "targetModules"> = {
  r: 8,
  loraAlpha: 8,
  loraDropout: 0,
  excludeModules: null,
  modulesToSave: null,
  useRslora: false,
  initLoraWeights: true,
  layersToTransform: null,
  layersPattern: null,
  rankPattern: {},
  alphaPattern: {},
  bias: "none",
  taskType: null,
  baseModelNameOrPath: null,
  revision: null,
  inferenceMode: false,
  qkvParts: null,
  seed: 0,
};

/** Fills defaults and validates; every error names the offending field. */
export function loraConfig(opts: Partial<LoraOptions> & { targetModules: string[] | string }): LoraOptions {
  const o: LoraOptions = { ...LORA_DEFAULTS, ...stripUndefined(opts) } as LoraOptions;
  validate(o);
  return o;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function fail(field: string, expected: string, got: unknown, fix?: string): never {
  throw new ConfigError(`Invalid LoRA config field ${field}`, {
    where: field,
    expected,
    got: typeof got === "string" ? JSON.stringify(got) : (JSON.stringify(got) ?? String(got)),
    fix,
  });
}

function isStrList(v: unknown): v is string[] {
  return Array.isArray(v) && v.every((s) => typeof s === "string" && s !== "");
}

function validate(o: LoraOptions): void {
  if (!Number.isInteger(o.r) || o.r <= 0) fail("r", "a positive integer", o.r);
  if (typeof o.loraAlpha !== "number" || !Number.isFinite(o.loraAlpha) || o.loraAlpha <= 0) {
    fail("lora_alpha", "a positive number", o.loraAlpha);
  }
  if (typeof o.loraDropout !== "number" || !(o.loraDropout >= 0 && o.loraDropout < 1)) {
    fail("lora_dropout", "a number in [0, 1)", o.loraDropout);
  }
  const tm = o.targetModules;
  if (!(typeof tm === "string" ? tm !== "" : isStrList(tm) && tm.length > 0)) {
    fail("target_modules", "a non-empty list of module names or a regex string", tm, 'e.g. ["qkv", "fc2"]');
  }
  if (typeof tm === "string") checkRegex("target_modules", tm);
  const ex = o.excludeModules;
  if (ex !== null && !(typeof ex === "string" || isStrList(ex))) fail("exclude_modules", "null, a list or a regex", ex);
  if (typeof ex === "string") checkRegex("exclude_modules", ex);
  if (o.modulesToSave !== null && !isStrList(o.modulesToSave))
    fail("modules_to_save", "null or a list of names", o.modulesToSave);
  if (typeof o.useRslora !== "boolean") fail("use_rslora", "true or false", o.useRslora);
  if (!(typeof o.initLoraWeights === "boolean" || o.initLoraWeights === "gaussian")) {
    fail(
      "init_lora_weights",
      'true, false or "gaussian"',
      o.initLoraWeights,
      "other peft initialisations (pissa, olora, loftq) are not supported",
    );
  }
  const lt = o.layersToTransform;
  const isIdx = (v: unknown) => Number.isInteger(v) && (v as number) >= 0;
  if (lt !== null && !(isIdx(lt) || (Array.isArray(lt) && lt.every(isIdx)))) {
    fail("layers_to_transform", "null, a layer index or a list of indices", lt);
  }
  if (lt !== null && typeof tm === "string") {
    fail(
      "layers_to_transform",
      "a list target_modules (peft ignores layers_to_transform for a regex)",
      tm,
      "put the layer numbers into the regex instead",
    );
  }
  const lp = o.layersPattern;
  if (lp !== null && !(typeof lp === "string" || isStrList(lp))) fail("layers_pattern", "null, a string or a list", lp);
  if (lp !== null && lt === null) fail("layers_pattern", "to be used together with layers_to_transform", lp);
  for (const [field, pat, int] of [
    ["rank_pattern", o.rankPattern, true],
    ["alpha_pattern", o.alphaPattern, false],
  ] as const) {
    if (typeof pat !== "object" || pat === null || Array.isArray(pat))
      fail(field, "an object of pattern → number", pat);
    for (const [k, v] of Object.entries(pat)) {
      checkRegex(`${field}.${k}`, k);
      if (typeof v !== "number" || !(v > 0) || (int && !Number.isInteger(v))) {
        fail(`${field}.${k}`, int ? "a positive integer rank" : "a positive number", v);
      }
    }
  }
  if (o.bias !== "none") fail("bias", '"none" (LoRA biases are not supported)', o.bias);
  if (o.qkvParts !== null) validateQkvParts(o.qkvParts);
  if (!Number.isInteger(o.seed)) fail("seed", "an integer", o.seed);
}

function validateQkvParts(q: QkvPartsOptions): void {
  const ok = Array.isArray(q.parts) && q.parts.length > 0 && q.parts.every((p) => p === "q" || p === "k" || p === "v");
  if (!ok || new Set(q.parts).size !== q.parts.length) {
    fail(
      "qkvParts.parts",
      'a non-empty list of distinct "q", "k", "v"',
      q.parts,
      'e.g. ["q", "v"] for seeds 000 and 002',
    );
  }
  if (q.moduleName !== undefined && (typeof q.moduleName !== "string" || q.moduleName === "")) {
    fail("qkvParts.moduleName", "a module name segment such as qkv", q.moduleName);
  }
}

function checkRegex(field: string, re: string): void {
  try {
    new RegExp(re);
  } catch (e) {
    fail(field, "a valid regular expression", re, (e as Error).message);
  }
}

/** LoRA scaling for a rank and alpha: α/r, or α/√r with rsLoRA. */
export function loraScaling(alpha: number, r: number, useRslora: boolean): number {
  return useRslora ? alpha / Math.sqrt(r) : alpha / r;
}

/** The alpha that gives `scaling` at rank r (inverse of loraScaling). */
export function alphaForScaling(scaling: number, r: number, useRslora: boolean): number {
  return useRslora ? scaling * Math.sqrt(r) : scaling * r;
}

/** peft's get_pattern_key: the first key k (in order) with `^(.*\.)?(k)$` matching the name, else undefined. */
export function getPatternKey(patternKeys: string[], name: string): string | undefined {
  return patternKeys.find((k) => new RegExp(`^(?:.*\\.)?(?:${k})$`).test(name));
}

/** Rank and alpha of one module after rank_pattern / alpha_pattern. */
export function rankAndAlpha(o: LoraOptions, name: string): { r: number; alpha: number } {
  const rk = getPatternKey(Object.keys(o.rankPattern), name);
  const ak = getPatternKey(Object.keys(o.alphaPattern), name);
  return { r: rk === undefined ? o.r : o.rankPattern[rk], alpha: ak === undefined ? o.loraAlpha : o.alphaPattern[ak] };
}

function fullMatch(re: string, s: string): boolean {
  return new RegExp(`^(?:${re})$`).test(s);
}

/** Why a module is or is not targeted. */
export type TargetMatch = "target" | "excluded" | "modules_to_save" | "no";

/** peft's check_target_module_exists: exclude_modules and modules_to_save first, then target_modules (+ layers). */
export function matchTarget(o: LoraOptions, name: string): TargetMatch {
  const ex = o.excludeModules;
  if (ex !== null) {
    if (typeof ex === "string" ? fullMatch(ex, name) : ex.includes(name) || ex.some((e) => name.endsWith(`.${e}`))) {
      return "excluded";
    }
  }
  if (o.modulesToSave?.some((m) => new RegExp(`^(?:|.*\\.)${m}(?:$|\\..*)`).test(name))) return "modules_to_save";
  const tm = o.targetModules;
  if (typeof tm === "string") return fullMatch(tm, name) ? "target" : "no";
  if (tm.includes(name)) return "target";
  if (!tm.some((t) => name.endsWith(`.${t}`))) return "no";
  return layerAllowed(o, name) ? "target" : "no";
}

/** peft's layers_to_transform filter (only applied to suffix matches of a list target_modules). */
function layerAllowed(o: LoraOptions, name: string): boolean {
  const idx = o.layersToTransform;
  if (idx === null || (Array.isArray(idx) && idx.length === 0)) return true;
  const lp = o.layersPattern;
  let m: RegExpMatchArray | null = null;
  if (lp === null || lp.length === 0) {
    m = name.match(/^.*?\.[^.]*\.(\d+)\./);
  } else {
    for (const p of typeof lp === "string" ? [lp] : lp) {
      m = name.match(new RegExp(`^.*?\\.${p}\\.(\\d+)\\.`));
      if (m) break;
    }
  }
  if (!m) return false;
  const layer = Number(m[1]);
  return typeof idx === "number" ? layer === idx : idx.includes(layer);
}

/** Whether a list entry (or the regex) of target_modules matches a name on its own, before layer filtering. */
export function entryMatches(entry: string, name: string): boolean {
  return name === entry || name.endsWith(`.${entry}`);
}

/**
 * Summarises module names for error messages: indices collapse to N and siblings are grouped, e.g.
 * "blocks.N.attn.{proj,qkv}, blocks.N.mlp.{fc1,fc2}, head".
 */
export function describeModules(names: string[], max = 12): string {
  const groups = new Map<string, Set<string>>();
  for (const n of names) {
    const g = n.replace(/\.\d+(?=\.|$)/g, ".N");
    const dot = g.lastIndexOf(".");
    const parent = dot < 0 ? "" : g.slice(0, dot);
    const leaf = dot < 0 ? g : g.slice(dot + 1);
    if (!groups.has(parent)) groups.set(parent, new Set());
    groups.get(parent)!.add(leaf);
  }
  const parts = [...groups].map(([p, leaves]) => {
    const l = [...leaves];
    const tail = l.length === 1 ? l[0] : `{${l.join(",")}}`;
    return p === "" ? tail : `${p}.${tail}`;
  });
  return parts.slice(0, max).join(", ") + (parts.length > max ? `, … (${parts.length} groups)` : "");
}

/** Python-style list repr for messages: ['qkv', 'fc2']. */
export function pyRepr(v: string[] | string): string {
  return typeof v === "string" ? `'${v}'` : `[${v.map((s) => `'${s}'`).join(", ")}]`;
}
