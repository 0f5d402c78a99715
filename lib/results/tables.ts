/**
 * Arquero tables over run records: one row per run with metrics flattened to `split.metric` columns, mean ± std
 * over seeds, pivots (method × data fraction), and CSV / JSON / Markdown / HTML exports written atomically.
 */
import * as aq from "arquero";
import type { ColumnTable } from "arquero";
import { ConfigError } from "../errors";
import { writeFileAtomic } from "../io/atomic";
import type { JsonValue, RunRecord } from "./run_record";

/** Options of `recordsTable`. */
export interface RecordsTableOptions {
  /** Top-level config keys to add as `config.<key>` columns (objects and arrays as JSON text). */
  configKeys?: string[];
}

const BASE_COLUMNS = [
  "id",
  "modelId",
  "method",
  "dataset",
  "seed",
  "dataFraction",
  "shots",
  "trainableParams",
  "totalParams",
  "trainableFraction",
  "wallTimeS",
  "backend",
  "scale",
  "startedAt",
  "finishedAt",
] as const;

function configCell(v: JsonValue | undefined): string | number | boolean | null {
  if (v === undefined || v === null) return null;
  return typeof v === "object" ? JSON.stringify(v) : v;
}

/**
 * One row per run: identity and cost columns, then one column per `split.metric` (e.g. `test.accuracy`, sorted).
 * A metric a run did not report is NaN; an optional field it lacks (dataFraction, shots) is null.
 */
export function recordsTable(records: readonly RunRecord[], opts: RecordsTableOptions = {}): ColumnTable {
  const metricCols = new Set<string>();
  for (const r of records) {
    for (const [split, m] of Object.entries(r.metrics)) for (const k of Object.keys(m)) metricCols.add(`${split}.${k}`);
  }
  const cols: Record<string, unknown[]> = {};
  for (const c of BASE_COLUMNS) cols[c] = [];
  for (const k of opts.configKeys ?? []) cols[`config.${k}`] = [];
  const sortedMetrics = [...metricCols].sort();
  for (const c of sortedMetrics) cols[c] = [];
  for (const r of records) {
    const base: Record<(typeof BASE_COLUMNS)[number], unknown> = {
      id: r.id,
      modelId: r.modelId,
      method: r.method,
      dataset: r.dataset,
      seed: r.seed,
      dataFraction: r.dataFraction ?? null,
      shots: r.shots ?? null,
      trainableParams: r.trainableParams,
      totalParams: r.totalParams,
      trainableFraction: r.totalParams > 0 ? r.trainableParams / r.totalParams : NaN,
      wallTimeS: r.wallTimeS,
      backend: r.backend,
      scale: r.scale,
      startedAt: r.startedAt,
      finishedAt: r.finishedAt,
    };
    for (const c of BASE_COLUMNS) cols[c].push(base[c]);
    for (const k of opts.configKeys ?? []) cols[`config.${k}`].push(configCell(r.config[k]));
    for (const c of sortedMetrics) {
      const dot = c.indexOf(".");
      const v = r.metrics[c.slice(0, dot)]?.[c.slice(dot + 1)];
      cols[c].push(typeof v === "number" ? v : NaN);
    }
  }
  return aq.table(cols);
}

function checkColumns(table: ColumnTable, names: readonly string[], fn: string): void {
  const have = new Set(table.columnNames());
  const missing = names.filter((n) => !have.has(n));
  if (missing.length > 0) {
    throw new ConfigError("Unknown table column", {
      where: `${fn}: ${missing.join(", ")}`,
      expected: `columns of the table: ${[...have].join(", ")}`,
      got: missing.join(", "),
      fix: 'metric columns are named "split.metric", e.g. "test.accuracy"',
    });
  }
}

/** Replaces undefined cells (arquero's empty aggregate) by NaN in the named columns. */
function undefinedToNaN(table: ColumnTable, names: readonly string[]): ColumnTable {
  const fixed: Record<string, unknown[]> = {};
  for (const name of table.columnNames()) {
    const values = table.array(name) as ArrayLike<unknown>;
    fixed[name] = names.includes(name)
      ? Array.from(values, (v) => (v === undefined || v === null ? NaN : v))
      : Array.from(values);
  }
  return aq.table(fixed);
}

