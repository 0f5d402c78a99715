/**
 * The PBC blood-cell image folder (the offline cytology stand-in, shared/README.md) as datasets and stratified
 * train / val / test splits, and the same split shape read from a prepared dataset (`peftlab data prepare …`).
 */
import { DataError } from "../errors";
import { loadPreparedDataset } from "../data/prepared";
import { imageFolderDataset } from "../data/sources";
import { stratifiedSplit } from "../data/splits";
import { splitOf, type ImageDataset } from "../data/types";
import { sharedPath } from "../paths";

/** The PBC JPEG folder split stratified into train / val / test (default 70/10/20, seed 0). */
export interface PbcSplits {
  classes: string[];
  train: ImageDataset;
  val: ImageDataset;
  test: ImageDataset;
}

/** Options of pbcJpegSplits. */
export interface PbcSplitOptions {
  /** Default `$PEFTLAB_SHARED/data/pbc-jpeg`. */
  root?: string;
  seed?: number;
  fractions?: { train: number; val: number; test: number };
  /** Keep only these classes, relabelled 0..k−1 in this order (e.g. a binary stand-in). */
  classes?: string[];
}

/** The PBC image folder as one dataset, optionally only some classes, relabelled 0..k−1 in the given order. */
export function pbcJpegDataset(o: { root?: string; classes?: string[]; name?: string } = {}): ImageDataset {
  let ds = imageFolderDataset(o.root ?? sharedPath("data", "pbc-jpeg"));
  if (o.classes) {
    const idx = o.classes.map((c) => ds.classes.indexOf(c));
    const bad = o.classes.filter((_, i) => idx[i] < 0);
    if (bad.length) {
      throw new DataError("Unknown PBC class", {
        where: "pbcJpegDataset.classes",
        expected: `names from ${ds.classes.join(", ")}`,
        got: bad.join(", "),
      });
    }
    const items = ds.items
      .filter((it) => idx.includes(it.label ?? -1))
      .map((it) => ({ ...it, label: idx.indexOf(it.label!) }));
    ds = { ...ds, classes: [...o.classes], items };
  }
  return o.name ? { ...ds, name: o.name } : ds;
}

/** Loads the PBC image folder (optionally some classes) and splits it stratified by class. */
export function pbcJpegSplits(o: PbcSplitOptions = {}): PbcSplits {
  const ds = pbcJpegDataset(o);
  const s = stratifiedSplit(ds, o.fractions ?? { train: 0.7, val: 0.1, test: 0.2 }, o.seed ?? 0);
  return { classes: ds.classes, train: s.train, val: s.val, test: s.test };
}

/** The train / val / test splits of a prepared dataset (`peftlab data prepare …`): the full-scale path. */
export function preparedSplits(dir: string): PbcSplits {
  const ds = loadPreparedDataset(dir);
  return { classes: ds.classes, train: splitOf(ds, "train"), val: splitOf(ds, "val"), test: splitOf(ds, "test") };
}
