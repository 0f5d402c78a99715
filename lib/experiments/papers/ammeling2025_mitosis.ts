/**
 * Paper 2 (seed 001): Ammeling, Ganz, Rosbach, Lausser, Bertram, Breininger, Aubreville, "Benchmarking Foundation
 * Models for Mitotic Figure Classification" (arXiv 2508.04441; code DeepMicroscopy/FoundationModelComparison;
 * /work/shared/papers/PROTOCOLS.md "Paper 2"). Its settings as data per notebook scale, its LoRA, and notebook 02's
 * set-up per scale: at `ci` the PBC erythroblast-vs-lymphocyte task, the real ImageNet ViT-Ti/16 at a chosen input
 * size (a stand-in for UNI / Virchow) and the shared MobileNetV2-0.35; at `full` a prepared mitosis dataset, the
 * foundation model and the paper's ResNet50.
 */
import * as path from "node:path";
import type { TransformOptions } from "../../data/pipeline";
import { loadPreparedDataset } from "../../data/prepared";
import type { ImageDataset } from "../../data/types";
import { loadKerasMobileNetV2 } from "../../models/convert/keras_mobilenet";
import { createModel } from "../../models/create";
import type { ImageClassifier } from "../../models/types";
import { loraStrategy, type LoraStrategy } from "../../peft/strategies/lora";
import { pretrainedVitBackbone, type NotebookBackbone } from "../notebook_backbone";
import { settingsAtScale, type NotebookScale } from "../notebook_scale";
import { pbcJpegDataset } from "../pbc_data";
import { vitTinyBackbone } from "../vit_tiny";

/** Notebook 02's settings at one scale. */
export interface MitosisNotebookSettings {
  /** Monte-Carlo split seeds (paper: 42–46). */
  seeds: number[];
  /** Fractions of the training pool (paper: 0.001, 0.01, 0.1, 1). */
  fractions: number[];
  /** Patches per balanced pseudo-epoch (paper: 1,280), maximum epochs, early-stopping patience. */
  pseudoEpoch: number;
  maxEpochs: number;
  patience: number;
  batchSize: number;
  /** Adam lr (paper 1e-4). */
  lr: number;
  /** CNN and ViT input sides (the ViT-Ti's pos_embed is resized bicubically when not 224). */
  cnnSize: number;
  vitSize: number;
  /** LoRA only on these ViT blocks (null: every block, the paper's). */
  loraBlocks: number[] | null;
  /** Trained arms besides the linear probe. */
  methods: ("LoRA (ViT)" | "ViT end-to-end" | "CNN end-to-end")[];
}

/** Notebook 02's settings per scale; `ci` is sized for ≈ 5 CPU minutes on 2 cores, its numbers are not the paper's. */
export const MITOSIS_NOTEBOOK: Readonly<Record<"ci" | "full", MitosisNotebookSettings>> = {
  ci: {
    seeds: [42, 43],
    fractions: [0.1, 1.0],
    pseudoEpoch: 128,
    maxEpochs: 4,
    patience: 2,
    batchSize: 16,
    lr: 1e-3,
    cnnSize: 96,
    vitSize: 112,
    loraBlocks: [8, 9, 10, 11],
    methods: ["LoRA (ViT)", "CNN end-to-end"],
  },
  full: {
    seeds: [42, 43, 44, 45, 46],
    fractions: [0.001, 0.01, 0.1, 1.0],
    pseudoEpoch: 1280,
    maxEpochs: 100,
    patience: 20,
    batchSize: 16,
    lr: 1e-4,
    cnnSize: 224,
    vitSize: 224,
    loraBlocks: null,
    methods: ["LoRA (ViT)", "ViT end-to-end", "CNN end-to-end"],
  },
};

/**
 * The repository's LoRA [V-code]: r 16, α 16, dropout 0.1 on qkv, attn.proj, fc1 and fc2 (timm's `proj` means
 * attn.proj here; patch_embed.proj is not wrapped), on `blocks` only when given.
 */
export function mitosisLora(blocks: number[] | null, seed = 0): LoraStrategy {
  const t = "(attn\\.qkv|attn\\.proj|mlp\\.fc1|mlp\\.fc2)";
  return loraStrategy({
    r: 16,
    loraAlpha: 16,
    loraDropout: 0.1,
    targetModules: blocks ? `blocks\\.(${blocks.join("|")})\\.${t}` : ["qkv", "attn.proj", "fc1", "fc2"],
    seed,
  });
}

/** Notebook 02's parameters cell: where the data and weights are ("" = the scale's default). */
export interface MitosisNotebookInputs {
  /** The shared offline folder (PBC JPEGs and the MobileNetV2 export at `ci`). */
  shared: string;
  /** "" = `<shared>/data/pbc-jpeg` at `ci`, `datasets/midogpp` (a prepared dataset) at `full`. */
  dataDir: string;
  /** `full`: the foundation model and its weights, and the CNN baseline's. */
  modelId: string;
  weights: string;
  cnnId: string;
  cnnWeights: string;
  /** `ci`: the Keras MobileNetV2-0.35 export ("" = the shared copy). */
  mobilenetDir: string;
}

/** What notebook 02 runs at one scale: its settings, data, ViT backbone and CNN baseline. */
export interface MitosisNotebookSetup {
  scale: NotebookScale;
  settings: MitosisNotebookSettings;
  dataDir: string;
  /** The cells as one binary dataset (label 1 = mitotic figure, or its `ci` stand-in erythroblast). */
  dataset(): ImageDataset;
  backbone: NotebookBackbone;
  /** The CNN baseline's model id in run records and its eval transform. */
  cnnId: string;
  cnnTransform: TransformOptions;
  /** A fresh pretrained CNN with a one-logit head. */
  makeCnn(): ImageClassifier;
}

/** Notebook 02's set-up at `scale` (a ConfigError for anything but "ci" / "full"), so its cells hold no scale forks. */
export function mitosisNotebookSetup(scale: string, o: MitosisNotebookInputs): MitosisNotebookSetup {
  const { scale: sc, settings } = settingsAtScale(MITOSIS_NOTEBOOK, scale);
  const ci = sc === "ci";
  const dataDir = o.dataDir || (ci ? path.join(o.shared, "data", "pbc-jpeg") : "datasets/midogpp");
  const mobilenetDir = o.mobilenetDir || path.join(o.shared, "weights", "mobilenet_v2_035_224_tfjs");
  return {
    scale: sc,
    settings,
    dataDir,
    dataset: () =>
      ci
        ? pbcJpegDataset({
            root: dataDir,
            classes: ["lymphocyte", "erythroblast"],
            name: "PBC erythroblast-vs-lymphocyte",
          })
        : loadPreparedDataset(dataDir),
    backbone: ci
      ? vitTinyBackbone(settings.vitSize)
      : pretrainedVitBackbone({ modelId: o.modelId, weights: o.weights }),
    cnnId: ci ? "mobilenetv2_035" : o.cnnId,
    // MobileNetV2's Keras export takes inception scaling at its input size; ResNet50 the torchvision eval transform.
    cnnTransform: ci
      ? { size: settings.cnnSize, resize: settings.cnnSize, normalize: "inception" }
      : { size: 224, resize: 232, normalize: "imagenet" },
    makeCnn: () => {
      const m: ImageClassifier = ci
        ? loadKerasMobileNetV2(mobilenetDir)
        : createModel(o.cnnId, { weights: o.cnnWeights });
      m.resetClassifier(1, 0);
      return m;
    },
  };
}
