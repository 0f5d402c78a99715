/**
 * The real ImageNet ViT-Ti/16 (`vit_tiny_patch16_224.augreg_in21k_ft_in1k`; AugReg origin inferred, not proven) as a
 * notebook backbone: the one definition the paper modules share.
 */
import type { TransformOptions } from "../data/pipeline";
import { getPretrainedCfg } from "../models/registry";
import { loadSharedVitTiny, VIT_TINY_ID } from "../models/pretrained_load";
import type { NotebookBackbone } from "./notebook_backbone";

/**
 * The ViT-Ti at `imgSize` with its pretrained cfg's eval transform (bicubic resize to ⌊size / crop_pct⌋, centre crop,
 * mean = std = 0.5) and fresh heads; below 224 px its pos_embed is resampled bicubically. The model id carries the
 * size, so feature caches never mix resolutions.
 */
export function vitTinyBackbone(imgSize = 224): NotebookBackbone {
  const cfg = getPretrainedCfg(VIT_TINY_ID);
  const native = cfg.inputSize[1];
  return {
    modelId: `${VIT_TINY_ID}@${imgSize}`,
    transform: {
      size: imgSize,
      resize: Math.round(imgSize / cfg.cropPct),
      normalize: { mean: [...cfg.mean], std: [...cfg.std] },
    } satisfies TransformOptions,
    description:
      `${VIT_TINY_ID}: the ImageNet ViT-Ti/16 (5.7 M parameters; AugReg origin inferred, not proven) at ${imgSize} px` +
      (imgSize === native ? " (native)" : ` (pos_embed resampled bicubically from ${native})`),
    make: async (numClasses, seed = 0) => loadSharedVitTiny({ numClasses, imgSize, seed }),
  };
}
