/**
 * Notebook 05's per-scale settings for Paper 5 (seed 004): Davila, Colan, Hasegawa, *Comparison of fine-tuning
 * strategies for transfer learning in medical image classification*, arXiv 2406.10050 / Image and Vision Computing
 * 2024. The paper's datasets, hyperparameters and result tables are [NOT FOUND] in the notes; every setting here is
 * [INF] (PROTOCOLS.md) or a CI-scale choice, as plain data validated by `davilaNotebookSettings()`. The runs
 * themselves are in ./davila2024_run.
 */
import { ConfigError } from "../../errors";
import { type NotebookScale, settingsAtScale } from "../notebook_scale";
import { DAVILA_INF_DEFAULTS, type DavilaHyperparameters } from "./davila2024";

/** Notebook scales. */
export type DavilaScale = NotebookScale;

/** Where one modality's data comes from: a MedMNIST-style .npz (CI) or a prepared dataset folder (full scale). */
export type DavilaModalitySource =
  | { name: string; kind: "npz"; /** File name under `<shared>/data`. */ file: string }
  | {
      name: string;
      kind: "prepared";
      /** Folder under the notebook's DATA_ROOT (`peftlab data prepare …`). */ dir: string;
    };

/** Per-scale settings of notebook 05. */
export interface DavilaNotebookSettings {
  /** Run seeds (head initialisation and batch order; the data subsample uses seed 0). */
  seeds: number[];
  /** Registry ids of the CNN backbones. */
  backbones: string[];
  modalities: DavilaModalitySource[];
  /** Square input side (28-px MedMNIST images are upsampled to it). */
  imgSize: number;
  /**
   * First stage that trains. The stages before it are a frozen prefix whose outputs are cached once per image (a
   * CI-scale shortcut: "full fine-tuning" then means all *tail* stages). null: nothing cached, the whole network trains.
   */
  tailStage: string | null;
  /** Stratified caps per split (data seed 0), null for the whole split. */
  maxItems: { train: number | null; val: number | null; test: number | null };
  /** Epochs of every arm, and of LP-FT's probe stage. */
  epochs: number;
  lpEpochs: number;
  batchSize: number;
  /** Adam lrs: `ft` for FT, L2-SP, L1-SP, Auto-RGN, gradual unfreezing and LP-FT's second stage; `lp` for LP and LP-FT's probe stage. */
  lr: { ft: number; lp: number };
  /**
   * Keep BatchNorm layers in inference mode (running statistics, not batch statistics) while training. The shared
   * MobileNetV2 is a Keras export whose BatchNorm momentum is 0.001: in training mode its running statistics barely
   * move, so weights trained on batch statistics meet ImageNet statistics at evaluation. Keras's transfer-learning
   * guide keeps BatchNorm in inference mode for this reason.
   */
  freezeBatchNorm: boolean;
  /** The reference linear probe (L-BFGS logistic regression, C = d·K/100) on the frozen backbone's pooled features. */
  probe: { maxIter: number };
}

/**
 * Notebook 05's settings per scale. `full`: the paper's three torchvision CNNs on datasets you prepare (Table 1 of
 * the paper; [NOT FOUND] here) with PROTOCOLS.md's [INF] lrs. `ci`: the shared ImageNet MobileNetV2-0.35 on three
 * offline stand-in modalities, sized for ≈ 5 CPU minutes on 2 cores; its numbers are never the paper's.
 */
export const DAVILA_NOTEBOOK_SETTINGS: Readonly<Record<DavilaScale, DavilaNotebookSettings>> = {
  ci: {
    seeds: [0],
    backbones: ["mobilenetv2_035_224.tfjs_keras"],
    modalities: [
      { name: "Cytology (PBC)", kind: "npz", file: "pbc_28.npz" },
      { name: "X-ray (PneumoniaMNIST)", kind: "npz", file: "pneumoniamnist.npz" },
      { name: "Ultrasound (BreastMNIST)", kind: "npz", file: "breastmnist.npz" },
    ],
    imgSize: 96,
    tailStage: "features.14",
    maxItems: { train: 600, val: 200, test: 400 },
    epochs: 8,
    lpEpochs: 4,
    batchSize: 32,
    lr: { ft: 3e-4, lp: 3e-3 },
    freezeBatchNorm: true,
    probe: { maxIter: 1000 },
  },
  full: {
    seeds: [0, 1, 2],
    backbones: ["resnet50.tv2_in1k", "densenet121.tv_in1k", "vgg19.tv_in1k"],
    modalities: [
      // Fill in the paper's datasets (Table 1, [NOT FOUND] here): one prepared folder per modality under DATA_ROOT.
      { name: "X-ray", kind: "prepared", dir: "chest-xray" },
      { name: "Histology", kind: "prepared", dir: "histology" },
    ],
    imgSize: 224,
    tailStage: null,
    maxItems: { train: null, val: null, test: null },
    epochs: 30,
    lpEpochs: 15,
    batchSize: 32,
    lr: { ft: DAVILA_INF_DEFAULTS.lrFt, lp: DAVILA_INF_DEFAULTS.lrLp },
    freezeBatchNorm: false,
    probe: { maxIter: 1000 },
  },
};

