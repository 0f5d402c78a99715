/**
 * Paper 2 (seed 001): Ammeling, Ganz, Rosbach, Lausser, Bertram, Breininger, Aubreville, "Benchmarking Foundation
 * Models for Mitotic Figure Classification" (arXiv 2508.04441; code DeepMicroscopy/FoundationModelComparison;
 * /work/shared/papers/PROTOCOLS.md "Paper 2"). Its settings as data per notebook scale, its LoRA, and the CI
 * backbone: the real ImageNet ViT-Ti/16 at a chosen input size, a stand-in for UNI / Virchow.
 */
import { loraStrategy, type LoraStrategy } from "../../peft/strategies/lora";

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
