/**
 * VitJson: the snake_case ViT arguments as they appear on disk — timm's create_model kwargs in the registry, and the
 * reference manifest's fields (`image_size`, `pool`, `layerscale`, `num_registers`, `pos_embed_covers`, `gelu`).
 * `vitOptionsFromJson` maps them to the runtime VitOptions once; unknown keys are reported and dropped.
 */
import { ConfigError } from "../errors";
import type { GlobalPool, MlpLayer, PosEmbedLayout, VitAct, VitOptions } from "./vit_config";

/** snake_case ViT arguments (timm kwargs, plus the manifest's aliases). */
export interface VitJson {
  img_size?: number;
  image_size?: number;
  patch_size?: number;
  in_chans?: number;
  num_classes?: number;
  embed_dim?: number;
  depth?: number;
  num_heads?: number;
  mlp_ratio?: number;
  qkv_bias?: boolean;
  patch_bias?: boolean;
  init_values?: number | null;
  layerscale?: boolean;
  class_token?: boolean;
  reg_tokens?: number;
  num_reg_tokens?: number;
  num_registers?: number;
  no_embed_class?: boolean;
  pos_embed?: PosEmbedLayout;
  pos_embed_covers?: string;
  pre_norm?: boolean;
  global_pool?: GlobalPool;
  pool?: GlobalPool;
  fc_norm?: boolean | null;
  mlp_layer?: string;
  act_layer?: string;
  gelu?: string;
  layer_norm_eps?: number;
  drop_rate?: number;
  pos_drop_rate?: number;
  attn_drop_rate?: number;
  proj_drop_rate?: number;
  drop_path_rate?: number;
}

/** Manifest/registry fields that describe the case or the checkpoint rather than the architecture. */
const NOT_ARCH = new Set([
  "name",
  "arch",
  "weights",
  "io",
  "naming",
  "adapter",
  "adapter_config",
  "lora",
  "loss",
  "notes",
  "hub_id",
  "dynamic_img_size",
]);

const KNOWN = new Set<string>([
  "img_size",
  "image_size",
  "patch_size",
  "in_chans",
  "num_classes",
  "embed_dim",
  "depth",
  "num_heads",
  "mlp_ratio",
  "qkv_bias",
  "patch_bias",
  "init_values",
  "layerscale",
  "class_token",
  "reg_tokens",
  "num_reg_tokens",
  "num_registers",
  "no_embed_class",
  "pos_embed",
  "pos_embed_covers",
  "pre_norm",
  "global_pool",
  "pool",
  "fc_norm",
  "mlp_layer",
  "act_layer",
  "gelu",
  "layer_norm_eps",
  "drop_rate",
  "pos_drop_rate",
  "attn_drop_rate",
  "proj_drop_rate",
  "drop_path_rate",
]);

/** LayerScale value used when a manifest only says `layerscale: true` (the weights overwrite it on load). */
const DEFAULT_LAYERSCALE = 1e-5;

/** Maps snake_case ViT args to VitOptions; unknown keys go to `warn` and are dropped. */
export function vitOptionsFromJson(json: Record<string, unknown>, warn: (msg: string) => void = () => {}): VitOptions {
  for (const k of Object.keys(json)) {
    if (!KNOWN.has(k) && !NOT_ARCH.has(k)) warn(`ViT config: unknown key "${k}" ignored`);
  }
  const j = json as VitJson;
  const regs = j.reg_tokens ?? j.num_reg_tokens ?? j.num_registers;
  const o: VitOptions = {
    imgSize: j.img_size ?? j.image_size,
    patchSize: j.patch_size,
    inChans: j.in_chans,
    numClasses: j.num_classes,
    embedDim: j.embed_dim,
    depth: j.depth,
    numHeads: j.num_heads,
    mlpRatio: j.mlp_ratio,
    qkvBias: j.qkv_bias,
    patchBias: j.patch_bias,
    initValues: j.init_values !== undefined ? j.init_values : j.layerscale ? DEFAULT_LAYERSCALE : undefined,
    classToken: j.class_token,
    numRegTokens: regs,
    posEmbed: posLayout(j),
    preNorm: j.pre_norm,
    globalPool: j.global_pool ?? j.pool,
    fcNorm: j.fc_norm,
    mlpLayer: j.mlp_layer === undefined ? undefined : mlpLayer(j.mlp_layer),
    act: actOf(j),
    layerNormEps: j.layer_norm_eps,
    dropRate: j.drop_rate,
    posDropRate: j.pos_drop_rate,
    attnDropRate: j.attn_drop_rate,
    projDropRate: j.proj_drop_rate,
    dropPathRate: j.drop_path_rate,
  };
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as VitOptions;
}

function posLayout(j: VitJson): PosEmbedLayout | undefined {
  if (j.pos_embed !== undefined) return j.pos_embed;
  if (j.no_embed_class) return "patches";
  const covers = j.pos_embed_covers?.trim().toLowerCase();
  if (covers === undefined) return undefined;
  if (covers.startsWith("patches")) return "patches";
  // "cls+patches (registers get none)" is Meta's DINOv2 layout; without registers it equals timm's default.
  if (covers.startsWith("cls+patches")) return "cls+patches";
  if (covers.startsWith("all") || covers.startsWith("prefix")) return "prefix+patches";
  throw new ConfigError("Unknown pos_embed_covers value", {
    where: "pos_embed_covers",
    expected: '"patches only", "cls+patches" or "all prefix tokens + patches"',
    got: JSON.stringify(j.pos_embed_covers),
  });
}

function mlpLayer(s: string): MlpLayer {
  const k = s.toLowerCase().replace(/[^a-z]/g, "");
  if (k === "mlp") return "mlp";
  if (k === "swiglupacked" || k === "glumlp") return "swiglu_packed";
  if (k === "swiglu") return "swiglu";
  throw new ConfigError("Unknown mlp_layer", {
    where: "mlp_layer",
    expected: '"mlp", "swiglu_packed" (timm SwiGLUPacked) or "swiglu"',
    got: JSON.stringify(s),
  });
}

function actOf(j: VitJson): VitAct | undefined {
  const s = (j.act_layer ?? j.gelu)?.toLowerCase();
  if (s === undefined) return undefined;
  if (s.includes("quick")) return "quick_gelu";
  if (s.includes("tanh")) return "gelu_tanh";
  if (s.includes("silu") || s.includes("swish")) return "silu";
  if (s.startsWith("gelu") || s.startsWith("exact")) return "gelu";
  throw new ConfigError("Unknown activation", {
    where: j.act_layer !== undefined ? "act_layer" : "gelu",
    expected: '"gelu", "gelu_tanh", "quick_gelu" or "silu"',
    got: JSON.stringify(s),
  });
}
