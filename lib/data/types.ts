/** The uniform dataset shape every source produces: items with a label or multi-hot labels, plus class names. */
import { DataError } from "../errors";

/** multiclass: one integer label per item; multilabel: a 0/1 vector of length classes.length per item. */
export type TaskKind = "multiclass" | "multilabel";

/** Decoded pixels kept in memory (MedMNIST rows, test images): row-major HWC uint8. */
export interface PixelBuffer {
  data: Uint8Array;
  width: number;
  height: number;
  channels: 1 | 3 | 4;
}

/** A square patch of a large image (a whole-slide TIFF), centred on (x, y) in level-0 pixels. */
export interface CellRegion {
  x: number;
  y: number;
  /** Patch side in pixels (seed 001 uses 224). */
  size: number;
}

/** One image of a dataset. Exactly one of `path` / `pixels` is set; `region` narrows a large file to a patch. */
export interface ImageItem {
  /** Unique within the dataset; stable across runs (a relative path or `split/row`). */
  id: string;
  path?: string;
  pixels?: PixelBuffer;
  region?: CellRegion;
  /** Class index into `classes` (multiclass). */
  label?: number;
  /** Multi-hot vector of length `classes.length` (multilabel). */
  labels?: number[];
  /** Patient, slide or WSI id: a group never straddles two splits. */
  group?: string;
  /** train / val / test, or any name the source uses. */
  split?: string;
}

/** A dataset: class names plus items. Sources, splits and samplers all produce and consume this. */
export interface ImageDataset {
  name: string;
  classes: string[];
  task: TaskKind;
  items: ImageItem[];
}

/** The items of one split (by the items' `split` field), as a dataset; an empty result is an error. */
export function splitOf(ds: ImageDataset, split: string): ImageDataset {
  const items = ds.items.filter((it) => it.split === split);
  if (items.length === 0) {
    const have = [...new Set(ds.items.map((it) => it.split ?? "(none)"))].join(", ");
    throw new DataError(`Dataset ${ds.name} has no items in split "${split}"`, {
      where: `${ds.name}.items[].split`,
      expected: `at least one item with split "${split}"`,
      got: `splits: ${have}`,
      fix: "use one of the splits listed, or split the dataset with stratifiedSplit / groupSplit",
    });
  }
  return { ...ds, items };
}

/** Same classes and task, other items. */
export function withItems(ds: ImageDataset, items: ImageItem[], name = ds.name): ImageDataset {
  return { name, classes: ds.classes, task: ds.task, items };
}

/** The stratification key of an item: its class, or for multi-label items the label vector as a string. */
export function strataKey(it: ImageItem): string {
  if (it.label !== undefined) return String(it.label);
  if (it.labels !== undefined) return it.labels.join("");
  return "?";
}

/** Counts per class (multiclass: items per label; multilabel: positives per label). */
export function classCounts(ds: ImageDataset): number[] {
  const n = new Array<number>(ds.classes.length).fill(0);
  for (const it of ds.items) {
    if (it.label !== undefined) n[it.label]++;
    else if (it.labels) it.labels.forEach((v, i) => (n[i] += v ? 1 : 0));
  }
  return n;
}

/** Throws a DataError naming the first class with no items (an empty class breaks stratification and metrics). */
export function assertNoEmptyClass(ds: ImageDataset, where: string): void {
  if (ds.task !== "multiclass") return;
  const counts = classCounts(ds);
  const i = counts.findIndex((c) => c === 0);
  if (i >= 0) {
    throw new DataError(`Class "${ds.classes[i]}" has no images`, {
      where,
      expected: "at least one image per class",
      got: `0 images for class ${i} (${ds.classes[i]})`,
      fix: "add images to the class, or remove it from the class list",
    });
  }
}
