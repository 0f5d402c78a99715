/**
 * MedMNIST v2 / MedMNIST+ (all 2D datasets at 28, 64, 128 and 224 px) from Zenodo record 10519652, verified against
 * the MD5 sums medmnist/info.py publishes. The .npz is kept as is; dataset.json points at it with the official split.
 */
import * as path from "node:path";
import { ConfigError, DataError } from "../../errors";
import { writeDescriptor } from "../prepared";
import { npzDataset } from "../sources_npz";
import { download } from "./download";
import { MEDMNIST_INFO, MEDMNIST_SIZES, medmnistFileName, medmnistUrl } from "./medmnist_info";
import { type PrepareContext, type Preparer, type PrepareResult, requireOption, urlFor } from "./common";

/** Downloads, verifies and registers one MedMNIST dataset at one size (`--name bloodmnist --size 224`). */
export async function prepareMedmnist(ctx: PrepareContext): Promise<PrepareResult> {
  const name = requireOption(ctx, "name", `one of ${Object.keys(MEDMNIST_INFO).join(", ")}`).toLowerCase();
  const size = Number(ctx.options.size ?? "28");
  const info = MEDMNIST_INFO[name];
  if (!info)
    throw new ConfigError(`Unknown MedMNIST dataset "${name}"`, {
      where: "--name",
      expected: Object.keys(MEDMNIST_INFO).join(", "),
      got: name,
      fix: "pass one of the 2D names listed (the 3D MedMNIST sets are not supported)",
    });
  if (!(MEDMNIST_SIZES as readonly number[]).includes(size))
    throw new ConfigError("Unknown MedMNIST size", {
      where: "--size",
      expected: MEDMNIST_SIZES.join(", "),
      got: String(size),
    });
  const file = medmnistFileName(name, size);
  const sums = ctx.checksums?.[file] ?? { md5: info.md5[String(size) as "28"] };
  const dest = path.join(ctx.dest, file);
  const r = await download({
    url: urlFor(ctx, medmnistUrl(name, size), file),
    dest,
    ...sums,
    progress: ctx.progress,
    log: ctx.log,
  });
  ctx.log(`${file}: ${r.skipped ? "already present" : `downloaded ${r.bytes} bytes`}, md5 ${r.md5}`);
  const ds = npzDataset(dest, { name: `${name}_${size}`, classes: info.labels });
  const counts: Record<string, number> = {};
  for (const it of ds.items) counts[it.split!] = (counts[it.split!] ?? 0) + 1;
  const notes: string[] = [];
  const side = ds.items[0]?.pixels?.width;
  if (side !== size)
    throw new DataError("MedMNIST file has the wrong image size", {
      where: dest,
      expected: `${size} px`,
      got: `${side} px`,
    });
  if (!ctx.checksums) {
    for (const s of ["train", "val", "test"] as const) {
      if (counts[s] !== info.samples[s]) notes.push(`${s}: ${counts[s]} items, MedMNIST lists ${info.samples[s]}`);
    }
  }
  const descriptor = writeDescriptor(ctx.dest, {
    name: `${name}_${size}`,
    task: ds.task,
    classes: info.labels,
    source: { kind: "npz", file },
    splits: counts,
    origin: {
      url: medmnistUrl(name, size),
      md5: r.md5,
      license: "CC BY 4.0",
      citation: "Yang et al., MedMNIST v2, Sci. Data 2023",
      split: "official MedMNIST train/val/test",
      task: info.task,
    },
  });
  return { descriptor, counts, notes };
}

export const medmnist: Preparer = {
  name: "medmnist",
  description: "MedMNIST v2/+ 2D dataset (--name bloodmnist|chestmnist|... --size 28|64|128|224) from Zenodo 10519652",
  prepare: prepareMedmnist,
};
