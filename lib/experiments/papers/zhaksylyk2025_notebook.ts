/**
 * Notebook 04's per-scale set-up of Paper 4 (seed 003, Zhaksylyk et al. 2026; PROTOCOLS.md "Paper 4") as data plus
 * one typed run function, so the notebook only orchestrates. `ci`: BreastMNIST, the ImageNet ViT-Ti/16 with the
 * paper's LoRA (r 16, α 32, dropout 0.05, all block Linears) on its last blocks, and the shared ImageNet
 * MobileNetV2-0.35 fine-tuned (its last stages, on cached features of the frozen lower stages) as the CNN arm.
 */
import type { MobileNetV2 } from "../../models/mobilenetv2";
import type { CnnPrefixSplit } from "../../models/cnn_prefix";
import type { HostSplits } from "../../data/host_data";
import type { StateDict } from "../../io/host_tensor";
import { fullFineTuning } from "../../peft/strategies/basic";
import { loraStrategy, type LoraStrategy } from "../../peft/strategies/lora";
import type { TrainingCallbacks } from "../../train/callbacks";
import { trainEvaluate, type TrainEvalResult } from "../../train/train_evaluate";
import { hostTransferData } from "../transfer_data";
import { settingsAtScale, type NotebookScale } from "../notebook_scale";
import { vitTinyAt } from "./lian2024_notebook";

/** Per-scale settings of notebook 04. */
export interface BreakhisNotebookSettings {
  seeds: number[];
  /** ViT input side (pos_embed resized bicubically when not 224) and the CNN's. */
  vitSize: number;
  cnnSize: number;
  /** First MobileNetV2 stage that trains (the stages before it are a cached frozen prefix). */
  cnnTailStage: string;
  /** LoRA only on these ViT blocks (null: all). */
  loraBlocks: number[] | null;
  epochs: number;
  batchSize: number;
  itemsPerEpoch: number | null;
  lr: { lora: number; cnn: number };
}

/** Notebook 04's settings per scale (optimiser, lr and epochs are [NOT FOUND] in the paper: choices, not its). */
export const BREAKHIS_NOTEBOOK: Readonly<Record<"ci" | "full", BreakhisNotebookSettings>> = {
  ci: {
    seeds: [0, 1],
    vitSize: 112,
    cnnSize: 96,
    cnnTailStage: "features.14",
    loraBlocks: [8, 9, 10, 11],
    epochs: 6,
    batchSize: 32,
    itemsPerEpoch: 192,
    lr: { lora: 1e-3, cnn: 1e-3 },
  },
  full: {
    seeds: [0, 1, 2],
    vitSize: 224,
    cnnSize: 224,
    cnnTailStage: "features.0",
    loraBlocks: null,
    epochs: 30,
    batchSize: 32,
    itemsPerEpoch: null,
    lr: { lora: 1e-4, cnn: 1e-4 },
  },
};

/** Notebook 04's checked SCALE and its settings row (a ConfigError for anything but "ci" / "full"). */
export function breakhisNotebookAt(scale: string): { scale: NotebookScale; settings: BreakhisNotebookSettings } {
  return settingsAtScale(BREAKHIS_NOTEBOOK, scale);
}

/** Paper 4's LoRA (r 16, α 32, dropout 0.05; every Linear of the blocks) on `blocks` only (null: every block). */
export function breakhisLoraOn(blocks: number[] | null, seed = 0): LoraStrategy {
  const t = "(attn\\.qkv|attn\\.proj|mlp\\.fc1|mlp\\.fc2)";
  return loraStrategy({
    r: 16,
    loraAlpha: 32,
    loraDropout: 0.05,
    targetModules: blocks ? `blocks\\.(${blocks.join("|")})\\.${t}` : ["qkv", "attn.proj", "mlp.fc1", "mlp.fc2"],
    seed,
  });
}

/** What every arm of notebook 04 shares: data at each arm's input, the CNN and its split, settings. */
export interface BreastArmContext {
  settings: BreakhisNotebookSettings;
  scale: "ci" | "full";
  dataset: string;
  /** Images at the ViT's input. */
  vitData: HostSplits;
  /** Cached outputs of the MobileNetV2's frozen prefix (the tail's inputs). */
  cnnFeatures: HostSplits;
  mnv2: MobileNetV2;
  mnv2Split: CnnPrefixSplit;
  mnv2Weights: StateDict;
  callbacks?: TrainingCallbacks[];
}

/** One arm of notebook 04: a fresh 2-class model, trained by fit() through trainEvaluate, best validation AUC kept. */
export async function runBreastArm(
  spec: { kind: "cnn" | "lora"; arm: string; modelId: string; seed: number },
  c: BreastArmContext,
): Promise<TrainEvalResult> {
  const st = c.settings;
  const opts = {
    batchSize: st.batchSize,
    evalBatchSize: 64,
    seed: spec.seed,
    labelDtype: "int32" as const,
    itemsPerEpoch: st.itemsPerEpoch ?? undefined,
  };
  const cnn = spec.kind === "cnn";
  if (cnn) {
    c.mnv2.loadStateDict(c.mnv2Weights, { strict: false });
    c.mnv2.resetClassifier(2, spec.seed);
  }
  const model = cnn ? c.mnv2Split.tail : vitTinyAt(st.vitSize, 2, spec.seed);
  const data = hostTransferData(cnn ? c.cnnFeatures : c.vitData, opts);
  const lr = cnn ? st.lr.cnn : st.lr.lora;
  try {
    return await trainEvaluate({
      model,
      strategy: cnn ? fullFineTuning() : breakhisLoraOn(st.loraBlocks, spec.seed),
      train: data.train,
      val: data.val,
      test: data.test,
      callbacks: c.callbacks,
      fit: { task: "binary", epochs: st.epochs, seed: spec.seed, optimizer: { name: "adamw", lr, weightDecay: 0.01 } },
      monitor: "val_roc_auc",
      modelId: spec.modelId,
      method: spec.kind,
      dataset: c.dataset,
      seed: spec.seed,
      scale: c.scale,
      frozenParamsOutside: cnn ? c.mnv2.numParameters() - model.numParameters() : 0,
      config: { arm: spec.arm, lr, epochs: st.epochs, inputSize: cnn ? st.cnnSize : st.vitSize },
    });
  } finally {
    if (!cnn) model.dispose();
    await data.close();
  }
}
