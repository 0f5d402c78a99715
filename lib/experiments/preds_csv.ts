/**
 * Prediction files: `id,label,score_0..score_{K-1}` (multi-class), `id,label,score` (binary, probability of class 1)
 * and `id,label_0..label_{L-1},score_0..score_{L-1}` (multi-label). Written by `peftlab eval`, read by
 * `peftlab metrics` — including files written by other tools (PyTorch scripts) in the same layout.
 */
import { parse } from "csv-parse/sync";
import { DataError } from "../errors";
import { writeFileAtomic } from "../io/atomic";
import { readText } from "../data/sources";
import type { MetricsTask } from "../metrics";

/** Predictions as plain arrays: labels [N] or [N, L] and scores [N, K] (binary: [N, 1]). */
export interface Predictions {
  task: MetricsTask;
  ids: string[];
  labels: Float64Array;
  labelCols: number;
  scores: Float64Array;
  scoreCols: number;
}

/** Formats predictions as CSV text. */
export function formatPredsCsv(p: Predictions): string {
  const n = p.ids.length;
  const labelHead = p.task === "multilabel" ? Array.from({ length: p.labelCols }, (_, j) => `label_${j}`) : ["label"];
  const scoreHead = p.scoreCols === 1 ? ["score"] : Array.from({ length: p.scoreCols }, (_, j) => `score_${j}`);
  const lines = [["id", ...labelHead, ...scoreHead].join(",")];
  for (let i = 0; i < n; i++) {
    const cells = [csvCell(p.ids[i])];
    for (let j = 0; j < p.labelCols; j++) cells.push(String(p.labels[i * p.labelCols + j]));
    for (let j = 0; j < p.scoreCols; j++) cells.push(String(p.scores[i * p.scoreCols + j]));
    lines.push(cells.join(","));
  }
  return lines.join("\n") + "\n";
}

/** Writes predictions atomically. */
export function writePredsCsv(file: string, p: Predictions): void {
  writeFileAtomic(file, formatPredsCsv(p));
}

/** Reads a predictions CSV; the task is inferred from the columns unless given. */
export function readPredsCsv(file: string, task?: MetricsTask): Predictions {
  let rows: string[][];
  try {
    rows = parse(readText(file), { skip_empty_lines: true, trim: true }) as string[][];
  } catch (e) {
    if (e instanceof DataError) throw e;
    throw new DataError("Predictions file is not valid CSV", {
      where: file,
      got: (e as Error).message,
      fix: "write id,label,score_0,... rows",
    });
  }
  if (rows.length < 2)
    throw new DataError("Predictions file has no rows", {
      where: file,
      expected: "a header and at least one row",
      got: `${rows.length} line(s)`,
    });
  const head = rows[0];
  const labelIdx = head.flatMap((h, i) => (/^label(_\d+)?$/.test(h) ? [i] : []));
  const scoreIdx = head.flatMap((h, i) => (/^(score(_\d+)?|prob(_\d+)?)$/.test(h) ? [i] : []));
  const idIdx = head.indexOf("id");
  if (labelIdx.length === 0 || scoreIdx.length === 0) {
    throw new DataError("Predictions file lacks label or score columns", {
      where: `${file}: header`,
      expected: "id,label,score_0..score_{K-1} (or label_0.. for multi-label, or a single score for binary)",
      got: head.join(","),
      fix: "rename the columns",
    });
  }
  const multiLabel = labelIdx.length > 1 || head[labelIdx[0]] === "label_0";
  const t: MetricsTask = task ?? (multiLabel ? "multilabel" : scoreIdx.length <= 2 ? "binary" : "multiclass");
  const body = rows.slice(1);
  const labels = new Float64Array(body.length * labelIdx.length);
  const scores = new Float64Array(body.length * scoreIdx.length);
  body.forEach((r, i) => {
    const cell = (c: number, kind: string) => {
      const v = Number(r[c]);
      if (r[c] === undefined || r[c] === "" || !Number.isFinite(v)) {
        throw new DataError(`Non-numeric ${kind} in predictions`, {
          where: `${file}:${i + 2}, column ${head[c]}`,
          expected: "a finite number",
          got: JSON.stringify(r[c]),
        });
      }
      return v;
    };
    labelIdx.forEach((c, j) => (labels[i * labelIdx.length + j] = cell(c, "label")));
    scoreIdx.forEach((c, j) => (scores[i * scoreIdx.length + j] = cell(c, "score")));
  });
  return {
    task: t,
    ids: body.map((r, i) => (idIdx >= 0 ? r[idIdx] : String(i))),
    labels,
    labelCols: labelIdx.length,
    scores,
    scoreCols: scoreIdx.length,
  };
}

function csvCell(s: string): string {
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}
