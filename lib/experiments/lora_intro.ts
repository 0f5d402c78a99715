/**
 * Notebook 00 (LoRA from scratch): its per-scale settings as data, and the LoRA of its ViT-Ti arm. Part 2 compares
 * a linear probe, LoRA and full fine-tuning of the ImageNet MobileNetV2-0.35 on PBC, plus LoRA on q and v of the last
 * blocks of the real ImageNet ViT-Ti/16, trained few-shot at its native 224 px.
 */
import * as path from "node:path";
import { perClassSubset } from "../data/splits";
import type { ImageDataset } from "../data/types";
import type { LoraStrategyOptions } from "../peft/strategies/lora";
import { settingsAtScale, type NotebookScale } from "./notebook_scale";
import { pbcJpegSplits, preparedSplits, type PbcSplits } from "./pbc_data";

/** The ViT-Ti arm of part 2. */
export interface LoraIntroVitSettings {
  imgSize: number;
  /** Training / validation images per class (0 = the whole split). The test split is always whole. */
  trainPerClass: number;
  valPerClass: number;
  epochs: number;
  batchSize: number;
  lr: number;
  /** Blocks whose fused qkv carries LoRA on q and v (the rest is a frozen prefix: no backward through it). */
  blocks: number[];
  r: number;
  alpha: number;
}

/** One scale's settings of notebook 00 (part 2). */
export interface LoraIntroSettings {
  /** MobileNetV2 input side. */
  size: number;
  probeMaxIter: number;
  trainPerClass: number;
  valPerClass: number;
  epochs: number;
  batchSize: number;
  vit: LoraIntroVitSettings;
}

/** `ci` is a CI time budget on 2 CPU cores (few-shot, few epochs), not a recipe; `full` the whole PBC split. */
export const LORA_INTRO_SETTINGS: Readonly<Record<"ci" | "full", Readonly<LoraIntroSettings>>> = {
  ci: {
    size: 160,
    probeMaxIter: 100,
    trainPerClass: 20,
    valPerClass: 10,
    epochs: 3,
    batchSize: 32,
    vit: {
      imgSize: 224,
      trainPerClass: 16,
      valPerClass: 4,
      epochs: 5,
      batchSize: 32,
      lr: 5e-3,
      blocks: [8, 9, 10, 11],
      r: 8,
      alpha: 16,
    },
  },
  full: {
    size: 224,
    probeMaxIter: 1000,
    trainPerClass: 0,
    valPerClass: 0,
    epochs: 15,
    batchSize: 32,
    vit: {
      imgSize: 224,
      trainPerClass: 0,
      valPerClass: 0,
      epochs: 3,
      batchSize: 32,
      lr: 1e-3,
      blocks: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11],
      r: 8,
      alpha: 16,
    },
  },
};

/** LoRA on q and v of the fused qkv of the given ViT blocks (a regex: peft's layers_to_transform misses top-level blocks). */
export function vitQvLora(v: Pick<LoraIntroVitSettings, "blocks" | "r" | "alpha">, seed: number): LoraStrategyOptions {
  return {
    targetModules: `blocks\\.(${v.blocks.join("|")})\\.attn\\.qkv`,
    qkvParts: { parts: ["q", "v"] },
    r: v.r,
    loraAlpha: v.alpha,
    loraDropout: 0,
    seed,
  };
}

/** Notebook 00's set-up at a scale: its settings, data folder and PBC splits (its cells hold no scale forks). */
export interface LoraIntroSetup {
  scale: NotebookScale;
  settings: Readonly<LoraIntroSettings>;
  dataDir: string;
  splits: PbcSplits;
  /** `perClass` images per class of a split, seeded (0 = the whole split): the few-shot subsets of the trained arms. */
  subset(ds: ImageDataset, perClass: number): ImageDataset;
}

/**
 * `ci`: the shared 2,400-image PBC JPEG folder (`<shared>/data/pbc-jpeg`), split stratified 70/10/20.
 * `full`: a prepared PBC dataset with its own splits (`peftlab data prepare pbc --dest datasets/pbc`).
 * `dataDir` ("" = the scale's default) overrides the folder; an unknown scale is a ConfigError.
 */
export function loraIntroSetup(
  scaleName: string,
  o: { shared: string; dataDir?: string; splitSeed: number },
): LoraIntroSetup {
  const { scale, settings } = settingsAtScale(LORA_INTRO_SETTINGS, scaleName);
  const dataDir =
    o.dataDir || (scale === "ci" ? path.join(o.shared, "data", "pbc-jpeg") : path.join("datasets", "pbc"));
  const splits = scale === "ci" ? pbcJpegSplits({ root: dataDir, seed: o.splitSeed }) : preparedSplits(dataDir);
  return {
    scale,
    settings,
    dataDir,
    splits,
    subset: (ds, perClass) => perClassSubset(ds, perClass, o.splitSeed),
  };
}