/**
 * Mean and sample standard deviation (ddof = 1, like pandas) of each metric over the runs of each group, with the
 * run count `n`. Columns: by..., n, `<metric>_mean`, `<metric>_std` (NaN when a group has one valid value).
 * NaN metric values are skipped, as pandas does.
 */
export function aggregateRuns(table: ColumnTable, by: readonly string[], metrics: readonly string[]): ColumnTable {
  checkColumns(table, [...by, ...metrics], "aggregateRuns");
  const values: Record<string, unknown> = { n: aq.op.count() };
  for (const m of metrics) {
    values[`${m}_mean`] = aq.op.mean(m);
    values[`${m}_std`] = aq.op.stdev(m);
  }
  const rolled = table
    .groupby(...by)
    .rollup(values as Parameters<ColumnTable["rollup"]>[0])
    .orderby(...by);
  return undefinedToNaN(
    rolled,
    metrics.flatMap((m) => [`${m}_mean`, `${m}_std`]),
  );
}

/**
 * Wide table of one metric: a row per `rowKey` value, a column per `colKey` value (e.g. method × data fraction),
 * each cell the mean over the runs there (NaN where there are none).
 */
export function pivotRuns(table: ColumnTable, rowKey: string, colKey: string, metric: string): ColumnTable {
  checkColumns(table, [rowKey, colKey, metric], "pivotRuns");
  const wide = table
    .groupby(rowKey)
    .pivot(colKey, { [metric]: aq.op.mean(metric) } as Parameters<ColumnTable["pivot"]>[1])
    .orderby(rowKey);
  const valueCols = wide.columnNames().filter((c) => c !== rowKey);
  return undefinedToNaN(wide.select(rowKey, ...valueCols), valueCols);
}

/** Adds a display column `<metric>` = "mean ± std" (fixed digits) for each aggregated metric. */
export function withMeanStd(aggregated: ColumnTable, metrics: readonly string[], digits = 4): ColumnTable {
  checkColumns(
    aggregated,
    metrics.flatMap((m) => [`${m}_mean`, `${m}_std`]),
    "withMeanStd",
  );
  const cols: Record<string, unknown[]> = {};
  for (const name of aggregated.columnNames()) cols[name] = Array.from(aggregated.array(name) as ArrayLike<unknown>);
  for (const m of metrics) {
    const mean = cols[`${m}_mean`] as number[];
    const std = cols[`${m}_std`] as number[];
    cols[m] = mean.map((v, i) =>
      Number.isNaN(std[i]) ? v.toFixed(digits) : `${v.toFixed(digits)} ± ${std[i].toFixed(digits)}`,
    );
  }
  return aq.table(cols);
}

/** Table export formats. */
export type TableFormat = "csv" | "json" | "md" | "html";

/** A cell as text for Markdown/HTML: empty for null/undefined/NaN, numbers to at most `digits` decimals. */
function cellText(v: unknown, digits: number): string {
  if (v === null || v === undefined || (typeof v === "number" && Number.isNaN(v))) return "";
  if (typeof v === "number") return Number.isInteger(v) ? String(v) : String(Number(v.toFixed(digits)));
  return String(v);
}

/** Formats a table with arquero's own writers (csv, json = arquero's columnar JSON, md, html). */
export function formatResultsTable(table: ColumnTable, format: TableFormat, digits = 4): string {
  const fmt: Record<string, (v: unknown) => string> = {};
  for (const c of table.columnNames()) fmt[c] = (v) => cellText(v, digits);
  switch (format) {
    case "csv":
      return table.toCSV();
    case "json":
      return table.toJSON();
    case "md":
      return table.toMarkdown({ format: fmt });
    case "html":
      return table.toHTML({ format: fmt });
    default:
      throw new ConfigError("Unknown table format", {
        where: "formatResultsTable: format",
        expected: '"csv", "json", "md" or "html"',
        got: JSON.stringify(format),
        fix: "pick one of the four",
      });
  }
}

/** Writes a table atomically; the format comes from the extension (.csv, .json, .md, .html) unless given. */
export function writeResultsTable(table: ColumnTable, file: string, format?: TableFormat, digits = 4): void {
  const ext = file.slice(file.lastIndexOf(".") + 1).toLowerCase();
  const f = format ?? (ext === "markdown" ? "md" : ext === "htm" ? "html" : (ext as TableFormat));
  writeFileAtomic(file, formatResultsTable(table, f, digits));
}
