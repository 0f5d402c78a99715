/** `peftlab metrics PREDS.csv [--task ...] [--json]`: every applicable metric from a predictions file made anywhere. */
import type { Command } from "commander";
import { ConfigError, computeMetrics, readPredsCsv, type MetricsReport, type MetricsTask } from "../../index";
import { formatTable, writeJson, writeOut } from "../output";

/** Adds `metrics` to the program. */
export function register(program: Command): void {
  program
    .command("metrics")
    .description(
      "compute metrics from a predictions CSV (id,label,score_0..; label_0.. for multi-label; score for binary)",
    )
    .argument("<preds>", "predictions CSV")
    .option("--task <task>", "binary, multiclass or multilabel (default: inferred from the columns)")
    .option("--threshold <t>", "decision threshold for binary / multi-label scores", parseFloat)
    .option("--json", "print JSON")
    .action(function (this: Command, file: string, opts: { task?: string; threshold?: number; json?: boolean }) {
      const report = metricsFromCsv(file, opts.task, opts.threshold);
      if (opts.json) return writeJson(this, report);
      const rows = Object.entries(report.values).map(([k, v]) => [k, Number.isFinite(v) ? v.toFixed(6) : String(v)]);
      writeOut(this, formatTable(["metric", "value"], rows, new Set([1])));
      writeOut(this, `${report.task}, ${report.n} rows, ${report.numClasses} classes\n`);
      for (const w of report.warnings) writeOut(this, `warning: ${w}\n`);
    });
}

/** computeMetrics on a predictions CSV. */
export function metricsFromCsv(file: string, task?: string, threshold?: number): MetricsReport {
  if (task !== undefined && !["binary", "multiclass", "multilabel"].includes(task)) {
    throw new ConfigError("Unknown task", {
      where: "--task",
      expected: "binary, multiclass or multilabel",
      got: JSON.stringify(task),
    });
  }
  const p = readPredsCsv(file, task as MetricsTask | undefined);
  const n = p.ids.length;
  return computeMetrics({
    task: p.task,
    yTrue: p.task === "multilabel" ? { data: p.labels, rows: n, cols: p.labelCols } : p.labels,
    scores: p.scoreCols === 1 ? p.scores : { data: p.scores, rows: n, cols: p.scoreCols },
    threshold,
  });
}
