/**
 * Kaggle-hosted cytology sets of seed 000 (SIPaKMeD, BCFC, MLCC). With KAGGLE_USERNAME/KAGGLE_KEY set the zip is
 * fetched from Kaggle's API over HTTPS; without them the exact manual steps are printed and the preparer waits for
 * the zip in the downloads folder. Splits: the paper's ratios are not in its code [NOT FOUND], so a stratified
 * 70/10/20 split (seed 0) is written and recorded in dataset.json.
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

interface KaggleSpec {
  name: string;
  slug: string;
  /** Class names written to the manifest, and the folder names they come from (case-insensitive). */
  classes: { name: string; folders: string[] }[];
  /** Keep only files whose archive path matches (SIPaKMeD: the CROPPED single cells). */
  keep?: RegExp;
}

const SPECS: Record<string, KaggleSpec> = {
  sipakmed: {
    name: "sipakmed",
    slug: "prahladmehandiratta/cervical-cancer-largest-dataset-sipakmed",
    classes: ["Dyskeratotic", "Koilocytotic", "Metaplastic", "Parabasal", "Superficial-Intermediate"].map((c) => ({
      name: c,
      folders: [`im_${c}`, c],
    })),
    keep: /CROPPED\/[^/]+\.bmp$/i,
  },
  bcfc: {
    name: "bcfc",
    slug: "cmacus/body-cavity-fluid-cytology-images",
    classes: [
      { name: "benign", folders: ["benign", "Benign"] },
      { name: "malignant", folders: ["malignant", "Malignant"] },
    ],
  },
  mlcc: {
    name: "mlcc",
    slug: "blank1508/mendeley-lbc-cervical-cancer-",
    classes: [
      { name: "HSIL", folders: ["HSIL", "High squamous intra-epithelial lesion"] },
      { name: "LSIL", folders: ["LSIL", "Low squamous intra-epithelial lesion"] },
      { name: "NL", folders: ["NL", "Negative for Intraepithelial malignancy"] },
      { name: "SCC", folders: ["SCC", "Squamous cell carcinoma"] },
    ],
  },
};

/** The manual steps printed when no Kaggle credentials are set. */
export function kaggleSteps(spec: { slug: string }, zip: string): string {
  return [
    `This dataset is on Kaggle and needs a (free) Kaggle login:`,
    `  1. Sign in at https://www.kaggle.com and open https://www.kaggle.com/datasets/${spec.slug}`,
    `  2. Click "Download" (the whole dataset as one zip), or create an API token (Settings → API → Create New Token)`,
    `     and export KAGGLE_USERNAME and KAGGLE_KEY, then run this command again.`,
    `  3. Put the zip at: ${zip}`,
    `  4. Run this command again; it extracts the zip and writes the manifest.`,
  ].join("\n");
}

async function fetchKaggle(ctx: PrepareContext, spec: KaggleSpec, zip: string): Promise<void> {
  if (fs.existsSync(zip)) return;
  const user = process.env.KAGGLE_USERNAME;
  const key = process.env.KAGGLE_KEY;
  const file = path.basename(zip);
  if (!ctx.baseUrl && (!user || !key)) {
    throw new DataError(`${spec.name} needs a manual download`, {
      where: zip,
      expected: "the Kaggle zip",
      got: "no file and no KAGGLE_USERNAME/KAGGLE_KEY",
      fix: "\n" + kaggleSteps(spec, zip),
    });
  }
  const headers: Record<string, string> =
    user && key && !ctx.baseUrl ? { authorization: `Basic ${Buffer.from(`${user}:${key}`).toString("base64")}` } : {};
  await download({
    url: urlFor(ctx, `https://www.kaggle.com/api/v1/datasets/download/${spec.slug}`, file),
    dest: zip,
    headers,
    ...(ctx.checksums?.[file] ?? {}),
    progress: ctx.progress,
    log: ctx.log,
  });
}

/** Prepares one of the Kaggle cytology sets. */
export async function prepareKaggleFolder(ctx: PrepareContext, spec: KaggleSpec): Promise<PrepareResult> {
  const zip = path.join(ctx.downloads, `${spec.name}.zip`);
  await fetchKaggle(ctx, spec, zip);
  const raw = path.join(ctx.dest, "raw");
  if (!fs.existsSync(raw)) {
    await extractArchive(zip, `${raw}.tmp`, (e) => !e.includes("__MACOSX"));
    fs.renameSync(`${raw}.tmp`, raw);
  }
  const root =
    findClassRoot(
      raw,
      spec.classes.map((c) => c.folders[0]),
    ) ??
    findClassRoot(
      raw,
      spec.classes.map((c) => c.folders[c.folders.length - 1]),
    );
  if (!root)
    throw new DataError(`${spec.name} archive does not have the expected class folders`, {
      where: raw,
      expected: spec.classes.map((c) => c.folders.join(" or ")).join("; "),
      got: fs.readdirSync(raw).join(", "),
      fix: "check the zip is the Kaggle dataset named in data-scripts/README.md",
    });
  const ds0 = loadFolder(root, spec.name);
  const rename = new Map<string, string>();
  for (const c of spec.classes) for (const f of c.folders) rename.set(f.toLowerCase(), c.name);
  const items = ds0.items.filter((it) => !spec.keep || spec.keep.test(it.id.split(path.sep).join("/")));
  const classes = spec.classes.map((c) => c.name);
  const ds = {
    ...ds0,
    classes,
    items: items
      .map((it) => ({ ...it, label: classes.indexOf(rename.get(ds0.classes[it.label!].toLowerCase()) ?? "") }))
      .filter((it) => it.label >= 0),
  };
  const seed = Number(ctx.options.seed ?? "0");
  const rows = folderRows(ds, ctx.dest, { train: 0.7, val: 0.1, test: 0.2 }, seed);
  const descriptor = writePreparedDataset(
    ctx.dest,
    {
      name: spec.name,
      task: "multiclass",
      classes,
      origin: {
        url: `https://www.kaggle.com/datasets/${spec.slug}`,
        split: `stratified 70/10/20, seed ${seed} (paper's ratios not found)`,
      },
    },
    rows,
  );
  const counts: Record<string, number> = {};
  for (const r of rows) counts[r.split!] = (counts[r.split!] ?? 0) + 1;
  return { descriptor, counts, notes: [] };
}

/** Preparers for the three Kaggle sets. */
export const kagglePreparers: Preparer[] = Object.values(SPECS).map((spec) => ({
  name: spec.name,
  description: `${spec.name.toUpperCase()} cytology (Kaggle ${spec.slug}), stratified 70/10/20`,
  prepare: (ctx) => prepareKaggleFolder(ctx, spec),
}));
