/** `peftlab inspect <file>`: what a .safetensors, .npz or .npy file holds, without loading it all. */
import * as path from "node:path";
import type { Command } from "commander";
// The CLI uses only the package's public entry, like notebooks and kernel-ext.
import { DataError, NpzFile, SafetensorsFile, npyDTypeName, readNpy, readNpyHeader, sizeOf } from "../../index";
import { formatBytes, formatCount, formatTable, writeJson, writeOut } from "../output";

/** How many values of a string array `inspect` shows. */
const STRING_PREVIEW = 3;

/** Adds `inspect` to the program. */
export function register(program: Command): void {
  program
    .command("inspect")
    .description("list the tensors of a .safetensors file or the arrays of a .npz/.npy file")
    .argument("<file>", "a .safetensors, .npz or .npy file")
    .option("--json", "print JSON")
    .action(function (this: Command, file: string, opts: { json?: boolean }) {
      const report = inspectFile(file);
      if (opts.json) writeJson(this, report);
      else writeOut(this, renderReport(report));
    });
}

/** One row of an inspect report. */
export interface InspectEntry {
  name: string;
  dtype: string;
  /** NumPy descr (byte order, kind, size), for .npz/.npy members. */
  descr?: string;
  shape: number[];
  numel: number;
  bytes: number;
  /** Bytes in the archive, for compressed .npz members. */
  storedBytes?: number;
  /** First few values of a string array. */
  preview?: string[];
}

/** What `inspect` reports about one file. */
export interface InspectReport {
  file: string;
  format: "safetensors" | "npz" | "npy";
  entries: InspectEntry[];
  totals: { entries: number; numel: number; bytes: number };
  metadata?: Record<string, string>;
}

/** Inspects a file by extension; throws DataError for extensions it does not know. */
export function inspectFile(file: string): InspectReport {
  const ext = path.extname(file).toLowerCase();
  const entries =
    ext === ".safetensors" ? undefined : ext === ".npz" ? inspectNpz(file) : ext === ".npy" ? [inspectNpy(file)] : null;
  if (entries === null) {
    throw new DataError("Unknown file type for inspect", {
      where: file,
      expected: ".safetensors, .npz or .npy",
      got: ext === "" ? "no extension" : ext,
      fix: "rename the file with its real extension, or pass a supported file",
    });
  }
  if (entries === undefined) return inspectSafetensors(file);
  return { file, format: ext === ".npz" ? "npz" : "npy", entries, totals: totalsOf(entries) };
}

function inspectSafetensors(file: string): InspectReport {
  const f = SafetensorsFile.open(file);
  try {
    const entries = f.keys().map((k) => {
      const t = f.info(k);
      return { name: k, dtype: t.dtype, shape: t.shape, numel: sizeOf(t.shape), bytes: t.end - t.begin };
    });
    return { file, format: "safetensors", entries, totals: totalsOf(entries), metadata: f.metadata };
  } finally {
    f.close();
  }
}

function inspectNpz(file: string): InspectEntry[] {
  const z = NpzFile.open(file);
  try {
    return z.keys().map((k) => {
      const h = z.describe(k);
      const e: InspectEntry = {
        name: k,
        dtype: npyDTypeName(h.descr),
        descr: h.descr,
        shape: h.shape,
        numel: sizeOf(h.shape),
        bytes: h.dataBytes,
      };
      if (h.compressed) e.storedBytes = h.storedBytes;
      if (isStringDescr(h.descr)) {
        const a = z.get(k);
        if (a.kind === "string") e.preview = a.values.slice(0, STRING_PREVIEW);
      }
      return e;
    });
  } finally {
    z.close();
  }
}

function inspectNpy(file: string): InspectEntry {
  const h = readNpyHeader(file);
  const e: InspectEntry = {
    name: path.basename(file, ".npy"),
    dtype: npyDTypeName(h.descr),
    descr: h.descr,
    shape: h.shape,
    numel: sizeOf(h.shape),
    bytes: h.dataBytes,
  };
  if (isStringDescr(h.descr)) {
    const a = readNpy(file);
    if (a.kind === "string") e.preview = a.values.slice(0, STRING_PREVIEW);
  }
  return e;
}

function isStringDescr(descr: string): boolean {
  return /^[<>|=][US]\d+$/.test(descr);
}

function totalsOf(entries: InspectEntry[]): InspectReport["totals"] {
  return {
    entries: entries.length,
    numel: entries.reduce((a, e) => a + e.numel, 0),
    bytes: entries.reduce((a, e) => a + e.bytes, 0),
  };
}

/** Renders a report as an aligned table plus totals and metadata. */
export function renderReport(r: InspectReport): string {
  const isSt = r.format === "safetensors";
  const hasStored = r.entries.some((e) => e.storedBytes !== undefined);
  const hasPreview = r.entries.some((e) => e.preview !== undefined);
  const header = ["name", "dtype", "shape", isSt ? "params" : "elements", "bytes"];
  if (hasStored) header.push("stored");
  if (hasPreview) header.push("values");
  const rows = r.entries.map((e) => {
    const row = [e.name, e.dtype, `[${e.shape.join(", ")}]`, formatCount(e.numel), formatCount(e.bytes)];
    if (hasStored) row.push(e.storedBytes === undefined ? "" : formatCount(e.storedBytes));
    if (hasPreview) row.push(e.preview ? `${e.preview.map((v) => JSON.stringify(v)).join(", ")}, ...` : "");
    return row;
  });
  let out = `${r.file} (${r.format})\n\n` + formatTable(header, rows, new Set([3, 4, 5]));
  const t = r.totals;
  out += `\n${formatCount(t.entries)} ${isSt ? "tensors" : "arrays"}, ${formatCount(t.numel)} ${isSt ? "params" : "elements"}, `;
  out += `${formatCount(t.bytes)} bytes (${formatBytes(t.bytes)})\n`;
  if (r.metadata !== undefined) {
    const keys = Object.keys(r.metadata);
    out +=
      keys.length === 0
        ? "metadata: none\n"
        : `metadata:\n${keys.map((k) => `  ${k}: ${r.metadata![k]}`).join("\n")}\n`;
  }
  return out;
}
