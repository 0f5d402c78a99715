/**
 * adapter_config.json, peft's on-disk LoraConfig: snake_case keys limited to those peft ≥ 0.10 reads, converted to
 * and from the runtime `LoraOptions` (config.ts). Reading warns about and drops unknown keys, and refuses settings
 * peftlab does not implement (DoRA, fan_in_fan_out, bias modes, and the newer options when not at their defaults).
 */
import { ConfigError } from "../../errors";
import { type InitLoraWeights, LORA_DEFAULTS, loraConfig, type LoraOptions } from "./config";

/** adapter_config.json as peft writes it (the keys peft ≥ 0.10 understands; DESIGN.md decision 4). */
export interface LoraConfigJson {
  alpha_pattern: Record<string, number>;
  base_model_name_or_path: string | null;
  bias: "none";
  fan_in_fan_out: false;
  inference_mode: boolean;
  init_lora_weights: InitLoraWeights;
  layers_pattern: string[] | string | null;
  layers_to_transform: number[] | number | null;
  lora_alpha: number;
  lora_dropout: number;
  modules_to_save: string[] | null;
  peft_type: "LORA";
  r: number;
  rank_pattern: Record<string, number>;
  revision: string | null;
  target_modules: string[] | string;
  task_type: string | null;
  use_dora: false;
  use_rslora: boolean;
}

/** The only keys written to adapter_config.json: older peft rejects unknown keys. */
export const PEFT_CONFIG_KEYS: readonly (keyof LoraConfigJson)[] = [
  "alpha_pattern",
  "base_model_name_or_path",
  "bias",
  "fan_in_fan_out",
  "inference_mode",
  "init_lora_weights",
  "layers_pattern",
  "layers_to_transform",
  "lora_alpha",
  "lora_dropout",
  "modules_to_save",
  "peft_type",
  "r",
  "rank_pattern",
  "revision",
  "target_modules",
  "task_type",
  "use_dora",
  "use_rslora",
];

/** Converts runtime options to adapter_config.json (only peft's keys; extensions are dropped here). */
export function configToJson(o: LoraOptions): LoraConfigJson {
  return {
    alpha_pattern: { ...o.alphaPattern },
    base_model_name_or_path: o.baseModelNameOrPath,
    bias: o.bias,
    fan_in_fan_out: false,
    inference_mode: o.inferenceMode,
    init_lora_weights: o.initLoraWeights,
    layers_pattern: o.layersPattern,
    layers_to_transform: o.layersToTransform,
    lora_alpha: o.loraAlpha,
    lora_dropout: o.loraDropout,
    modules_to_save: o.modulesToSave,
    peft_type: "LORA",
    r: o.r,
    rank_pattern: { ...o.rankPattern },
    revision: o.revision,
    target_modules: o.targetModules,
    task_type: o.taskType,
    use_dora: false,
    use_rslora: o.useRslora,
  };
}

/** Keys of peft's LoraConfig that we read but that have no effect when at their defaults. */
const IGNORED_IF_DEFAULT: Record<string, unknown[]> = {
  auto_mapping: [null],
  megatron_config: [null],
  megatron_core: ["megatron.core"],
  loftq_config: [{}],
  use_qalora: [false],
  qalora_group_size: [16],
  layer_replication: [null],
  runtime_config: [{ ephemeral_gpu_offload: false }],
  lora_bias: [false],
  target_parameters: [null],
  eva_config: [null],
  corda_config: [null],
  trainable_token_indices: [null],
  exclude_modules: [null],
};

/**
 * Reads adapter_config.json contents. Unknown keys (and known-but-unsupported ones at their defaults) warn and are
 * dropped; unsupported settings (DoRA, fan_in_fan_out, a bias mode) are errors.
 */
export function configFromJson(
  json: Record<string, unknown>,
  where = "adapter_config.json",
  warn: (msg: string) => void = (m) => console.warn(m),
): LoraOptions {
  const known = new Set<string>(PEFT_CONFIG_KEYS);
  const dropped: string[] = [];
  for (const k of Object.keys(json)) {
    if (known.has(k) || k === "exclude_modules") continue;
    const defaults = Object.hasOwn(IGNORED_IF_DEFAULT, k) ? IGNORED_IF_DEFAULT[k] : undefined; // not "constructor"
    if (defaults && !defaults.some((d) => JSON.stringify(d) === JSON.stringify(json[k]))) {
      throw new ConfigError(`Unsupported LoRA setting ${k}`, {
        where: `${where}: ${k}`,
        expected: JSON.stringify(defaults[0]),
        got: JSON.stringify(json[k]),
      });
    }
    dropped.push(k);
  }
  if (dropped.length) warn(`${where}: ignoring unknown adapter_config keys ${dropped.join(", ")}`);
  if (json.peft_type !== undefined && json.peft_type !== "LORA") {
    throw new ConfigError("Not a LoRA adapter", {
      where: `${where}: peft_type`,
      expected: '"LORA"',
      got: JSON.stringify(json.peft_type),
    });
  }
  for (const [k, v] of [
    ["use_dora", false],
    ["fan_in_fan_out", false],
  ] as const) {
    if (json[k] !== undefined && json[k] !== v) {
      throw new ConfigError(`Unsupported LoRA setting ${k}`, {
        where: `${where}: ${k}`,
        expected: String(v),
        got: JSON.stringify(json[k]),
      });
    }
  }
  const g = <T>(k: string, d: T): T => (json[k] === undefined ? d : (json[k] as T));
  return loraConfig({
    r: g("r", LORA_DEFAULTS.r),
    loraAlpha: g("lora_alpha", LORA_DEFAULTS.loraAlpha),
    loraDropout: g("lora_dropout", LORA_DEFAULTS.loraDropout),
    targetModules: g<string[] | string>("target_modules", undefined as unknown as string[]),
    excludeModules: g("exclude_modules", null),
    modulesToSave: g("modules_to_save", null),
    useRslora: g("use_rslora", false),
    initLoraWeights: g("init_lora_weights", true),
    layersToTransform: g("layers_to_transform", null),
    layersPattern: g("layers_pattern", null),
    rankPattern: g("rank_pattern", {}) ?? {},
    alphaPattern: g("alpha_pattern", {}) ?? {},
    bias: g("bias", "none"),
    taskType: g("task_type", null),
    baseModelNameOrPath: g("base_model_name_or_path", null),
    revision: g("revision", null),
    inferenceMode: g("inference_mode", false),
  });
}
