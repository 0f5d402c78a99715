/**
 * BreakHis (Spanhol et al. 2016): 7,909 PNGs, benign/malignant, 82 patients, 4 magnifications. The patient id is
 * parsed from the file name (`SOB_B_A-14-22549AB-40-001.png` → patient `14-22549AB`, magnification 40) and splits
 * are patient-level per magnification (70/15/15, seed 0), so no patient is in two splits.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { DataError } from "../../errors";
import { writePreparedDataset, type ManifestRow } from "../prepared";
import { walkFiles } from "../sources";
import { groupSplit } from "../splits";
import type { ImageDataset } from "../types";
import { extractArchive } from "./archive";
import { download } from "./download";
import { type PrepareContext, type Preparer, type PrepareResult, urlFor } from "./common";

const BREAKHIS_URL = "http://www.inf.ufpr.br/vri/databases/BreaKHis_v1.tar.gz";
const FILE = "BreaKHis_v1.tar.gz";

/** Parses a BreakHis file name: class (B/M), subtype, patient id and magnification. */
export function parseBreakhisName(file: string): {
  malignant: boolean;
  subtype: string;
  patient: string;
  magnification: number;
} {
  const m = /^SOB_([BM])_([A-Z]+)-(\d+-[0-9A-Z]+)-(\d+)-\d+\.png$/i.exec(path.basename(file));
  if (!m)
    throw new DataError("Not a BreakHis file name", {
      where: file,
      expected: "SOB_<B|M>_<type>-<year>-<slide>-<mag>-<seq>.png",
      got: path.basename(file),
    });
  return { malignant: m[1].toUpperCase() === "M", subtype: m[2], patient: m[3], magnification: Number(m[4]) };
}

/** Downloads BreakHis and writes one manifest per magnification (`<dest>/<mag>X/`). */
export async function prepareBreakhis(ctx: PrepareContext): Promise<PrepareResult> {
  const tgz = path.join(ctx.downloads, FILE);
  // The official page serves plain HTTP only; the downloader insists on HTTPS, so a mirror URL can be passed.
  const official = ctx.options.url ?? BREAKHIS_URL.replace(/^http:/, "https:");
  await download({
    url: urlFor(ctx, official, FILE),
    dest: tgz,
    ...(ctx.checksums?.[FILE] ?? {}),
    progress: ctx.progress,
    log: ctx.log,
  });
  const raw = path.join(ctx.dest, "raw");
  if (!fs.existsSync(raw)) {
    await extractArchive(tgz, `${raw}.tmp`);
    fs.renameSync(`${raw}.tmp`, raw);
  }
  const files = walkFiles(raw).filter((f) => /^SOB_.*\.png$/i.test(path.basename(f)));
  const counts: Record<string, number> = {};
  let descriptor = "";
  for (const mag of [40, 100, 200, 400]) {
    const dir = path.join(ctx.dest, `${mag}X`);
    const items = files
      .map((f) => ({ f, p: parseBreakhisName(f) }))
      .filter((x) => x.p.magnification === mag)
      .map((x) => ({ id: path.basename(x.f), path: x.f, label: x.p.malignant ? 1 : 0, group: x.p.patient }));
    const ds: ImageDataset = { name: `breakhis_${mag}x`, classes: ["benign", "malignant"], task: "multiclass", items };
    const split = groupSplit(ds, { train: 0.7, val: 0.15, test: 0.15 }, Number(ctx.options.seed ?? "0"));
    const rows: ManifestRow[] = Object.entries(split).flatMap(([s, d]) =>
      d.items.map((it) => ({
        path: path.relative(dir, it.path!).split(path.sep).join("/"),
        label: ds.classes[it.label!],
        group: it.group,
        split: s,
      })),
    );
    descriptor = writePreparedDataset(
      dir,
      {
        name: ds.name,
        task: "multiclass",
        classes: ds.classes,
        origin: { url: BREAKHIS_URL, split: "patient-level 70/15/15 per magnification (paper's split not found)" },
      },
      rows,
    );
    counts[`${mag}X`] = rows.length;
  }
  return { descriptor, counts, notes: ["one dataset per magnification under <dest>/<mag>X/"] };
}

export const breakhis: Preparer = {
  name: "breakhis",
  description: "BreakHis histology, patient-level split per magnification",
  prepare: prepareBreakhis,
};
