/**
 * VitConfig: the plain, validated configuration of a timm-compatible VisionTransformer. Every field has a default
 * with the reason for it; `resolveVitConfig` fills and checks them once, so the model code never re-validates.
 */
import { ConfigError } from "../errors";

/**
 * Which tokens the absolute position embedding covers.
 * - `prefix+patches`: timm's default (`no_embed_class=False`): cls, registers and patches all get a position.
 * - `patches`: timm's `no_embed_class=True` (timm DINOv2-reg, H-optimus, Virchow2): prefix tokens get none.
 * - `cls+patches`: Meta's DINOv2 layout: pos covers cls and patches; registers are inserted after cls *after* adding it.
 */
export type PosEmbedLayout = "prefix+patches" | "patches" | "cls+patches";

/** Token pooling before the head. `token_avg` is peftlab's name for Virchow's concat(cls, mean of patch tokens). */
export type GlobalPool = "token" | "avg" | "token_avg";

/** MLP flavour: timm `Mlp`, `SwiGLUPacked` (GluMlp, act on the first half, Virchow/H-optimus), `SwiGLU` (fc1_g/fc1_x). */
export type MlpLayer = "mlp" | "swiglu_packed" | "swiglu";

/** Activation in the MLP: exact GELU (timm/HF default), tanh GELU, QuickGELU (OpenAI CLIP), SiLU (SwiGLU models). */
export type VitAct = "gelu" | "gelu_tanh" | "quick_gelu" | "silu";

/** Runtime configuration of a VisionTransformer (camelCase; timm's kwarg in each comment). */
export interface VitConfig {
  /** img_size. Default 224: the size nearly every pretrained ViT was trained or fine-tuned at. */
  imgSize: number;
  /** patch_size. Default 16 (ViT-B/16, UNI, Phikon); DINOv2 family uses 14. */
  patchSize: number;
  /** in_chans. Default 3 (RGB; grayscale is replicated to 3 channels by the data pipeline). */
  inChans: number;
  /** num_classes; 0 makes the head Identity (a feature extractor). Default 1000 (ImageNet heads). */
  numClasses: number;
  /** embed_dim. Default 768 (ViT-B). */
  embedDim: number;
  /** depth. Default 12 (ViT-B). */
  depth: number;
  /** num_heads. Default 12 (ViT-B). */
  numHeads: number;
  /** mlp_ratio. Default 4 (every non-SwiGLU ViT). */
  mlpRatio: number;
  /** qkv_bias. Default true (timm, HF, CLIP all have it). */
  qkvBias: boolean;
  /** patch_embed bias; timm sets it to `not pre_norm`, so CLIP has none. Default: !preNorm. */
  patchBias: boolean;
  /** init_values: LayerScale's initial gamma; null = no LayerScale (no `ls1`/`ls2` params). Default null. */
  initValues: number | null;
  /** class_token. Default true. */
  classToken: boolean;
  /** reg_tokens (register tokens, Darcet et al. 2024). Default 0. */
  numRegTokens: number;
  /** Position-embedding layout (see PosEmbedLayout). Default `prefix+patches` (timm's no_embed_class=False). */
  posEmbed: PosEmbedLayout;
  /** pre_norm: a LayerNorm `norm_pre` before the blocks (CLIP). Default false. */
  preNorm: boolean;
  /** global_pool. Default "token" (cls). "avg" needs no class token. */
  globalPool: GlobalPool;
  /** fc_norm; null = timm's rule (true iff globalPool is "avg"). When true, `norm` is Identity and `fc_norm` follows pooling. */
  fcNorm: boolean | null;
  /** mlp_layer. Default "mlp". */
  mlpLayer: MlpLayer;
  /** act_layer. Default exact GELU, as torch.nn.GELU() and HF's "gelu". */
  act: VitAct;
  /** LayerNorm eps: 1e-6 is timm's ViT default; HF ViT uses 1e-12, CLIP 1e-5. */
  layerNormEps: number;
  /** drop_rate (head dropout). Default 0: pretrained inference must be deterministic. */
  dropRate: number;
  /** pos_drop_rate. Default 0. */
  posDropRate: number;
  /** attn_drop_rate. Default 0. */
  attnDropRate: number;
  /** proj_drop_rate (after attn.proj and mlp.fc2). Default 0. */
  projDropRate: number;
  /** drop_path_rate: stochastic depth, linearly increasing over blocks like timm. Default 0; fine-tuning often uses 0.1. */
  dropPathRate: number;
  /** Seed for parameter init, dropout and drop path. Default 0 so two builds are identical. */
  seed: number;
}

/** Partial config as users, the registry and the parity manifest give it. */
export type VitOptions = Partial<VitConfig>;

const DEFAULTS: Omit<VitConfig, "patchBias" | "fcNorm"> = {
  imgSize: 224,
  patchSize: 16,
  inChans: 3,
  numClasses: 1000,
  embedDim: 768,
  depth: 12,
  numHeads: 12,
  mlpRatio: 4,
  qkvBias: true,
  initValues: null,
  classToken: true,
  numRegTokens: 0,
  posEmbed: "prefix+patches",
  preNorm: false,
  globalPool: "token",
  mlpLayer: "mlp",
  act: "gelu",
  layerNormEps: 1e-6,
  dropRate: 0,
  posDropRate: 0,
  attnDropRate: 0,
  projDropRate: 0,
  dropPathRate: 0,
  seed: 0,
};

