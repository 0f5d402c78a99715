/**
 * Fetches what the quickstart (`npm run demo`) needs on a machine without ../shared, in shared/'s layout so the same
 * notebook runs unchanged with PEFTLAB_SHARED pointing here:
 *   <dest>/data/pbc-jpeg/<class>/*.jpg            — `perClass` PBC JPEGs per class (seeded choice), from Mendeley
 *   <dest>/weights/mobilenet_v2_035_224_tfjs/     — ImageNet MobileNetV2-0.35 (224, no top), TF.js layers format,
 *                                                    as published for Teachable Machine (Keras names)
 *   <dest>/weights/vit_tiny_patch16_224/model.safetensors — timm's ViT-Ti/16 AugReg (in21k → in1k) from the hub,
 *                                                    the original the shared copy is inferred to be
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { DataError } from "../../errors";
import { writeFileAtomic } from "../../io/atomic";
import { SafetensorsFile } from "../../io/safetensors";
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
  /** URL of the ViT-Ti safetensors (default VIT_TINY_HUB_URL); null skips it. */
  vitUrl?: string | null;
  log?: (line: string) => void;
}

/**
 * timm's ViT-Ti/16 on the Hugging Face hub: registry id vit_tiny_patch16_224.augreg_in21k_ft_in1k (hub repo and file
 * as in lib/models/pretrained_vit.ts; a test keeps the two equal).
 */
export const VIT_TINY_HUB_URL =
  "https://huggingface.co/timm/vit_tiny_patch16_224.augreg_in21k_ft_in1k/resolve/main/model.safetensors";

/** Downloads (resumably) and lays out the quickstart data and weights; returns the folder to use as PEFTLAB_SHARED. */
export async function prepareQuickstart(o: QuickstartOptions): Promise<string> {
  const log = o.log ?? ((s: string) => process.stderr.write(s + "\n"));
  await fetchTfjsModel(
    o.modelUrl ?? MOBILENET_V2_035_TFJS_URL,
    path.join(o.dest, "weights", "mobilenet_v2_035_224_tfjs"),
    log,
  );
  if (o.vitUrl !== null) await fetchVitTiny(o.vitUrl ?? VIT_TINY_HUB_URL, o.dest, log);
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

/**
 * Downloads the ViT-Ti safetensors to <root>/weights/vit_tiny_patch16_224/model.safetensors (shared/'s layout) and
 * checks it is a timm ViT-Ti/16 state dict before it takes its final name.
 */
export async function fetchVitTiny(url: string, root: string, log: (l: string) => void): Promise<string> {
  const dest = path.join(root, "weights", "vit_tiny_patch16_224", "model.safetensors");
  if (fs.existsSync(dest)) return dest;
  fs.mkdirSync(path.dirname(dest), { recursive: true });
  const tmp = `${dest}.download`;
  await download({ url, dest: tmp, log });
  let n = 0;
  let qkv: readonly number[] | undefined;
  try {
    const f = SafetensorsFile.open(tmp);
    try {
      n = f.keys().length;
      qkv = f.keys().includes("blocks.11.attn.qkv.weight") ? f.info("blocks.11.attn.qkv.weight").shape : undefined;
    } finally {
      f.close();
    }
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
  if (!qkv || qkv[0] !== 576 || qkv[1] !== 192) {
    fs.rmSync(tmp, { force: true });
    throw new DataError("The downloaded file is not timm's ViT-Ti/16", {
      where: url,
      expected: "a safetensors state dict in timm names with blocks.11.attn.qkv.weight of shape [576, 192]",
      got: qkv ? `blocks.11.attn.qkv.weight of shape [${qkv.join(", ")}]` : `${n} tensors without blocks.11.attn.qkv`,
      fix: "check the URL (the hub's timm/vit_tiny_patch16_224.augreg_in21k_ft_in1k, file model.safetensors)",
    });
  }
  fs.renameSync(tmp, dest);
  log(`[quickstart] ${dest}: ViT-Ti/16 (${n} tensors)`);
  return dest;
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
