/**
 * HiCervix (Zenodo record 11087263): cervical cells with a 3-level label tree and official train/val/test CSVs.
 * Files and their md5 sums come from Zenodo's records API. `--level level_1|level_2|level_3` picks the labels; for
 * level_3 a cell without a level_3 label falls back to its level_2 label (the union, as the seed-000 code does) and
 * cells with no label at the level are dropped.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "csv-parse/sync";
import { DataError } from "../../errors";
import { writePreparedDataset, type ManifestRow } from "../prepared";
import { codePointCompare, walkFiles } from "../sources";
import { extractArchive } from "./archive";
import { download, networkError } from "./download";
import { type PrepareContext, type Preparer, type PrepareResult, urlFor } from "./common";

const RECORD = "11087263";

/** A Zenodo record's files: name, download URL and md5. */
export async function zenodoFiles(
  record: string,
  apiBase = "https://zenodo.org",
): Promise<{ key: string; url: string; md5?: string; size: number }[]> {
  const url = `${apiBase}/api/records/${record}`;
  let res: Response;
  try {
    res = await fetch(url);
  } catch (e) {
    throw new DataError("Cannot reach Zenodo's records API", {
      where: url,
      expected: "an HTTPS answer",
      got: networkError(e),
      fix: "check the network (or pass --base-url with a mirror serving api/records/<id>) and run the command again",
    });
  }
  if (!res.ok)
    throw new DataError("Zenodo record not available", {
      where: url,
      expected: "200",
      got: String(res.status),
      fix: "check https://zenodo.org/records/" + record + " in a browser; the record may have moved",
    });
  const j = (await res.json().catch(() => ({}))) as {
    files?: { key: string; size: number; checksum?: string; links: { self: string } }[];
  };
  if (!Array.isArray(j.files))
    throw new DataError("Zenodo's answer lists no files", {
      where: url,
      expected: "a JSON record with a files array",
      got: "something else",
      fix: "check the record page; the API format may have changed",
    });
  return j.files.map((f) => ({
    key: f.key,
    url: f.links.self,
    size: f.size,
    md5: f.checksum?.startsWith("md5:") ? f.checksum.slice(4) : undefined,
  }));
}

/** Downloads HiCervix, extracts it and writes a manifest with the official splits at the chosen level. */
export async function prepareHicervix(ctx: PrepareContext): Promise<PrepareResult> {
  const level = ctx.options.level ?? "level_3";
  const files = await zenodoFiles(RECORD, ctx.baseUrl);
  const raw = path.join(ctx.dest, "raw");
  for (const f of files) {
    const dest = path.join(ctx.downloads, f.key);
    await download({
      url: ctx.baseUrl ? urlFor(ctx, f.url, f.key) : f.url,
      dest,
      md5: f.md5,
      size: f.size,
      progress: ctx.progress,
      log: ctx.log,
    });
    if (/\.(zip|tar\.gz|tgz|tar)$/i.test(f.key) && !fs.existsSync(path.join(raw, `.${f.key}.done`))) {
      await extractArchive(dest, raw);
      fs.writeFileSync(path.join(raw, `.${f.key}.done`), "");
    } else if (/\.csv$/i.test(f.key)) {
      fs.mkdirSync(raw, { recursive: true });
      fs.copyFileSync(dest, path.join(raw, f.key));
    }
  }
  const all = walkFiles(raw);
  const byName = new Map(all.filter((f) => /\.(jpe?g|png)$/i.test(f)).map((f) => [path.basename(f), f]));
  const rows: ManifestRow[] = [];
  let dropped = 0;
  for (const split of ["train", "val", "test"]) {
    const csv = all.find((f) => path.basename(f).toLowerCase() === `${split}.csv`);
    if (!csv)
      throw new DataError(`HiCervix ${split}.csv not found`, { where: raw, expected: `${split}.csv`, got: "missing" });
    const recs = parse(fs.readFileSync(csv, "utf8"), { columns: true, skip_empty_lines: true, trim: true }) as Record<
      string,
      string
    >[];
    const nameCol = Object.keys(recs[0] ?? {}).find((k) => /image|file|name/i.test(k) && !/class|level/i.test(k));
    if (!nameCol || !(level in (recs[0] ?? {})))
      throw new DataError("HiCervix CSV lacks the image or level column", {
        where: csv,
        expected: `an image-name column and ${level}`,
        got: Object.keys(recs[0] ?? {}).join(", "),
      });
    for (const r of recs) {
      const label = r[level] || (level === "level_3" ? r.level_2 : "");
      const file = byName.get(path.basename(r[nameCol]));
      if (!label || !file) {
        dropped++;
        continue;
      }
      rows.push({ path: path.relative(ctx.dest, file).split(path.sep).join("/"), label, split });
    }
  }
  const classes = [...new Set(rows.map((r) => r.label!))].sort(codePointCompare);
  const descriptor = writePreparedDataset(
    ctx.dest,
    {
      name: `hicervix_${level}`,
      task: "multiclass",
      classes,
      origin: { url: `https://zenodo.org/records/${RECORD}`, split: "official train/val/test CSVs", level, dropped },
    },
    rows,
  );
  const counts: Record<string, number> = {};
  for (const r of rows) counts[r.split!] = (counts[r.split!] ?? 0) + 1;
  return {
    descriptor,
    counts,
    notes: dropped ? [`${dropped} cells without a ${level} label or image were dropped`] : [],
  };
}

export const hicervix: Preparer = {
  name: "hicervix",
  description: "HiCervix (Zenodo 11087263), official splits, --level level_1|level_2|level_3",
  prepare: prepareHicervix,
};
