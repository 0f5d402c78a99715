/**
 * peftlab's prepared-dataset format (what `peftlab data prepare` writes): a folder with `dataset.json` naming the
 * classes, task and one source — a CSV manifest (`path,label,group,split`, or one 0/1 column per class for
 * multi-label, plus `x,y,size` for patches of large images) or a MedMNIST-format .npz.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { DataError } from "../errors";
import { writeFileAtomic } from "../io/atomic";
import { manifestDataset } from "./manifest";
import { readText } from "./sources";
import { npzDataset } from "./sources_npz";
import type { ImageDataset, TaskKind } from "./types";

/** dataset.json, as written on disk (snake_case mirrors nothing in Python, so plain camelCase JSON). */
export interface PreparedDatasetJson {
  format: "peftlab-dataset";
  version: 1;
  name: string;
  task: TaskKind;
  classes: string[];
  source: { kind: "manifest"; file: string } | { kind: "npz"; file: string };
  /** Item counts per split, for a quick check without loading. */
  splits?: Record<string, number>;
  /** Where the data came from: URL(s), licence, citation, notes on the split used. */
  origin?: Record<string, unknown>;
}

/** The name of the descriptor file in a prepared folder. */
export const DATASET_JSON = "dataset.json";

/** Loads a prepared dataset from its folder (or its dataset.json). */
export function loadPreparedDataset(dirOrFile: string): ImageDataset {
  const file = dirOrFile.endsWith(".json") ? dirOrFile : path.join(dirOrFile, DATASET_JSON);
  let meta: PreparedDatasetJson;
  try {
    meta = JSON.parse(readText(file)) as PreparedDatasetJson;
  } catch (e) {
    if (e instanceof DataError) throw e;
    throw new DataError("dataset.json is not valid JSON", {
      where: file,
      got: (e as Error).message,
      fix: "re-run `peftlab data prepare`",
    });
  }
  if (meta.format !== "peftlab-dataset") {
    throw new DataError("Not a peftlab dataset descriptor", {
      where: file,
      expected: 'format "peftlab-dataset"',
      got: JSON.stringify(meta.format),
      fix: "re-run `peftlab data prepare`",
    });
  }
  const src = path.resolve(path.dirname(file), meta.source.file);
  if (meta.source.kind === "npz") return npzDataset(src, { name: meta.name, classes: meta.classes, task: meta.task });
  return manifestDataset(src, {
    name: meta.name,
    classes: meta.task === "multiclass" ? meta.classes : undefined,
    labelColumns: meta.task === "multilabel" ? meta.classes : undefined,
  });
}

/** A manifest row as preparers produce it; `path` relative to the manifest. */
export interface ManifestRow {
  path: string;
  /** Class name (multiclass). */
  label?: string;
  /** Multi-hot (multilabel), one per class. */
  labels?: number[];
  group?: string;
  split?: string;
  x?: number;
  y?: number;
  size?: number;
}

/** Writes manifest.csv and dataset.json atomically into `dir`. */
export function writePreparedDataset(
  dir: string,
  meta: Omit<PreparedDatasetJson, "format" | "version" | "source" | "splits">,
  rows: ManifestRow[],
): string {
  const multi = meta.task === "multilabel";
  const hasRegion = rows.some((r) => r.x !== undefined);
  const head = [
    "path",
    ...(multi ? meta.classes : ["label"]),
    "group",
    "split",
    ...(hasRegion ? ["x", "y", "size"] : []),
  ];
  const lines = [head.map(csvCell).join(",")];
  for (const r of rows) {
    const cells = [r.path, ...(multi ? (r.labels ?? []).map(String) : [r.label ?? ""]), r.group ?? "", r.split ?? ""];
    if (hasRegion) cells.push(String(r.x ?? ""), String(r.y ?? ""), String(r.size ?? ""));
    lines.push(cells.map(csvCell).join(","));
  }
  fs.mkdirSync(dir, { recursive: true });
  writeFileAtomic(path.join(dir, "manifest.csv"), lines.join("\n") + "\n");
  const splits: Record<string, number> = {};
  for (const r of rows) splits[r.split ?? "(none)"] = (splits[r.split ?? "(none)"] ?? 0) + 1;
  return writeDescriptor(dir, { ...meta, source: { kind: "manifest", file: "manifest.csv" }, splits });
}

/** Writes dataset.json (for npz-backed datasets, or after writePreparedDataset). Returns its path. */
export function writeDescriptor(dir: string, meta: Omit<PreparedDatasetJson, "format" | "version">): string {
  const file = path.join(dir, DATASET_JSON);
  const full: PreparedDatasetJson = { format: "peftlab-dataset", version: 1, ...meta };
  writeFileAtomic(file, JSON.stringify(full, null, 2) + "\n");
  return file;
}

function csvCell(s: string): string {
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}