const posInt = (v: unknown): v is number => typeof v === "number" && Number.isInteger(v) && v >= 1;
const posNum = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v) && v > 0;

function need(ok: boolean, where: string, expected: string, got: unknown, fix?: string): void {
  if (!ok) {
    throw new ConfigError("Invalid notebook 05 setting", {
      where: `DavilaNotebookSettings.${where}`,
      expected,
      got: JSON.stringify(got) ?? String(got),
      fix,
    });
  }
}

/** Checks settings (e.g. edited copies of DAVILA_NOTEBOOK_SETTINGS) and returns them; throws a ConfigError naming the field. */
export function validateDavilaSettings(s: DavilaNotebookSettings): DavilaNotebookSettings {
  need(
    Array.isArray(s.seeds) && s.seeds.length > 0 && s.seeds.every((x) => Number.isInteger(x) && x >= 0),
    "seeds",
    "a non-empty list of integers ≥ 0",
    s.seeds,
  );
  need(new Set(s.seeds).size === s.seeds.length, "seeds", "distinct seeds", s.seeds);
  need(
    Array.isArray(s.backbones) && s.backbones.length > 0 && s.backbones.every((b) => typeof b === "string" && b !== ""),
    "backbones",
    "a non-empty list of registry ids",
    s.backbones,
  );
  need(Array.isArray(s.modalities) && s.modalities.length > 0, "modalities", "at least one modality", s.modalities);
  const names = s.modalities.map((m) => m.name);
  need(new Set(names).size === names.length, "modalities", "distinct modality names", names);
  s.modalities.forEach((m, i) => {
    const path = m.kind === "npz" ? m.file : m.kind === "prepared" ? m.dir : undefined;
    need(
      typeof m.name === "string" && m.name !== "" && typeof path === "string" && path !== "",
      `modalities[${i}]`,
      '{ name, kind: "npz", file } or { name, kind: "prepared", dir }',
      m,
    );
  });
  need(posInt(s.imgSize) && s.imgSize >= 32, "imgSize", "an integer ≥ 32 (pixels)", s.imgSize);
  need(
    s.tailStage === null || (typeof s.tailStage === "string" && /^features\.\d+$/.test(s.tailStage)),
    "tailStage",
    'null or a stage name such as "features.14"',
    s.tailStage,
  );
  for (const k of ["train", "val", "test"] as const) {
    const v = s.maxItems?.[k];
    need(v === null || posInt(v), `maxItems.${k}`, "null or a positive integer", v);
  }
  need(posInt(s.epochs), "epochs", "a positive integer", s.epochs);
  need(
    posInt(s.lpEpochs) && s.lpEpochs < s.epochs,
    "lpEpochs",
    `a positive integer below epochs (${s.epochs}), so LP-FT also fine-tunes`,
    s.lpEpochs,
  );
  need(posInt(s.batchSize), "batchSize", "a positive integer", s.batchSize);
  need(posNum(s.lr?.ft) && posNum(s.lr?.lp), "lr", "{ ft, lp } with positive finite numbers", s.lr);
  need(typeof s.freezeBatchNorm === "boolean", "freezeBatchNorm", "true or false", s.freezeBatchNorm);
  need(posInt(s.probe?.maxIter), "probe.maxIter", "a positive integer", s.probe);
  return s;
}

/** The validated settings of a scale (the parameters cell's SCALE string); a ConfigError for an unknown scale. */
export function davilaNotebookSettings(scale: string): DavilaNotebookSettings & { scale: DavilaScale } {
  const at = settingsAtScale(DAVILA_NOTEBOOK_SETTINGS, scale);
  return { ...validateDavilaSettings(at.settings), scale: at.scale };
}

/** The strategies' hyperparameters at these settings (one stage unfrozen per epoch, L2-SP / L1-SP α = β = 0.01, [INF]). */
export function davilaHyperparametersOf(s: DavilaNotebookSettings): DavilaHyperparameters {
  return {
    ...DAVILA_INF_DEFAULTS,
    lrFt: s.lr.ft,
    lrLp: s.lr.lp,
    epochs: s.epochs,
    lpEpochs: s.lpEpochs,
    unfreezeEvery: 1,
  };
}

/** One line for result titles: what ran at this scale (CI: the stand-ins, from the settings), never the paper's numbers. */
export function davilaScaleNote(s: DavilaNotebookSettings): string {
  if (s.tailStage === null)
    return `Full scale (${s.backbones.join(", ")}, ${s.imgSize} px, ${s.epochs} epochs; [INF] settings)`;
  const train = s.maxItems.train === null ? "all" : `≤ ${s.maxItems.train.toLocaleString("en-US")}`;
  return (
    `CI scale — stand-ins (${s.backbones.join(", ")}, stages from ${s.tailStage} trained on cached outputs of the ` +
    `frozen prefix, ${s.imgSize} px, ${train} training images, ${s.epochs} epochs of batch ${s.batchSize}, Adam lr ` +
    `${s.lr.ft} / ${s.lr.lp}), not the paper's numbers`
  );
}
