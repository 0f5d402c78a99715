/**
 * Dataset sources on disk: an image folder (one subfolder per class, like torchvision's ImageFolder), optionally
 * under train/val/test folders, and MED-PEFT split lists (`relative/path l1 l2 ...`, one file per split).
 * CSV/JSON manifests are in manifest.ts, MedMNIST npz files in sources_npz.ts.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { DataError } from "../errors";
import { assertNoEmptyClass, type ImageDataset, type ImageItem, type TaskKind } from "./types";

/** File extensions the decoder reads (sharp: JPEG, PNG, TIFF, WebP; bmp-js: BMP; dicom-parser: DICOM). */
export const IMAGE_EXTENSIONS = [".jpg", ".jpeg", ".png", ".tif", ".tiff", ".webp", ".bmp", ".dcm"];

const SPLIT_NAMES = new Set(["train", "val", "valid", "validation", "test"]);

export interface ImageFolderOptions {
  name?: string;
  extensions?: string[];
  /** "class": root/<class>/...; "split/class": root/<split>/<class>/...; "auto" (default) picks split/class when
   * every subfolder is a split name. */
  layout?: "auto" | "class" | "split/class";
}

/** Loads an image folder: sorted class names (as ImageFolder), files found recursively, sorted by path. */
export function imageFolderDataset(root: string, opts: ImageFolderOptions = {}): ImageDataset {
  const exts = (opts.extensions ?? IMAGE_EXTENSIONS).map((e) => e.toLowerCase());
  const top = listDirs(root);
  const layout =
    opts.layout === undefined || opts.layout === "auto"
      ? top.length > 0 && top.every((d) => SPLIT_NAMES.has(d))
        ? "split/class"
        : "class"
      : opts.layout;
  const name = opts.name ?? path.basename(path.resolve(root));
  const splits = layout === "split/class" ? top : [undefined];
  const classSet = new Set<string>();
  for (const s of splits) for (const c of listDirs(s === undefined ? root : path.join(root, s))) classSet.add(c);
  const classes = [...classSet].sort(codePointCompare);
  if (classes.length === 0) {
    throw new DataError("Image folder has no class subfolders", {
      where: root,
      expected: layout === "class" ? "root/<class>/<image>" : "root/<split>/<class>/<image>",
      got: "no subfolders",
      fix: "point at the folder whose subfolders are the class names",
    });
  }
  const items: ImageItem[] = [];
  for (const s of splits) {
    const base = s === undefined ? root : path.join(root, s);
    classes.forEach((c, label) => {
      const dir = path.join(base, c);
      if (!fs.existsSync(dir)) return;
      for (const f of walkFiles(dir)) {
        if (!exts.includes(path.extname(f).toLowerCase())) continue;
        const rel = path.relative(root, f).split(path.sep).join("/");
        items.push({ id: rel, path: f, label, split: s === undefined ? undefined : normaliseSplit(s) });
      }
    });
  }
  const ds: ImageDataset = { name, classes, task: "multiclass", items };
  assertNoEmptyClass(ds, root);
  return ds;
}

/** Maps valid/validation to val so every source names splits alike. */
export function normaliseSplit(s: string): string {
  const l = s.toLowerCase();
  return l === "valid" || l === "validation" ? "val" : l;
}

function listDirs(dir: string): string[] {
  let ents: fs.Dirent[];
  try {
    ents = fs.readdirSync(dir, { withFileTypes: true });
  } catch (e) {
    throw new DataError("Cannot read dataset folder", {
      where: dir,
      expected: "a readable folder",
      got: (e as Error).message,
      fix: "check the path (or run `peftlab data prepare <name>` first)",
    });
  }
  return ents
    .filter((e) => e.isDirectory() || (e.isSymbolicLink() && fs.statSync(path.join(dir, e.name)).isDirectory()))
    .map((e) => e.name)
    .filter((n) => !n.startsWith("."))
    .sort(codePointCompare);
}

/** Files under dir, recursively, sorted per folder (os.walk order with sorted names, as ImageFolder). */
export function walkFiles(dir: string): string[] {
  const out: string[] = [];
  const ents = fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => codePointCompare(a.name, b.name));
  for (const e of ents) {
    if (e.name.startsWith(".")) continue;
    const p = path.join(dir, e.name);
    const isDir = e.isDirectory() || (e.isSymbolicLink() && fs.statSync(p).isDirectory());
    if (isDir) out.push(...walkFiles(p));
    else out.push(p);
  }
  return out;
}

/** String order by code point, as Python's sorted() (not locale order). */
export function codePointCompare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export interface SplitListOptions {
  name?: string;
  /** Label names, one per label column in the lines (NIH: 14 findings). */
  classes: string[];
  /** Folder the image paths in the lines are relative to. */
  imageRoot: string;
  /** multilabel (default; MED-PEFT trains every dataset with BCE, RSNA as one label) or multiclass (one label). */
  task?: TaskKind;
}

/** Loads MED-PEFT split lists: one file per split, lines `relative/path 0 1 0 ...`; the split is the map key. */
export function splitListDataset(files: Record<string, string>, opts: SplitListOptions): ImageDataset {
  const task = opts.task ?? "multilabel";
  const L = opts.classes.length;
  const items: ImageItem[] = [];
  for (const [split, file] of Object.entries(files)) {
    const text = readText(file);
    text.split(/\r?\n/).forEach((raw, i) => {
      const line = raw.trim();
      if (line === "") return;
      const parts = line.split(/\s+/);
      const rel = parts[0];
      const nums = parts.slice(1).map(Number);
      const where = `${file}:${i + 1}`;
      const wantN = task === "multilabel" ? L : 1;
      if (nums.length !== wantN || nums.some((v) => !Number.isInteger(v))) {
        throw new DataError("Split-list line has the wrong labels", {
          where,
          expected: `a path then ${wantN} integer label(s)`,
          got: JSON.stringify(line.slice(0, 200)),
          fix: "check the classes option matches the list (NIH has 14 labels, CheXpert 5, RSNA 1)",
        });
      }
      const item: ImageItem = { id: rel, path: path.join(opts.imageRoot, rel), split: normaliseSplit(split) };
      if (task === "multilabel") {
        if (nums.some((v) => v !== 0 && v !== 1)) throw unknownLabel(where, line, "0 or 1 per label");
        item.labels = nums;
      } else {
        if (nums[0] < 0 || nums[0] >= L) throw unknownLabel(where, line, `a class index in [0, ${L})`);
        item.label = nums[0];
      }
      items.push(item);
    });
  }
  return { name: opts.name ?? "split-lists", classes: [...opts.classes], task, items };
}

function unknownLabel(where: string, line: string, expected: string): DataError {
  return new DataError("Unknown label in row", {
    where,
    expected,
    got: JSON.stringify(line.slice(0, 200)),
    fix: "fix the row or the class list",
  });
}

/** Reads a UTF-8 text file, as a DataError naming the file when it cannot be read. */
export function readText(file: string): string {
  try {
    return fs.readFileSync(file, "utf8");
  } catch (e) {
    throw new DataError("Cannot read file", {
      where: file,
      expected: "a readable text file",
      got: (e as Error).message,
      fix: "check the path",
    });
  }
}
