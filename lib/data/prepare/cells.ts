/**
 * Mitosis sets of seed 001: MIDOG++ and CCMCT. Cell coordinates come from FoundationModelComparison's `databases/`
 * CSVs (x, y, label, filename, slide); label 1 is a mitotic figure, anything else an imposter (hard negative). The
 * whole-slide TIFFs need the dataset's own download script (see the printed steps); rows become 224-px patches around
 * each cell (`x,y,size`), grouped by slide. Splits are drawn at train time (monteCarloSplits, seeds 42–46).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "csv-parse/sync";
import { DataError } from "../../errors";
import { writePreparedDataset, type ManifestRow } from "../prepared";
import { download } from "./download";
import { type PrepareContext, type Preparer, type PrepareResult, requireOption, urlFor } from "./common";

const DB = "https://raw.githubusercontent.com/DeepMicroscopy/FoundationModelComparison/main/databases";

interface CellSpec {
  name: string;
  csv: string;
  steps: string;
}

const SPECS: CellSpec[] = [
  {
    name: "midogpp",
    csv: "MIDOGpp.csv",
    steps:
      "Download the MIDOG++ TIFFs with download_MIDOGpp.py from https://github.com/DeepMicroscopy/MIDOGpp and pass their folder with --images DIR.",
  },
  {
    name: "ccmct",
    csv: "MITOS_WSI_CCMCT_ODAEL_binary_labels.csv",
    steps:
      "Download the CCMCT WSIs with download_CCMCT.py from https://github.com/DeepMicroscopy/MITOS_WSI_CCMCT and pass their folder with --images DIR.",
  },
];

/** Reads the cell CSV and writes a patch manifest. */
export async function prepareCells(ctx: PrepareContext, spec: CellSpec): Promise<PrepareResult> {
  const images = requireOption(ctx, "images", `DIR (${spec.steps})`);
  const csv = path.join(ctx.downloads, spec.csv);
  await download({ url: urlFor(ctx, `${DB}/${spec.csv}`, spec.csv), dest: csv, progress: false, log: ctx.log });
  const rows = parse(fs.readFileSync(csv, "utf8"), { columns: true, skip_empty_lines: true, trim: true }) as Record<
    string,
    string
  >[];
  const need = ["x", "y", "label", "filename"];
  const miss = need.filter((c) => !(c in (rows[0] ?? {})));
  if (miss.length)
    throw new DataError("Cell CSV lacks columns", {
      where: csv,
      expected: need.join(", "),
      got: Object.keys(rows[0] ?? {}).join(", "),
    });
  const size = Number(ctx.options["patch-size"] ?? "224");
  const out: ManifestRow[] = [];
  const absent = new Set<string>();
  for (const r of rows) {
    const file = path.join(images, r.filename);
    if (!fs.existsSync(file)) {
      absent.add(r.filename);
      continue;
    }
    out.push({
      path: path.relative(ctx.dest, file).split(path.sep).join("/"),
      label: r.label === "1" ? "mitotic figure" : "imposter",
      group: r.slide ?? r.filename,
      x: Number(r.x),
      y: Number(r.y),
      size,
    });
  }
  if (absent.size)
    ctx.log(`${absent.size} image files listed in ${spec.csv} are not in ${images}; their cells are left out`);
  const descriptor = writePreparedDataset(
    ctx.dest,
    {
      name: spec.name,
      task: "multiclass",
      classes: ["imposter", "mitotic figure"],
      origin: {
        cells: `${DB}/${spec.csv}`,
        note: "patches around cells; split at train time (Monte-Carlo, seeds 42-46)",
      },
    },
    out,
  );
  return { descriptor, counts: { cells: out.length }, notes: absent.size ? [`${absent.size} images missing`] : [] };
}

export const cellPreparers: Preparer[] = SPECS.map((s) => ({
  name: s.name,
  description: `${s.name} mitotic-figure patches around cell coordinates (--images DIR)`,
  prepare: (c) => prepareCells(c, s),
}));
