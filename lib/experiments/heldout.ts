/**
 * Held-out evaluation of a finished run: the run's own split is re-derived from its config.json (the seeded
 * stratified split, or the source's split column), so `peftlab eval --run R --data <folder> --split test` scores
 * exactly the images training never touched, and any evaluation reports how many of its images the run trained on.
 */
import * as fs from "node:fs";
import { DataError } from "../errors";
import { withItems, type ImageDataset } from "../data/types";
import { runSplits } from "./run_data";
import type { LoadedRun } from "./run_predict";

/** Item ids (paths relative to the data root) of each split of the run: train (after trainSubset), val, test. */
export function runSplitIds(run: LoadedRun): Record<string, Set<string>> {
  const s = runSplits(run.config);
  const ids = (ds?: ImageDataset) => new Set((ds?.items ?? []).map((it) => it.id));
  return { train: ids(s.train), val: ids(s.val), test: ids(s.test) };
}

/** What restrictToRunSplit kept, and how much of the data the run saw while training. */
export interface HeldOutInfo {
  /** The split kept (undefined: all of the data). */
  split?: string;
  /** Images evaluated. */
  n: number;
  /** Of those, images in the run's train split (0 for a held-out evaluation); undefined when the run's data source
   * is not on this machine. */
  seenInTraining?: number;
  /** Of those, images in the run's validation split (used for model selection). */
  seenInValidation?: number;
}

/**
 * Keeps the items of `data` in the run's split `split` (matched by relative path); without `split`, keeps all.
 * Either way, counts the kept items the run trained or validated on. An empty result is a DataError.
 */
export function restrictToRunSplit(
  run: LoadedRun,
  data: ImageDataset,
  split?: string,
): { data: ImageDataset; info: HeldOutInfo } {
  let items = data.items;
  if (split === undefined && !fs.existsSync(run.config.data.source.path)) {
    return { data, info: { n: items.length } };
  }
  const ids = runSplitIds(run);
  if (split !== undefined) {
    const keep = ids[split];
    if (!keep) {
      throw new DataError("Unknown split", {
        where: "--split",
        expected: Object.keys(ids).join(", "),
        got: split,
      });
    }
    items = items.filter((it) => keep.has(it.id));
    if (items.length === 0) {
      throw new DataError(`No image of the data is in the run's ${split} split`, {
        where: "--data",
        expected: `images of the run's data source (${run.config.data.source.path}) by relative path`,
        got: `${data.items.length} images, none in the ${split} split (${keep.size} images)`,
        fix: "pass the run's own data folder with --split, or a folder of new images without --split",
      });
    }
  }
  const count = (s: Set<string>) => items.reduce((n, it) => n + (s.has(it.id) ? 1 : 0), 0);
  return {
    data: withItems(data, items),
    info: { split, n: items.length, seenInTraining: count(ids.train), seenInValidation: count(ids.val) },
  };
}
