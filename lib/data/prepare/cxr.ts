/**
 * Chest X-ray sets of seed 002 with MED-PEFT's split lists (RL4M/MED-PEFT DatasetsSplits, lines `path l1 … lL`):
 * NIH ChestX-ray14 (14 labels; 1 %, 10 %, 100 % training lists) and RSNA Pneumonia (DICOM, 1 label). The images need
 * a manual download (NIH Box folder; Kaggle competition with accepted rules); the lists are fetched over HTTPS.
 * One prepared dataset per label ratio: `<dest>/train_1`, `train_10`, `train_100`, sharing val and test.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { DataError } from "../../errors";
import { writePreparedDataset, type ManifestRow } from "../prepared";
import { splitListDataset, walkFiles } from "../sources";
import { download } from "./download";
import { type PrepareContext, type Preparer, type PrepareResult, requireOption, urlFor } from "./common";

/** NIH label order of the MED-PEFT lists [INF: the standard ChestX-ray14 order; the lists carry no header]. */
export const NIH_LABELS = [
  "Atelectasis",
  "Cardiomegaly",
  "Effusion",
  "Infiltration",
  "Mass",
  "Nodule",
  "Pneumonia",
  "Pneumothorax",
  "Consolidation",
  "Edema",
  "Emphysema",
  "Fibrosis",
  "Pleural_Thickening",
  "Hernia",
];

const SPLITS_BASE = "https://raw.githubusercontent.com/RL4M/MED-PEFT/main/DatasetsSplits";

interface CxrSpec {
  name: string;
  folder: string;
  classes: string[];
  steps: string;
}

const NIH: CxrSpec = {
  name: "nih-chestxray14",
  folder: "NIH_ChestX-ray",
  classes: NIH_LABELS,
  steps:
    "Download images_001.tar.gz … images_012.tar.gz from https://nihcc.app.box.com/v/ChestXray-NIHCC (folder images), extract them all, and pass the folder holding the PNGs with --images DIR.",
};
const RSNA: CxrSpec = {
  name: "rsna-pneumonia",
  folder: "RSNA_Pneumonia",
  classes: ["pneumonia"],
  steps:
    "Sign in at https://www.kaggle.com, accept the rules of https://www.kaggle.com/competitions/rsna-pneumonia-detection-challenge, download and extract the data (stage_2_train_images/*.dcm), and pass that folder with --images DIR.",
};

/** Fetches MED-PEFT's lists and writes one manifest per label ratio. */
export async function prepareCxr(ctx: PrepareContext, spec: CxrSpec): Promise<PrepareResult> {
  const images = requireOption(ctx, "images", `DIR (${spec.steps})`);
  if (!fs.existsSync(images))
    throw new DataError("Image folder not found", {
      where: images,
      expected: "the extracted images",
      got: "no such folder",
      fix: spec.steps,
    });
  const lists: Record<string, string> = {};
  for (const f of ["train_1.txt", "train_10.txt", "train_list.txt", "val_list.txt", "test_list.txt"]) {
    const dest = path.join(ctx.downloads, spec.folder, f);
    const base = ctx.options["splits-url"] ?? `${SPLITS_BASE}/${spec.folder}`;
    try {
      await download({ url: urlFor(ctx, `${base}/${f}`, f), dest, progress: false, log: ctx.log });
      lists[f] = dest;
    } catch (e) {
      ctx.log(`${spec.folder}/${f}: not available (${(e as Error).message.split(";")[0]}); that ratio is skipped`);
    }
  }
  // Lists name files by relative path; index the image folder by base name so any extraction layout works.
  const byName = new Map<string, string>();
  for (const f of walkFiles(images)) byName.set(path.basename(f), f);
  const counts: Record<string, number> = {};
  let descriptor = "";
  for (const [ratio, file] of [
    ["train_1", "train_1.txt"],
    ["train_10", "train_10.txt"],
    ["train_100", "train_list.txt"],
  ]) {
    if (!lists[file] || !lists["val_list.txt"] || !lists["test_list.txt"]) continue;
    const ds = splitListDataset(
      { train: lists[file], val: lists["val_list.txt"], test: lists["test_list.txt"] },
      { classes: spec.classes, imageRoot: images, name: `${spec.name}_${ratio}` },
    );
    const dir = path.join(ctx.dest, ratio);
    const missing: string[] = [];
    const rows: ManifestRow[] = [];
    for (const it of ds.items) {
      const p = byName.get(path.basename(it.id)) ?? (fs.existsSync(it.path!) ? it.path! : undefined);
      if (!p) {
        missing.push(it.id);
        continue;
      }
      rows.push({ path: path.relative(dir, p).split(path.sep).join("/"), labels: it.labels, split: it.split });
    }
    if (missing.length > 0)
      ctx.log(`${ratio}: ${missing.length} listed images not found under ${images} (first: ${missing[0]})`);
    descriptor = writePreparedDataset(
      dir,
      {
        name: ds.name,
        task: "multilabel",
        classes: spec.classes,
        origin: {
          splits: `${SPLITS_BASE}/${spec.folder}`,
          split: `MED-PEFT ${file}, val_list, test_list`,
          missing: missing.length,
        },
      },
      rows,
    );
    counts[ratio] = rows.length;
  }
  if (descriptor === "")
    throw new DataError("No MED-PEFT split lists could be fetched", {
      where: `${SPLITS_BASE}/${spec.folder}`,
      expected: "train/val/test lists",
      got: "none",
      fix: "check the network, or pass --splits-url with a copy of DatasetsSplits/<dataset>",
    });
  return { descriptor, counts, notes: [] };
}

export const nih: Preparer = {
  name: "nih-chestxray14",
  description: "NIH ChestX-ray14 with MED-PEFT 1/10/100 % lists (--images DIR)",
  prepare: (c) => prepareCxr(c, NIH),
};
export const rsna: Preparer = {
  name: "rsna-pneumonia",
  description: "RSNA Pneumonia DICOMs with MED-PEFT lists (--images DIR)",
  prepare: (c) => prepareCxr(c, RSNA),
};
