/**
 * Plotly charts for the paper notebooks, built from run records and aggregated Arquero tables: learning curves,
 * grouped bars with ± std error bars (method comparisons), and metric-vs-label-fraction curves.
 */
import type { ColumnTable } from "arquero";
import { ConfigError } from "../errors";
import type { Displayable } from "./bundle";
import { plotly, type PlotlyFigure } from "./plotly";
import { recordHistory, type RunRecord } from "../results/run_record";

type Figure = PlotlyFigure & Displayable;

/** Options of learningCurvesChart. */
export interface LearningCurvesOptions {
  /** History keys to plot, e.g. ["loss", "val_roc_auc"]; each gets its own y-axis panel. */
  keys: string[];
  /** Legend name of a run (default method · dataset · seed). */
  name?: (r: RunRecord) => string;
  title?: string;
}

/** Per-epoch curves of each run (from record.extra.history), one panel per key. */
export function learningCurvesChart(records: readonly RunRecord[], o: LearningCurvesOptions): Figure {
  const name = o.name ?? ((r: RunRecord) => `${r.method} · ${r.dataset} · seed ${r.seed}`);
  const data: Record<string, unknown>[] = [];
  const palette = [
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
  ];
  records.forEach((r, i) => {
    const h = recordHistory(r);
    o.keys.forEach((k, j) => {
      data.push({
        type: "scatter",
        mode: "lines+markers",
        x: h.map((row) => row.epoch),
        y: h.map((row) => row[k] ?? NaN),
        name: name(r),
        legendgroup: name(r),
        showlegend: j === 0,
        line: { color: palette[i % palette.length] },
        xaxis: "x",
        yaxis: j === 0 ? "y" : `y${j + 1}`,
      });
    });
  });
  const n = o.keys.length;
  const layout: Record<string, unknown> = {
    title: { text: o.title ?? "Learning curves" },
    grid: { rows: n, columns: 1, pattern: "coupled" },
    height: 260 * n + 80,
    xaxis: { title: { text: "epoch" } },
  };
  o.keys.forEach((k, j) => (layout[j === 0 ? "yaxis" : `yaxis${j + 1}`] = { title: { text: k } }));
  return plotly({ data, layout });
}

function columnValues(t: ColumnTable, c: string): unknown[] {
  if (!t.columnNames().includes(c)) {
    throw new ConfigError("Unknown table column", {
      where: `chart column ${c}`,
      expected: `one of ${t.columnNames().join(", ")}`,
      got: c,
      fix: "aggregate with aggregateRuns(table, by, [metric]) first; it adds <metric>_mean and <metric>_std",
    });
  }
  return Array.from(t.array(c) as ArrayLike<unknown>);
}

/** Options of groupedBarChart. */
export interface GroupedBarOptions {
  /** Column on the x axis (e.g. "dataset"). */
  x: string;
  /** Column giving one bar series per value (e.g. "method"). */
  group: string;
  /** Aggregated metric: bars are `<metric>_mean`, error bars `<metric>_std`. */
  metric: string;
  title: string;
  yTitle?: string;
  /** Order of the series (default order of appearance). */
  groupOrder?: string[];
}

/** Grouped bars of an aggregateRuns table: mean per (x, group) with ± std error bars. */
export function groupedBarChart(agg: ColumnTable, o: GroupedBarOptions): Figure {
  const xs = columnValues(agg, o.x).map(String);
  const { gs, mean, errorY } = meanStdSeries(agg, o.group, o.metric);
  const groups = o.groupOrder ?? [...new Set(gs)];
  const data = groups.map((g) => {
    const idx = gs.map((v, i) => (v === g ? i : -1)).filter((i) => i >= 0);
    return { type: "bar", name: g, x: idx.map((i) => xs[i]), y: idx.map((i) => mean[i]), error_y: errorY(idx) };
  });
  return plotly({
    data,
    layout: {
      title: { text: o.title },
      barmode: "group",
      yaxis: { title: { text: o.yTitle ?? o.metric } },
      xaxis: { title: { text: o.x } },
    },
  });
}

/**
 * The group labels and `<metric>_mean` of an aggregateRuns table, and ± `<metric>_std` error bars for some of its rows
 * (a NaN std, i.e. one run, draws no bar).
 */
function meanStdSeries(
  agg: ColumnTable,
  group: string,
  metric: string,
): { gs: string[]; mean: number[]; errorY: (idx: number[]) => Record<string, unknown> } {
  const std = columnValues(agg, `${metric}_std`) as number[];
  return {
    gs: columnValues(agg, group).map(String),
    mean: columnValues(agg, `${metric}_mean`) as number[],
    errorY: (idx) => ({ type: "data", array: idx.map((i) => (Number.isNaN(std[i]) ? 0 : std[i])), visible: true }),
  };
}

/** Options of seriesLineChart. */
export interface SeriesLineOptions {
  /** Numeric x column (e.g. "dataFraction"). */
  x: string;
  /** One line per value of this column (e.g. "method"). */
  group: string;
  metric: string;
  title: string;
  xTitle?: string;
  yTitle?: string;
  logX?: boolean;
  /** Map x values for display (e.g. fraction → percent). */
  xScale?: number;
}

/** Lines of an aggregateRuns table: mean of `metric` vs a numeric column, one line per group, ± std error bars. */
export function seriesLineChart(agg: ColumnTable, o: SeriesLineOptions): Figure {
  const xs = columnValues(agg, o.x) as number[];
  const { gs, mean, errorY } = meanStdSeries(agg, o.group, o.metric);
  const data = [...new Set(gs)].map((g) => {
    const idx = gs
      .map((v, i) => (v === g ? i : -1))
      .filter((i) => i >= 0)
      .sort((a, b) => xs[a] - xs[b]);
    return {
      type: "scatter",
      mode: "lines+markers",
      name: g,
      x: idx.map((i) => xs[i] * (o.xScale ?? 1)),
      y: idx.map((i) => mean[i]),
      error_y: errorY(idx),
    };
  });
  return plotly({
    data,
    layout: {
      title: { text: o.title },
      xaxis: { title: { text: o.xTitle ?? o.x }, type: o.logX ? "log" : "linear" },
      yaxis: { title: { text: o.yTitle ?? o.metric } },
    },
  });
}

/** A test-set ROC curve of a binary run for rocChart (null when the run has no curve, e.g. one class only). */
export function rocCurveOf(
  label: string,
  r: { report: { roc?: { fpr: ArrayLike<number>; tpr: ArrayLike<number> }; values: Record<string, number> } },
): { label: string; fpr: number[]; tpr: number[]; auc?: number } | null {
  const roc = r.report.roc;
  if (!roc) return null;
  return { label, fpr: Array.from(roc.fpr), tpr: Array.from(roc.tpr), auc: r.report.values.roc_auc };
}
