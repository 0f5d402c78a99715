/**
 * Notebook 01's set-up for seed 000 (Dausort et al., ISBI 2025; settings in ./dausort2025_cytology.ts): the checked
 * scale, the settings with the parameters cell's overrides, the data folder and its splits, the backbone, and the
 * model a `peftlab sweep` worker loads. The notebook's cells hold no scale forks.
 */
import * as path from "node:path";
import { settingsAtScale, type NotebookScale } from "../notebook_scale";
import type { NotebookBackbone } from "../notebook_backbone";
import { pbcJpegSplits, preparedSplits, type PbcSplits } from "../pbc_data";
import { DAUSORT_SETTINGS, dausortBackbone, type DausortSettings } from "./dausort2025_cytology";

/** The parameters cell's inputs ("" or null = the scale's default). */
export interface DausortNotebookParams {
  /** The shared folder (PEFTLAB_SHARED): at `ci` the PBC JPEGs in `<shared>/data/pbc-jpeg`. */
  shared: string;
  /** ci: an image folder (default the shared PBC JPEGs); full: a prepared cytology set (default datasets/sipakmed). */
  dataDir?: string;
  seeds?: number[] | null;
  shots?: number[] | null;
  lrs?: number[] | null;
  /** full only: the foundation model and its weights file. */
  modelId: string;
  weights: string;
}

export interface DausortNotebookSetup {
  scale: NotebookScale;
  /** The scale's settings with the overrides applied. */
  settings: DausortSettings;
  dataDir: string;
  /** Stratified 70/10/20 (seed 0) of an image folder, or a prepared dataset's own splits. */
  splits: PbcSplits;
  /** The dataset's name in run records. */
  dataset: string;
  backbone: NotebookBackbone;
  /** What a sweep worker loads: at `ci` the registered ViT-Ti (weights from the shared copy), at `full` the file. */
  sweepModel: { modelId: string; weights?: string };
}

/** Checks SCALE (a ConfigError otherwise), applies the overrides, splits the data and loads the backbone. */
export async function dausortNotebookSetup(scaleName: string, o: DausortNotebookParams): Promise<DausortNotebookSetup> {
  const { scale, settings: s } = settingsAtScale(DAUSORT_SETTINGS, scaleName);
  const settings: DausortSettings = { ...s, seeds: o.seeds ?? s.seeds, shots: o.shots ?? s.shots, lrs: o.lrs ?? s.lrs };
  const ci = scale === "ci";
  const dataDir = o.dataDir || (ci ? path.join(o.shared, "data", "pbc-jpeg") : path.join("datasets", "sipakmed"));
  const splits = ci ? pbcJpegSplits({ root: dataDir, seed: 0 }) : preparedSplits(dataDir);
  const backbone = await dausortBackbone(scale, { modelId: o.modelId, weights: o.weights, imgSize: settings.imgSize });
  return {
    scale,
    settings,
    dataDir,
    splits,
    dataset: ci ? "PBC (stand-in)" : path.basename(dataDir),
    backbone,
    sweepModel: ci ? { modelId: backbone.modelId } : { modelId: o.modelId, weights: o.weights },
  };
}
