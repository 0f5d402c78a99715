/**
 * PBC peripheral blood cells (Acevedo et al. 2020, Mendeley Data snkd93bnjr v1, CC BY 4.0): 17,092 JPEGs in 8 class
 * folders. Mendeley publishes no checksum for the zip, so only its size is checked when given. The split is this
 * project's stratified 70/10/20 (seed 0), as for data/pbc_28.npz; it is not MedMNIST's BloodMNIST split.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { DataError } from "../../errors";
import { writePreparedDataset } from "../prepared";
import { extractArchive } from "./archive";
import { download } from "./download";
import {
  findClassRoot,
  folderRows,
  loadFolder,
  type PrepareContext,
  type Preparer,
  type PrepareResult,
  urlFor,
} from "./common";

export const PBC_CLASSES = [
  "basophil",
  "eosinophil",
  "erythroblast",
  "ig",
  "lymphocyte",
  "monocyte",
  "neutrophil",
  "platelet",
];
const PBC_FILE = "PBC_dataset_normal_DIB.zip";
const PBC_URL =
  "https://data.mendeley.com/public-files/datasets/snkd93bnjr/files/2fc38728-2ae7-4a62-a857-032af82334c3/file_downloaded";

/** Downloads and extracts PBC, then writes a manifest with a stratified 70/10/20 split. */
export async function preparePbc(ctx: PrepareContext): Promise<PrepareResult> {
  const zip = path.join(ctx.downloads, PBC_FILE);
  await download({
    url: urlFor(ctx, PBC_URL, PBC_FILE),
    dest: zip,
    ...(ctx.checksums?.[PBC_FILE] ?? {}),
    progress: ctx.progress,
    log: ctx.log,
  });
  const images = path.join(ctx.dest, "images");
  if (!fs.existsSync(images)) {
    const tmp = `${images}.tmp`;
    fs.rmSync(tmp, { recursive: true, force: true });
    await extractArchive(zip, tmp, (e) => !e.includes("__MACOSX") && (e.endsWith("/") || /\.(jpe?g|png)$/i.test(e)));
    fs.renameSync(tmp, images);
  }
  const root = findClassRoot(images, PBC_CLASSES);
  if (!root)
    throw new DataError("PBC archive has no class folders", {
      where: images,
      expected: PBC_CLASSES.join(", "),
      got: fs.readdirSync(images).join(", "),
      fix: "delete the folder and the zip and run again",
    });
  const ds = loadFolder(root, "pbc");
  const seed = Number(ctx.options.seed ?? "0");
  const rows = folderRows(ds, ctx.dest, { train: 0.7, val: 0.1, test: 0.2 }, seed);
  const descriptor = writePreparedDataset(
    ctx.dest,
    {
      name: "pbc",
      task: "multiclass",
      classes: ds.classes,
      origin: {
        url: PBC_URL,
        license: "CC BY 4.0",
        citation: "Acevedo et al., Data in Brief 2020, doi:10.17632/snkd93bnjr.1",
        split: `stratified 70/10/20, seed ${seed} (peftlab)`,
      },
    },
    rows,
  );
  const counts: Record<string, number> = {};
  for (const r of rows) counts[r.split!] = (counts[r.split!] ?? 0) + 1;
  return { descriptor, counts, notes: [] };
}

export const pbc: Preparer = {
  name: "pbc",
  description: "PBC blood-cell JPEGs (Mendeley snkd93bnjr), stratified 70/10/20",
  prepare: preparePbc,
};
