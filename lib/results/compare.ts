/** Our runs next to published numbers: one row per published number with our mean ± std over matching runs. */
import * as aq from "arquero";
import type { ColumnTable } from "arquero";
import { ConfigError } from "../errors";
import type { PublishedResult, UnverifiedClaim } from "./published";

/** How published entries are matched to run rows. */
export interface CompareOptions {
  /** Split whose metrics are compared; default "test" (column `test.<metric>`). */
  split?: string;
  /**
   * Published field → table column that must be equal for a run to match; default { dataset: "dataset",
   * method: "method" }. Add e.g. { dataFraction: "dataFraction" } or { model: "modelId" } to narrow.
   */
  on?: Partial<Record<keyof PublishedResult, string>>;
}

function meanStd(values: number[]): { mean: number; std: number } {
  if (values.length === 0) return { mean: NaN, std: NaN };
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  if (values.length === 1) return { mean, std: NaN };
  const ss = values.reduce((a, v) => a + (v - mean) * (v - mean), 0);
  return { mean, std: Math.sqrt(ss / (values.length - 1)) };
}

/**
 * Joins published numbers with runs (a `recordsTable`): columns seed, paper, dataset, method, model, setting,
 * metric, published, ours_mean, ours_std (ddof = 1), n, delta (ours − published), evidence, source, note.
 * Published entries with no matching run keep NaN in our columns, so the table shows what is still to run.
 */
export function compareWithPublished(
  runs: ColumnTable,
  published: readonly (PublishedResult | UnverifiedClaim)[],
  opts: CompareOptions = {},
): ColumnTable {
  const split = opts.split ?? "test";
  const on = Object.entries(opts.on ?? { dataset: "dataset", method: "method" }) as [keyof PublishedResult, string][];
  const have = new Set(runs.columnNames());
  const missing = on.map(([, c]) => c).filter((c) => !have.has(c));
  if (missing.length > 0) {
    throw new ConfigError("compareWithPublished: match column not in the runs table", {
      where: `opts.on → ${missing.join(", ")}`,
      expected: `columns of the runs table (${[...have].join(", ")})`,
      got: missing.join(", "),
      fix: "build the table with recordsTable, or map the published field to an existing column",
    });
  }
  const rows = runs.objects() as Record<string, unknown>[];
  const out = published.map((p) => {
    const col = `${split}.${p.metric}`;
    const matching = rows.filter((r) => on.every(([field, c]) => r[c] === p[field]));
    const values = matching.map((r) => r[col]).filter((v): v is number => typeof v === "number" && !Number.isNaN(v));
    const { mean, std } = meanStd(values);
    return {
      seed: p.seed,
      paper: p.paper,
      dataset: p.dataset,
      method: p.method,
      model: p.model,
      setting: p.setting,
      metric: p.metric,
      published: p.value,
      ours_mean: mean,
      ours_std: std,
      n: values.length,
      delta: mean - p.value,
      evidence: p.evidence,
      source: p.source,
      note: p.note,
    };
  });
  return aq.from(out);
}