const KEYS = new Set<string>([...Object.keys(DEFAULTS), "patchBias", "fcNorm"]);

/** Fills defaults and validates a ViT config once; throws ConfigError naming the field. */
export function resolveVitConfig(opts: VitOptions = {}): VitConfig {
  for (const k of Object.keys(opts)) {
    if (!KEYS.has(k)) {
      throw new ConfigError("Unknown ViT option", {
        where: `VitConfig.${k}`,
        expected: `one of ${[...KEYS].join(", ")}`,
        got: k,
        fix: "use the camelCase names of VitConfig (e.g. numRegTokens, not reg_tokens)",
      });
    }
  }
  const defined = Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined)) as VitOptions;
  const preNorm = defined.preNorm ?? DEFAULTS.preNorm;
  const c: VitConfig = { ...DEFAULTS, patchBias: !preNorm, fcNorm: null, ...defined };
  for (const k of ["imgSize", "patchSize", "inChans", "embedDim", "depth", "numHeads"] as const) positiveInt(c, k);
  for (const k of ["numClasses", "numRegTokens", "seed"] as const) nonNegativeInt(c, k);
  if (c.imgSize % c.patchSize !== 0) bad("imgSize", `a multiple of patchSize (${c.patchSize})`, c.imgSize);
  if (c.embedDim % c.numHeads !== 0) bad("embedDim", `divisible by numHeads (${c.numHeads})`, c.embedDim);
  if (!(c.mlpRatio > 0)) bad("mlpRatio", "> 0", c.mlpRatio);
  if (!(c.layerNormEps > 0)) bad("layerNormEps", "> 0", c.layerNormEps);
  for (const k of ["dropRate", "posDropRate", "attnDropRate", "projDropRate", "dropPathRate"] as const) {
    if (!(c[k] >= 0 && c[k] < 1)) bad(k, "0 ≤ p < 1", c[k]);
  }
  if (c.initValues !== null && !(typeof c.initValues === "number" && Number.isFinite(c.initValues))) {
    bad("initValues", "a finite number or null", c.initValues);
  }
  oneOf(c, "posEmbed", ["prefix+patches", "patches", "cls+patches"]);
  oneOf(c, "globalPool", ["token", "avg", "token_avg"]);
  oneOf(c, "mlpLayer", ["mlp", "swiglu_packed", "swiglu"]);
  oneOf(c, "act", ["gelu", "gelu_tanh", "quick_gelu", "silu"]);
  if (c.globalPool !== "avg" && !c.classToken) bad("globalPool", '"avg" when classToken is false', c.globalPool);
  if (c.posEmbed === "cls+patches" && !c.classToken)
    bad("posEmbed", '"prefix+patches" or "patches" without a class token', c.posEmbed);
  if (c.mlpLayer !== "mlp" && hiddenDim(c) % 2 !== 0)
    bad("mlpRatio", "an even hidden width for a gated MLP", c.mlpRatio);
  return c;
}

/** MLP hidden width, as timm computes it: int(embed_dim * mlp_ratio). */
export function hiddenDim(c: Pick<VitConfig, "embedDim" | "mlpRatio">): number {
  return Math.floor(c.embedDim * c.mlpRatio);
}

/** Number of prefix tokens (cls + registers) in front of the patch tokens. */
export function numPrefixTokens(c: Pick<VitConfig, "classToken" | "numRegTokens">): number {
  return (c.classToken ? 1 : 0) + c.numRegTokens;
}

/** Whether fc_norm is used (timm: fc_norm defaults to global_pool == "avg"). */
export function usesFcNorm(c: Pick<VitConfig, "fcNorm" | "globalPool">): boolean {
  return c.fcNorm ?? c.globalPool === "avg";
}

/** Number of position-embedding rows for a grid of `numPatches`. */
export function posEmbedLength(c: VitConfig, numPatches: number): number {
  if (c.posEmbed === "patches") return numPatches;
  if (c.posEmbed === "cls+patches") return numPatches + 1;
  return numPatches + numPrefixTokens(c);
}

function positiveInt(c: VitConfig, k: keyof VitConfig): void {
  const v = c[k];
  if (!(typeof v === "number" && Number.isInteger(v) && v > 0)) bad(k, "a positive integer", v);
}

function nonNegativeInt(c: VitConfig, k: keyof VitConfig): void {
  const v = c[k];
  if (!(typeof v === "number" && Number.isInteger(v) && v >= 0)) bad(k, "a non-negative integer", v);
}

function oneOf(c: VitConfig, k: keyof VitConfig, allowed: string[]): void {
  if (!allowed.includes(c[k] as string)) bad(k, `one of ${allowed.map((a) => JSON.stringify(a)).join(", ")}`, c[k]);
}

function bad(field: string, expected: string, got: unknown): never {
  throw new ConfigError("Invalid ViT config", {
    where: `VitConfig.${field}`,
    expected,
    got: JSON.stringify(got),
    fix: `set ${field} to ${expected}`,
  });
}
