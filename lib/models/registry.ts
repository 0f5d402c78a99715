/**
 * Pretrained configurations as data, like timm's default_cfg / pretrained_cfg: for each model the papers use, the
 * architecture arguments (snake_case, fed to ARCH_BUILDERS[arch]), preprocessing (input size, mean/std, interpolation,
 * crop fraction), where the weights live (hub id, file), their naming scheme, gating and licence. Fields that could
 * not be verified against the model card or code are listed in `unverified`, never silently presented as fact.
 *
 * ViT entries live in pretrained_vit.ts, CNN entries in pretrained_cnn.ts; this file only merges and looks them up.
 */
import { ConfigError } from "../errors";
import { CNN_PRETRAINED } from "./pretrained_cnn";
import { VIT_PRETRAINED } from "./pretrained_vit";

export { CLIP_MEAN, CLIP_STD, IMAGENET_MEAN, IMAGENET_STD, INCEPTION_MEAN, INCEPTION_STD } from "./constants";

/** One pretrained model: how to build it, how to feed it, and where its weights come from. */
export interface PretrainedCfg {
  /** Registry id, timm-style `<architecture>.<weights tag>`. */
  id: string;
  /** Key into ARCH_BUILDERS ("vit", "resnet", ...). */
  arch: string;
  /** Architecture arguments, snake_case as the builder reads them (timm / torchvision kwargs). */
  args: Record<string, unknown>;
  /** Classes of the pretrained head; 0 for feature extractors (head is Identity). */
  numClasses: number;
  /** [C, H, W] the weights were trained at. */
  inputSize: [number, number, number];
  mean: [number, number, number];
  std: [number, number, number];
  /** Resize interpolation of the eval transform. */
  interpolation: "bicubic" | "bilinear" | "nearest";
  /** Centre-crop fraction of the eval transform (resize to size/cropPct, then crop size). */
  cropPct: number;
  /** Hugging Face hub repo id (or another source named in `source`). */
  hubId?: string;
  /** Weight file within the repo; safetensors preferred. */
  file?: string;
  /**
   * Where an offline copy of the weights lives, as a path with `${PEFTLAB_SHARED}` expansion (lib/paths expandEnv);
   * run configs use it when they name no weights.
   */
  localWeights?: string;
  /** Naming scheme of that file's keys (a NamingSpec name in lib/models/convert). */
  naming: string;
  /** Whether downloading needs accepting terms on the hub. */
  gated: boolean;
  /** SPDX-like licence id of the weights. */
  license: string;
  /** How the paper or upstream code loads it (for provenance). */
  source?: string;
  /** Fields whose values could not be verified (model card, config or code not checked). */
  unverified?: string[];
  notes?: string;
}

/** Every registered pretrained configuration. */
export const PRETRAINED: readonly PretrainedCfg[] = [...VIT_PRETRAINED, ...CNN_PRETRAINED];

/** The pretrained config with this id; throws a ConfigError with close matches. */
export function getPretrainedCfg(id: string): PretrainedCfg {
  const hit = PRETRAINED.find((c) => c.id === id);
  if (hit) return hit;
  const stem = id.split(".")[0].split("_").slice(0, 2).join("_");
  const near = PRETRAINED.filter((c) => c.id.startsWith(stem)).map((c) => c.id);
  throw new ConfigError("Unknown pretrained model id", {
    where: "createModel(id)",
    expected: near.length ? `one of ${near.join(", ")}` : `one of ${PRETRAINED.length} ids (see listPretrained())`,
    got: JSON.stringify(id),
    fix: "list the ids with listPretrained(), or add an entry to lib/models/pretrained_vit.ts / pretrained_cnn.ts",
  });
}

/** Registered ids, optionally filtered by arch or by a substring of the id. */
export function listPretrained(filter: { arch?: string; contains?: string } = {}): string[] {
  return PRETRAINED.filter(
    (c) =>
      (filter.arch === undefined || c.arch === filter.arch) &&
      (filter.contains === undefined || c.id.includes(filter.contains)),
  ).map((c) => c.id);
}
