/**
 * Notebook 03's per-scale set-up of Paper 3 (seed 002, MED-PEFT; /work/shared/papers/PROTOCOLS.md "Paper 3"), as
 * data plus small typed helpers, so the notebook only orchestrates. `ci` runs the paper's pipeline on PneumoniaMNIST
 * with the real ImageNet ViT-Ti/16 (a stand-in for MRM's ViT-B), 28-px images upsampled bicubically to its input.
 */
import type { ImageClassifier } from "../../models/types";
import { loadSharedVitTiny } from "../../models/pretrained_load";
import { npzDataset } from "../../data/sources_npz";
import { stratifiedFraction } from "../../data/splits";
import { decodeToHost, type HostImages, type HostSplits } from "../../data/host_data";
import { splitOf, type ImageDataset } from "../../data/types";
import { loraStrategy, type LoraStrategy } from "../../peft/strategies/lora";
import { settingsAtScale, type NotebookScale } from "../notebook_scale";

/** Per-scale settings of notebook 03 (the paper's are in MEDPEFT_MRM_LORA / MEDPEFT_MRM_FFT). */
export interface MedPeftNotebookSettings {
  seeds: number[];
  fractions: number[];
  /** ViT input side; the ViT-Ti's pos_embed is resized bicubically when it is not 224. */
  imgSize: number;
  batchSize: number;
  /** Training images per (pseudo-)epoch at CI scale (null: the whole split). */
  itemsPerEpoch: number | null;
  /** Epochs by method (LoRA / FFT). */
  epochs: { lora: number; fft: number };
  warmupEpochs: number;
  /** Caps per split (stratified), null for the full split. */
  maxItems: { train: number | null; val: number | null; test: number | null };
  /** LoRA only on these blocks (null: all), so the frozen blocks before them need no backward pass. */
  loraBlocks: number[] | null;
  /** Learning rates at this scale (null: the paper's table). */
  lr: { lora: number | null; fft: number | null };
  /** Optimiser: the paper's SGD, or AdamW for the few CI updates. */
  optimizer: "sgd" | "adamw";
}

/** Notebook 03's settings per scale. `ci` is sized for ≈ 5 CPU minutes on 2 cores; its numbers are not the paper's. */
export const MEDPEFT_NOTEBOOK: Readonly<Record<"ci" | "full", MedPeftNotebookSettings>> = {
  ci: {
    seeds: [0],
    fractions: [0.1, 1],
    imgSize: 112,
    batchSize: 32,
    itemsPerEpoch: 192,
    epochs: { lora: 4, fft: 3 },
    warmupEpochs: 1,
    maxItems: { train: 600, val: 100, test: null },
    loraBlocks: [8, 9, 10, 11],
    lr: { lora: 1e-3, fft: 1e-4 },
    optimizer: "adamw",
  },
  full: {
    seeds: [0, 1, 2],
    fractions: [0.01, 0.1, 1],
    imgSize: 224,
    batchSize: 64,
    itemsPerEpoch: null,
    epochs: { lora: 100, fft: 200 },
    warmupEpochs: 5,
    maxItems: { train: null, val: null, test: null },
    loraBlocks: null,
    lr: { lora: null, fft: null },
    optimizer: "sgd",
  },
};

/** Notebook 03's checked SCALE and its settings row (a ConfigError for anything but "ci" / "full"). */
export function medPeftNotebookAt(scale: string): { scale: NotebookScale; settings: MedPeftNotebookSettings } {
  return settingsAtScale(MEDPEFT_NOTEBOOK, scale);
}

/**
 * A MedMNIST-style .npz decoded into host arrays at `size` (bicubic upsampling of the 28-px images, as PIL's
 * Resize does), normalised with mean = std = 0.5 (the ViT-Ti's cfg); the train split is subsampled to `trainFraction`
 * and every split capped by `maxItems` (stratified, seeded).
 */
export async function npzHostSplitsBicubic(
  file: string,
  o: {
    size: number;
    seed: number;
    trainFraction?: number;
    maxItems?: Partial<Record<"train" | "val" | "test", number | null>>;
    /** Re-labels: new label = labelMap[old] (e.g. [1, 0] makes BreastMNIST's malignant the positive class). */
    labelMap?: number[];
  },
): Promise<HostSplits> {
  const ds = npzDataset(file);
  const part = (split: "train" | "val" | "test"): ImageDataset => {
    let p = splitOf(ds, split);
    if (split === "train" && (o.trainFraction ?? 1) < 1) p = stratifiedFraction(p, o.trainFraction!, o.seed);
    const cap = o.maxItems?.[split];
    if (cap && p.items.length > cap) p = stratifiedFraction(p, cap / p.items.length, o.seed);
    return p;
  };
  const t = { size: o.size, resize: o.size, normalize: { mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] } };
  const lm = o.labelMap;
  const host = async (split: "train" | "val" | "test"): Promise<HostImages> => {
    const h = await decodeToHost(part(split), t);
    return lm ? { ...h, labels: Float32Array.from(h.labels, (l) => lm[l]) } : h;
  };
  const classes = lm ? ds.classes.map((_, j) => ds.classes[lm.indexOf(j)]) : ds.classes;
  return { name: ds.name, classes, train: await host("train"), val: await host("val"), test: await host("test") };
}

/** The pretrained ViT-Ti/16 at `imgSize` with a fresh `numClasses` head (0: 192-d CLS features). */
export function vitTinyAt(imgSize: number, numClasses: number, seed = 0): ImageClassifier {
  return loadSharedVitTiny({ numClasses, imgSize, seed });
}

/**
 * MED-PEFT's q/v-only LoRA (α 32, dropout 0.1, scaling α/r) restricted to `blocks` (null: every block), head trained.
 * With the CLS-pooled ViT-Ti there is no fc_norm, so only the head joins modules_to_save.
 */
export function medPeftLoraOn(rank: number, blocks: number[] | null, seed = 0): LoraStrategy {
  return loraStrategy({
    r: rank,
    loraAlpha: 32,
    loraDropout: 0.1,
    targetModules: blocks ? `blocks\\.(${blocks.join("|")})\\.attn\\.qkv` : ["qkv"],
    qkvParts: { parts: ["q", "v"] },
    seed,
  });
}
