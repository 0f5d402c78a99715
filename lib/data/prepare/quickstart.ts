/**
 * Fetches what the quickstart (`npm run demo`) needs on a machine without ../shared, in shared/'s layout so the same
 * notebook runs unchanged with PEFTLAB_SHARED pointing here:
 *   <dest>/data/pbc-jpeg/<class>/*.jpg            — `perClass` PBC JPEGs per class (seeded choice), from Mendeley
 *   <dest>/weights/mobilenet_v2_035_224_tfjs/     — ImageNet MobileNetV2-0.35 (224, no top), TF.js layers format,
 *                                                    as published for Teachable Machine (Keras names)
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { DataError } from "../../errors";
import { writeFileAtomic } from "../../io/atomic";
import { createRng } from "../rng";
import { download } from "./download";
import { findClassRoot, makeContext } from "./common";
import { PBC_CLASSES, preparePbc } from "./pbc";

/** Where the public TF.js MobileNetV2-0.35 (224, no top) lives. */
export const MOBILENET_V2_035_TFJS_URL =
  "https://storage.googleapis.com/teachable-machine-models/mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_224_no_top/model.json";

export interface QuickstartOptions {
  dest: string;
  /** JPEGs kept per PBC class (shared/ has 300). */
  perClass?: number;
  seed?: number;
  /** Override URLs (tests serve local copies). */
  modelUrl?: string;
  pbcBaseUrl?: string;
  log?: (line: string) => void;
}

/** Downloads (resumably) and lays out the quickstart data and weights; returns the folder to use as PEFTLAB_SHARED. */
export async function prepareQuickstart(o: QuickstartOptions): Promise<string> {
  const log = o.log ?? ((s: string) => process.stderr.write(s + "\n"));
  await fetchTfjsModel(
    o.modelUrl ?? MOBILENET_V2_035_TFJS_URL,
    path.join(o.dest, "weights", "mobilenet_v2_035_224_tfjs"),
    log,
  );
  const target = path.join(o.dest, "data", "pbc-jpeg");
  if (!fs.existsSync(target)) {
    const raw = path.join(o.dest, "raw", "pbc");
    await preparePbc(makeContext(raw, { baseUrl: o.pbcBaseUrl, log }));
    const root = findClassRoot(path.join(raw, "images"), PBC_CLASSES);
    if (!root)
      throw new DataError("PBC images not found after preparation", { where: raw, expected: PBC_CLASSES.join(", ") });
    subsampleFolder(root, target, o.perClass ?? 300, o.seed ?? 0);
    log(`[quickstart] ${target}: ${o.perClass ?? 300} images per class`);
  }
  return o.dest;
}

/** Downloads a TF.js layers model: model.json, then every shard its weightsManifest lists (relative to it). */
export async function fetchTfjsModel(url: string, dir: string, log: (l: string) => void): Promise<void> {
  const json = path.join(dir, "model.json");
  if (fs.existsSync(json)) return;
  fs.mkdirSync(dir, { recursive: true });
  const tmpJson = path.join(dir, ".model.json.download");
  await download({ url, dest: tmpJson, log });
  const model = JSON.parse(fs.readFileSync(tmpJson, "utf8")) as { weightsManifest?: { paths: string[] }[] };
  if (!Array.isArray(model.weightsManifest)) {
    throw new DataError("Downloaded model.json has no weightsManifest", {
      where: url,
      expected: "a TF.js layers model",
    });
  }
  for (const g of model.weightsManifest) {
    for (const p of g.paths) await download({ url: new URL(p, url).toString(), dest: path.join(dir, p), log });
  }
  // model.json last: its presence means the folder is complete.
  writeFileAtomic(json, fs.readFileSync(tmpJson));
  fs.rmSync(tmpJson, { force: true });
}

/** Copies a seeded choice of `perClass` images per class folder into `dest` (atomically, via a staging folder). */
export function subsampleFolder(src: string, dest: string, perClass: number, seed: number): void {
  const staging = `${dest}.staging`;
  fs.rmSync(staging, { recursive: true, force: true });
  for (const cls of fs.readdirSync(src).sort()) {
    const dir = path.join(src, cls);
    if (!fs.statSync(dir).isDirectory()) continue;
    const files = fs
      .readdirSync(dir)
      .filter((f) => /\.(jpe?g|png)$/i.test(f))
      .sort();
    createRng(seed).shuffle(files);
    fs.mkdirSync(path.join(staging, cls), { recursive: true });
    for (const f of files.slice(0, perClass).sort()) fs.copyFileSync(path.join(dir, f), path.join(staging, cls, f));
  }
  fs.mkdirSync(path.dirname(dest), { recursive: true });
  fs.renameSync(staging, dest);
}
