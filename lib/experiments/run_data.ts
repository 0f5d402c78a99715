/**
 * The data side of a run: load the source, split it, subsample the training split, resolve the transform against
 * the model's defaults, and map the class names of new data onto a trained run's classes.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { DataError } from "../errors";
import { imageFolderDataset } from "../data/sources";
import { manifestDataset } from "../data/manifest";
import { npzDataset } from "../data/sources_npz";
import { loadPreparedDataset } from "../data/prepared";
import { kShot, stratifiedFraction, stratifiedSplit } from "../data/splits";
import type { TransformOptions } from "../data/pipeline";
import { splitOf, withItems, type ImageDataset } from "../data/types";
import type { DataSourceConfig, RunConfig } from "./run_config";
import type { RunModelSpec } from "./run_models";

/** A run's datasets by split (train, test, and val when the split has one). */
export interface RunSplits {
  all: ImageDataset;
  train: ImageDataset;
  val?: ImageDataset;
  test: ImageDataset;
}

/** Loads a data source as a dataset. */
export function loadSource(src: DataSourceConfig): ImageDataset {
  switch (src.kind) {
    case "imageFolder":
      return imageFolderDataset(src.path);
    case "npz":
      return npzDataset(src.path);
    case "manifest":
      if (
        path.basename(src.path) === "dataset.json" ||
        (fs.existsSync(src.path) && fs.statSync(src.path).isDirectory())
      )
        return loadPreparedDataset(src.path);
      return manifestDataset(src.path);
  }
}

/** Loads and splits a run's data; the train split is subsampled when `trainSubset` says so. */
export function runSplits(cfg: RunConfig): RunSplits {
  const all = loadSource(cfg.data.source);
  let parts: Record<string, ImageDataset>;
  if (cfg.data.split.kind === "stratified") parts = stratifiedSplit(all, cfg.data.split.fractions, cfg.data.split.seed);
  else {
    parts = {};
    for (const s of new Set(all.items.map((it) => it.split ?? "(none)"))) parts[s] = splitOf(all, s);
  }
  for (const need of ["train", "test"]) {
    if (!parts[need]) {
      throw new DataError(`The data has no ${need} split`, {
        where: "data.split",
        expected: "train and test splits",
        got: Object.keys(parts).join(", "),
        fix: 'use "split": { "kind": "stratified", "fractions": { "train": 0.7, "val": 0.1, "test": 0.2 } }',
      });
    }
  }
  let train = parts.train;
  const sub = cfg.data.trainSubset;
  if (sub?.perClass !== undefined) train = kShot(train, sub.perClass, cfg.seed);
  else if (sub?.fraction !== undefined) train = stratifiedFraction(train, sub.fraction, cfg.seed);
  return { all, train, val: parts.val, test: parts.test };
}

/**
 * The shorter side before the centre crop when a config names none: timm's eval transform, ⌊size / crop_pct⌋
 * (ViT-Ti AugReg: crop_pct 0.9, 224 → 248); `size` itself when the model has no crop fraction.
 */
export function defaultResize(size: number, cropPct: number | undefined): number {
  return cropPct !== undefined && cropPct > 0 && cropPct < 1 ? Math.floor(size / cropPct) : size;
}

/** The transform a run uses (model defaults for size, crop resize and normalisation), with or without augmentation. */
export function runTransform(cfg: RunConfig, spec: RunModelSpec, augment: boolean): TransformOptions {
  const t = cfg.data.transform;
  const size = t.size || spec.size;
  return {
    size,
    resize: t.resize ?? defaultResize(size, spec.cropPct),
    normalize: t.normalize === "model" ? spec.normalize : t.normalize,
    augment: augment ? t.augment : undefined,
  };
}

/**
 * Re-labels `ds` with the run's class indices by name (an image folder may list classes in any order). Different
 * class sets are a DataError listing both.
 */
export function mapClassesByName(ds: ImageDataset, runClasses: string[], where: string): ImageDataset {
  const missing = ds.classes.filter((c) => !runClasses.includes(c));
  if (missing.length > 0 || ds.classes.length !== runClasses.length) {
    throw new DataError("The data's classes do not match the run's classes", {
      where,
      expected: `classes [${runClasses.join(", ")}]`,
      got: `classes [${ds.classes.join(", ")}]`,
      fix: "evaluate on data with the same class names (folder names), in any order",
    });
  }
  const idx = ds.classes.map((c) => runClasses.indexOf(c));
  const items = ds.items.map((it) => ({
    ...it,
    label: it.label === undefined ? undefined : idx[it.label],
    labels: it.labels === undefined ? undefined : runClasses.map((_, j) => it.labels![idx.indexOf(j)]),
  }));
  return { ...withItems(ds, items), classes: [...runClasses] };
}
