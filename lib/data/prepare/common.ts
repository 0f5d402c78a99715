/** Shared pieces of the dataset preparers: the context they run in and image-folder → manifest conversion. */
import * as fs from "node:fs";
import * as path from "node:path";
import { ConfigError } from "../../errors";
import { imageFolderDataset } from "../sources";
import { stratifiedSplit, type SplitFractions } from "../splits";
import type { ManifestRow } from "../prepared";
import type { ImageDataset } from "../types";

/** What every preparer gets. */
export interface PrepareContext {
  /** Output folder for this dataset (dataset.json, manifest.csv, images). */
  dest: string;
  /** Where downloads are kept (resumable, reused). Default `<dest>/downloads`. */
  downloads: string;
  /** Overrides the official base URL (tests serve a local copy). */
  baseUrl?: string;
  /** Expected checksums by file name, overriding the published ones (tests). */
  checksums?: Record<string, { md5?: string; sha256?: string }>;
  /** Preparer-specific options from the CLI (`--size 224`, `--name bloodmnist`, ...). */
  options: Record<string, string | undefined>;
  progress?: boolean;
  log: (line: string) => void;
}

/** What a preparer reports. */
export interface PrepareResult {
  descriptor: string;
  counts: Record<string, number>;
  notes: string[];
}

/** A dataset preparer: `peftlab data prepare <name>`. */
export interface Preparer {
  name: string;
  description: string;
  prepare(ctx: PrepareContext): Promise<PrepareResult>;
}

/** Builds a context with defaults. */
export function makeContext(dest: string, o: Partial<Omit<PrepareContext, "dest">> = {}): PrepareContext {
  return {
    dest,
    downloads: o.downloads ?? path.join(dest, "downloads"),
    baseUrl: o.baseUrl,
    checksums: o.checksums,
    options: o.options ?? {},
    progress: o.progress,
    log: o.log ?? ((s) => process.stderr.write(s + "\n")),
  };
}

/** A required option, or a ConfigError naming it. */
export function requireOption(ctx: PrepareContext, key: string, hint: string): string {
  const v = ctx.options[key];
  if (v === undefined || v === "")
    throw new ConfigError(`Option --${key} is required`, {
      where: `--${key}`,
      expected: hint,
      got: "nothing",
      fix: `pass --${key} ${hint}`,
    });
  return v;
}

/** The URL of `file` under the context's base URL, or the official one. */
export function urlFor(ctx: PrepareContext, official: string, file: string): string {
  return ctx.baseUrl ? `${ctx.baseUrl.replace(/\/$/, "")}/${file}` : official;
}

/** Manifest rows for an image folder (paths relative to `dest`), with stratified splits when the folder has none. */
export function folderRows(ds: ImageDataset, dest: string, fractions: SplitFractions, seed: number): ManifestRow[] {
  const hasSplits = ds.items.every((i) => i.split !== undefined);
  const withSplit = hasSplits ? ds.items : Object.values(stratifiedSplit(ds, fractions, seed)).flatMap((d) => d.items);
  const order = new Map(ds.items.map((it, i) => [it.id, i]));
  return [...withSplit]
    .sort((a, b) => order.get(a.id)! - order.get(b.id)!)
    .map((it) => ({
      path: path.relative(dest, it.path!).split(path.sep).join("/"),
      label: ds.classes[it.label!],
      group: it.group,
      split: it.split,
    }));
}

/** Finds the folder under `root` whose subfolders include all of `classes` (archives nest differently). */
export function findClassRoot(root: string, classes: string[], depth = 4): string | undefined {
  const subs = fs.existsSync(root)
    ? fs.readdirSync(root, { withFileTypes: true }).filter((e) => e.isDirectory() && !e.name.startsWith("__MACOSX"))
    : [];
  const names = new Set(subs.map((e) => e.name.toLowerCase()));
  if (classes.every((c) => names.has(c.toLowerCase()))) return root;
  if (depth === 0) return undefined;
  for (const e of subs) {
    const r = findClassRoot(path.join(root, e.name), classes, depth - 1);
    if (r) return r;
  }
  return undefined;
}

/** Loads an extracted image folder, ignoring macOS resource forks. */
export function loadFolder(root: string, name: string): ImageDataset {
  const ds = imageFolderDataset(root, { name, layout: "class" });
  return {
    ...ds,
    items: ds.items.filter((it) => !it.id.includes("__MACOSX") && !path.basename(it.path!).startsWith("._")),
  };
}
