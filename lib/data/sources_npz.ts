/**
 * MedMNIST-format .npz files: `{train,val,test}_images` uint8 (N,H,W) or (N,H,W,3) at any size, and
 * `{split}_labels` (N,1) or (N,) for one label, (N,L) for multi-label (ChestMNIST's 14). The split comes from the key
 * prefix. Optional `classes` (<U strings) and `{split}_files` name the classes and rows.
 */
import * as path from "node:path";
import { DataError } from "../errors";
import type { HostTensor } from "../io/host_tensor";
import type { NpyArray } from "../io/npy";
import { NpzFile } from "../io/npz";
import { MEDMNIST_INFO } from "./prepare/medmnist_info";
import type { ImageDataset, ImageItem, TaskKind } from "./types";

export interface NpzDatasetOptions {
  name?: string;
  /** Class names; default: the file's `classes` array, else MedMNIST's names for a known file name, else "0".."K-1". */
  classes?: string[];
  /** Override the task inferred from the label shape ((N,L>1) → multilabel). */
  task?: TaskKind;
  /** Which splits to read (default every `*_images` key). */
  splits?: string[];
}

/** Loads a MedMNIST-style .npz into an in-memory dataset (pixels are views into the decoded arrays, not copies). */
export function npzDataset(file: string, opts: NpzDatasetOptions = {}): ImageDataset {
  const npz = NpzFile.open(file);
  try {
    const keys = npz.keys();
    const splits = opts.splits ?? keys.filter((k) => k.endsWith("_images")).map((k) => k.slice(0, -7));
    if (splits.length === 0) {
      throw new DataError("No *_images arrays in the .npz", {
        where: file,
        expected: "train_images, val_images, test_images (MedMNIST layout)",
        got: keys.join(", "),
        fix: "point at a MedMNIST-format file",
      });
    }
    const base = path.basename(file).replace(/\.npz$/i, "");
    const known = MEDMNIST_INFO[base.replace(/_(28|64|128|224)$/, "")];
    const items: ImageItem[] = [];
    let task: TaskKind | undefined = opts.task;
    let width = 0;
    for (const split of splits) {
      const img = numeric(npz.get(`${split}_images`), `${file}[${split}_images]`);
      const lab = numeric(npz.get(`${split}_labels`), `${file}[${split}_labels]`);
      const files = npz.has(`${split}_files`) ? npz.get(`${split}_files`) : undefined;
      const names = files?.kind === "string" ? files.values : undefined;
      const [n, h, w] = img.shape;
      const c = img.shape.length === 4 ? img.shape[3] : 1;
      if (img.dtype !== "uint8" || (img.shape.length !== 3 && !(img.shape.length === 4 && (c === 3 || c === 1)))) {
        throw new DataError("Images array has the wrong dtype or shape", {
          where: `${file}[${split}_images]`,
          expected: "uint8 (N,H,W) or (N,H,W,3)",
          got: `${img.dtype} [${img.shape.join(",")}]`,
        });
      }
      const L = lab.shape.length === 2 ? lab.shape[1] : 1;
      if (lab.shape[0] !== n || lab.shape.length > 2) {
        throw new DataError("Labels do not match images", {
          where: `${file}[${split}_labels]`,
          expected: `(${n},) or (${n}, L)`,
          got: `[${lab.shape.join(",")}]`,
        });
      }
      task = task ?? (L > 1 ? "multilabel" : "multiclass");
      width = Math.max(width, task === "multilabel" ? L : 0);
      const px = img.data as Uint8Array;
      const stride = h * w * c;
      for (let i = 0; i < n; i++) {
        const it: ImageItem = {
          id: names ? `${split}/${names[i]}` : `${split}/${i}`,
          pixels: { data: px.subarray(i * stride, (i + 1) * stride), width: w, height: h, channels: c as 1 | 3 },
          split,
        };
        if (task === "multilabel")
          it.labels = Array.from(lab.data.subarray(i * L, (i + 1) * L) as ArrayLike<number>, Number);
        else it.label = Number(lab.data[i * L]);
        items.push(it);
      }
    }
    const fileClasses = npz.has("classes") ? npz.get("classes") : undefined;
    const K = task === "multilabel" ? width : Math.max(...items.map((it) => it.label ?? 0)) + 1;
    const classes =
      opts.classes ??
      (fileClasses?.kind === "string" ? fileClasses.values : undefined) ??
      (known && known.labels.length >= K ? known.labels : undefined) ??
      Array.from({ length: K }, (_, i) => String(i));
    for (const it of items) {
      if (it.label !== undefined && (it.label < 0 || it.label >= classes.length)) {
        throw new DataError("Unknown label in npz row", {
          where: `${file} ${it.id}`,
          expected: `0..${classes.length - 1}`,
          got: String(it.label),
          fix: "pass the full class list as `classes`",
        });
      }
    }
    return { name: opts.name ?? base, classes: [...classes], task: task ?? "multiclass", items };
  } finally {
    npz.close();
  }
}

function numeric(a: NpyArray, where: string): HostTensor {
  if (a.kind !== "numeric")
    throw new DataError("Expected a numeric array", { where, expected: "numeric dtype", got: a.descr });
  return a.tensor;
}
