/**
 * A paper notebook's ViT backbone: a factory of fresh pretrained copies (LoRA injects in place) plus its eval input
 * pipeline. pretrainedVitBackbone wraps any registered pretrained ViT and its weights file; vit_tiny.ts gives the
 * shared ImageNet ViT-Ti that the CI-scale notebooks use.
 */
import { DataError } from "../errors";
import type { TransformOptions } from "../data/pipeline";
import { createModel } from "../models/create";
import { getPretrainedCfg } from "../models/registry";
import type { ImageClassifier } from "../models/types";

/** A ViT backbone for a paper notebook: a factory of fresh copies (LoRA injects in place) plus its input pipeline. */
export interface NotebookBackbone {
  modelId: string;
  /** A fresh model with a new `numClasses` head (0 = features only), pretrained weights loaded. */
  make(numClasses: number, seed?: number): Promise<ImageClassifier>;
  /** Eval transform for image files (resize, centre crop, normalisation). */
  transform: TransformOptions;
  /** One line on what the backbone is, for the notebook. */
  description: string;
}

/** Options of pretrainedVitBackbone. */
export interface PretrainedVitBackboneOptions {
  /** A registered pretrained model id (see listPretrained()), e.g. CLIP ViT-B/16 or UNI. */
  modelId?: string;
  /** Its safetensors weights (e.g. fetched with `peftlab weights get <repo>`). */
  weights?: string;
}

/**
 * A registered pretrained ViT (`createModel(modelId, { weights })`) as a notebook backbone, with its pretrained cfg's
 * eval transform: resize to ⌊size / crop_pct⌉, centre crop, the cfg's mean and std.
 */
export function pretrainedVitBackbone(o: PretrainedVitBackboneOptions): NotebookBackbone {
  const { modelId, weights } = o;
  if (!modelId || !weights) {
    throw new DataError("A pretrained backbone needs a model id and a weights file", {
      where: "pretrainedVitBackbone",
      expected: "modelId (see listPretrained()) and weights (a safetensors file)",
      got: `modelId ${modelId ?? "(none)"}, weights ${weights ?? "(none)"}`,
      fix: "fetch the weights with `peftlab weights get <repo>` and set MODEL_ID / WEIGHTS in the parameters cell",
    });
  }
  const cfg = getPretrainedCfg(modelId);
  const size = cfg.inputSize[1];
  return {
    modelId,
    transform: { size, resize: Math.round(size / cfg.cropPct), normalize: { mean: [...cfg.mean], std: [...cfg.std] } },
    description: `${modelId} (${cfg.source})`,
    make: async (numClasses, seed = 0) => createModel(modelId, { weights, numClasses, seed }),
  };
}
