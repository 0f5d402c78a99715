/**
 * Pretrained models in one call, like timm's `create_model(id, pretrained=True)`: the registry entry names where
 * its weights are on this machine — the offline copy in `$PEFTLAB_SHARED` (`localWeights`), else the file that
 * `peftlab weights get <id>` downloads (`./weights/<hub repo>/<file>`) — and createModel builds and loads it.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { ConfigError } from "../errors";
import { expandEnv } from "../paths";
import { createModel, type CreateModelOptions } from "./create";
import { getPretrainedCfg, type PretrainedCfg } from "./registry";
import type { ImageClassifier } from "./types";
import type { VisionTransformer } from "./vit";

/** Registry id of the real ImageNet ViT-Ti/16 in `$PEFTLAB_SHARED/weights/vit_tiny_patch16_224` (origin inferred). */
export const VIT_TINY_ID = "vit_tiny_patch16_224.augreg_in21k_ft_in1k";

/** Where `peftlab weights get <id>` puts a registry model's file by default (relative to `root`, default cwd). */
export function hubWeightsPath(cfg: PretrainedCfg, root = "."): string | undefined {
  if (!cfg.hubId || !cfg.file) return undefined;
  return path.resolve(root, "weights", cfg.hubId, cfg.file);
}

/** Options of pretrainedWeightsPath. */
export interface WeightsLookup {
  /** Environment for `${PEFTLAB_SHARED}` (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** Folder holding `weights/<hub repo>/<file>` downloads (default the working directory). */
  downloadRoot?: string;
}

/**
 * The weights file (or folder) of a registry model on this machine: the shared copy when it exists, else a
 * `weights get` download. Neither is a ConfigError saying how to fetch it.
 */
export function pretrainedWeightsPath(id: string, o: WeightsLookup = {}): string {
  const cfg = getPretrainedCfg(id);
  const tried: string[] = [];
  if (cfg.localWeights) {
    const p = expandEnv(cfg.localWeights, o.env);
    if (fs.existsSync(p)) return p;
    tried.push(p);
  }
  const hub = hubWeightsPath(cfg, o.downloadRoot);
  if (hub) {
    if (fs.existsSync(hub)) return hub;
    tried.push(hub);
  }
  throw new ConfigError(`No local weights for ${id}`, {
    where: "pretrained weights",
    expected: "the shared copy or a `peftlab weights get` download",
    got: tried.length ? `none of ${tried.join(", ")}` : "no shared copy and no hub source in the registry",
    fix: cfg.hubId
      ? `set PEFTLAB_SHARED to the shared folder, or run \`peftlab weights get ${id}\` in this folder`
      : `download the weights (${cfg.source ?? "see the registry entry"}) and pass their path as weights`,
  });
}

/** Options of createPretrained: createModel's, with the weights found by pretrainedWeightsPath. */
export interface CreatePretrainedOptions extends Omit<CreateModelOptions, "weights">, WeightsLookup {
  /** Input side; a ViT's pos_embed is resampled bicubically from the checkpoint's grid (timm's behaviour). */
  imgSize?: number;
}

/** Builds a registry model with its pretrained weights (see pretrainedWeightsPath), in eval mode. */
export function createPretrained(id: string, o: CreatePretrainedOptions = {}): ImageClassifier {
  const { env, downloadRoot, imgSize, ...rest } = o;
  const weights = pretrainedWeightsPath(id, { env, downloadRoot });
  const args = imgSize === undefined ? o.args : { ...o.args, img_size: imgSize };
  return createModel(id, { ...rest, args, weights }).eval();
}

/**
 * One call: the real ImageNet ViT-Ti/16 (timm names, 5.7 M parameters) from `$PEFTLAB_SHARED` or a `weights get`
 * download. `numClasses` 0 gives 192-d CLS features, another count a new head; default the ImageNet-1k head.
 */
export function loadSharedVitTiny(o: CreatePretrainedOptions = {}): VisionTransformer {
  return createPretrained(VIT_TINY_ID, { log: () => undefined, ...o }) as VisionTransformer;
}
