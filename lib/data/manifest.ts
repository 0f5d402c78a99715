/**
 * CSV / JSON manifests: one row per image, `path` relative to the manifest's folder, a `label` column (class name or
 * index) or several 0/1 label columns (multi-label), optional `group` (patient, slide) and `split`.
 * A region column set (`x`, `y`, `size`) turns a row into a patch of a large image (seed 001 cell patches).
 */
import * as path from "node:path";
import { parse } from "csv-parse/sync";
import { DataError } from "../errors";
import { codePointCompare, normaliseSplit, readText } from "./sources";
import { assertNoEmptyClass, type ImageDataset, type ImageItem } from "./types";

export interface ManifestOptions {
  name?: string;
  pathColumn?: string;
  /** Single-label column (class name or integer index). Default "label". */
  labelColumn?: string;
  /** Multi-label: these columns hold 0/1 and become `labels` (in this order); they are the class names. */
  labelColumns?: string[];
  groupColumn?: string;
  splitColumn?: string;
  idColumn?: string;
  /** Class names in index order. Default: integers 0..max when every label is an integer, else sorted names. */
  classes?: string[];
}

type Row = Record<string, unknown>;

/** Loads a CSV (.csv/.tsv) or JSON manifest (array of rows, or {classes, items}) into a dataset. */
export function manifestDataset(file: string, opts: ManifestOptions = {}): ImageDataset {
  const text = readText(file);
  let rows: Row[];
  let classes = opts.classes;
  if (/\.json$/i.test(file)) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (e) {
      throw new DataError("Manifest is not valid JSON", {
        where: file,
        got: (e as Error).message,
        fix: "fix the JSON",
      });
    }
    if (Array.isArray(parsed)) rows = parsed as Row[];
    else {
      const obj = parsed as { items?: Row[]; classes?: string[] };
      rows = obj.items ?? [];
      classes = classes ?? obj.classes;
    }
  } else {
    try {
      rows = parse(text, {
        columns: true,
        skip_empty_lines: true,
        trim: true,
        delimiter: /\.tsv$/i.test(file) ? "\t" : ",",
      }) as Row[];
    } catch (e) {
      throw new DataError("Manifest is not valid CSV", { where: file, got: (e as Error).message, fix: "fix the CSV" });
    }
  }
  return rowsToDataset(rows, file, { ...opts, classes });
}

/** Converts manifest rows (already parsed) to a dataset; `file` anchors relative paths and error messages. */
export function rowsToDataset(rows: Row[], file: string, opts: ManifestOptions): ImageDataset {
  const dir = path.dirname(path.resolve(file));
  const pathCol = opts.pathColumn ?? "path";
  const labelCol = opts.labelColumn ?? "label";
  const groupCol = opts.groupColumn ?? "group";
  const splitCol = opts.splitColumn ?? "split";
  const multi = opts.labelColumns !== undefined && opts.labelColumns.length > 0;
  if (rows.length === 0) {
    throw new DataError("Manifest has no rows", {
      where: file,
      expected: "at least one row",
      got: "0",
      fix: "check the file",
    });
  }
  const classes = multi ? [...opts.labelColumns!] : (opts.classes ?? inferClasses(rows, labelCol, file));
  const index = new Map(classes.map((c, i) => [c, i]));
  const items: ImageItem[] = rows.map((r, i) => {
    const where = `${file} row ${i + 1}`;
    const p = str(r[pathCol]);
    if (p === "") throw missing(where, pathCol);
    const item: ImageItem = { id: str(r[opts.idColumn ?? ""]) || p, path: path.resolve(dir, p) };
    if (multi) item.labels = classes.map((c) => toBit(r[c], where, c));
    else item.label = toLabel(r[labelCol], index, classes, where);
    const g = str(r[groupCol]);
    if (g !== "") item.group = g;
    const s = str(r[splitCol]);
    if (s !== "") item.split = normaliseSplit(s);
    if (r.x !== undefined && r.y !== undefined && str(r.x) !== "") {
      item.region = { x: Number(r.x), y: Number(r.y), size: Number(r.size ?? 224) };
      item.id = str(r[opts.idColumn ?? ""]) || `${p}@${item.region.x},${item.region.y}`;
    }
    return item;
  });
  const ds: ImageDataset = {
    name: opts.name ?? path.basename(file).replace(/\.[^.]+$/, ""),
    classes,
    task: multi ? "multilabel" : "multiclass",
    items,
  };
  assertNoEmptyClass(ds, file);
  return ds;
}

function inferClasses(rows: Row[], col: string, file: string): string[] {
  const vals = rows.map((r) => str(r[col]));
  if (vals.some((v) => v === "")) {
    const i = vals.findIndex((v) => v === "");
    throw missing(`${file} row ${i + 1}`, col);
  }
  if (vals.every((v) => /^\d+$/.test(v))) {
    const max = Math.max(...vals.map(Number));
    return Array.from({ length: max + 1 }, (_, i) => String(i));
  }
  return [...new Set(vals)].sort(codePointCompare);
}

function toLabel(v: unknown, index: Map<string, number>, classes: string[], where: string): number {
  const s = str(v);
  const byName = index.get(s);
  if (byName !== undefined) return byName;
  if (/^\d+$/.test(s) && Number(s) < classes.length) return Number(s);
  throw new DataError("Unknown label in manifest row", {
    where,
    expected: `one of ${classes.slice(0, 20).join(", ")}${classes.length > 20 ? ", ..." : ""} (or an index below ${classes.length})`,
    got: JSON.stringify(s),
    fix: "fix the row, or pass the full class list as `classes`",
  });
}

function toBit(v: unknown, where: string, col: string): number {
  const s = str(v);
  if (s === "1" || s === "1.0" || s === "true") return 1;
  if (s === "0" || s === "0.0" || s === "false" || s === "") return 0;
  throw new DataError("Unknown label in manifest row", {
    where: `${where}, column ${col}`,
    expected: "0 or 1",
    got: JSON.stringify(s),
    fix: "multi-label columns hold 0/1 (map CheXpert's -1 'uncertain' to 0 or 1 first)",
  });
}

function missing(where: string, col: string): DataError {
  return new DataError(`Manifest row has no ${col}`, {
    where,
    expected: `a non-empty "${col}" column`,
    got: "empty or missing",
    fix: `add the column, or name the right one in the options (${col}Column)`,
  });
}

function str(v: unknown): string {
  return v === undefined || v === null ? "" : String(v).trim();
}
