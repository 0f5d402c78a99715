/**
 * Sweeps of trainEvaluate runs: each spec runs once, its record is appended to a JSONL run log (lib/results
 * runSweep, so an interrupted sweep resumes where it stopped), and the test predictions of the runs done in this
 * session are kept for ROC curves and confusion matrices. Plus the summaries the paper notebooks print: "method B
 * beats method A in X% of cases", computed from the run's own numbers.
 */
import * as fs from "node:fs";
import type { ColumnTable } from "arquero";
import { ConfigError } from "../errors";
import type { EvalResult } from "../train/evaluate";
import { runSweep, type RunBody } from "../results/run_log";
import type { RunRecord } from "../results/run_record";
import type { TrainEvalResult } from "../train/train_evaluate";

/** Options of sweepRuns. */
export interface SweepRunsOptions<S> {
  /** JSONL run log; finished specs found in it are not run again. */
  log: string;
  specs: readonly S[];
  /** The identifying settings of a spec (hashed into the run id); include the seed. */
  identify: (spec: S) => unknown;
  /** Runs one spec. */
  run: (spec: S) => Promise<TrainEvalResult>;
  /** Delete the log first, so every spec runs (default false: resume). */
  fresh?: boolean;
  /** One line per run (e.g. console.log). */
  progress?: (line: string) => void;
}

/** What a sweep returns: every record (in spec order) and the test predictions of the runs done now, by run id. */
export interface SweepResult<S> {
  records: RunRecord[];
  specs: readonly S[];
  tests: Map<string, EvalResult>;
  /** Runs skipped because the log already held them. */
  skipped: number;
}

/** Runs every spec not yet in the log (see SweepRunsOptions) and returns the records and fresh test predictions. */
export async function sweepRuns<S>(o: SweepRunsOptions<S>): Promise<SweepResult<S>> {
  if (o.fresh && fs.existsSync(o.log)) fs.rmSync(o.log);
  const tests = new Map<string, EvalResult>();
  let skipped = 0;
  let i = 0;
  const records = await runSweep(
    o.log,
    o.specs,
    o.identify,
    async (spec, id): Promise<RunBody> => {
      i++;
      const r = await o.run(spec);
      tests.set(id, r.test);
      o.progress?.(
        `[${i}/${o.specs.length}] ${r.record.method} · ${r.record.dataset} · seed ${r.record.seed}` +
          `${r.record.dataFraction !== undefined ? ` · ${r.record.dataFraction * 100}% labels` : ""}: ` +
          `${summaryLine(r.record.metrics.test)} (${r.record.wallTimeS.toFixed(1)} s)`,
      );
      return r.record;
    },
    {
      onSkip: () => {
        i++;
        skipped++;
      },
    },
  );
  return { records, specs: o.specs, tests, skipped };
}

function summaryLine(m: Record<string, number> | undefined): string {
  if (!m) return "";
  const keys = ["accuracy", "roc_auc", "roc_auc_ovr", "roc_auc_macro"].filter((k) => k in m);
  return keys.map((k) => `test ${k} ${m[k].toFixed(3)}`).join(", ");
}

/** One paired comparison: candidate vs baseline mean of a metric in one case (a combination of `by` values). */
export interface PairedCase {
  case: string;
  baseline: number;
  candidate: number;
  /** candidate − baseline. */
  delta: number;
  /** delta / baseline. */
  relative: number;
}

/** "candidate improves over baseline in X% of cases", from a runs table. */
export interface ImprovementSummary {
  baseline: string;
  candidate: string;
  metric: string;
  cases: PairedCase[];
  improved: number;
  fraction: number;
  /** Largest relative gain over the cases (NaN without cases). */
  maxRelativeGain: number;
  text: string;
}

/**
 * Compares the mean of `metric` (over seeds) of two methods in each case defined by `by` (e.g. dataset × model).
 * Cases lacking either method are left out. A case counts as improved when candidate > baseline.
 */
export function improvementSummary(
  table: ColumnTable,
  o: { baseline: string; candidate: string; metric: string; by: string[]; methodColumn?: string },
): ImprovementSummary {
  const mcol = o.methodColumn ?? "method";
  const have = new Set(table.columnNames());
  for (const c of [mcol, o.metric, ...o.by]) {
    if (!have.has(c)) {
      throw new ConfigError("improvementSummary: unknown column", {
        where: c,
        expected: `a column of the table (${[...have].join(", ")})`,
        got: c,
        fix: 'metric columns are "split.metric", e.g. "test.accuracy"',
      });
    }
  }
  const sums = new Map<string, { b: number[]; c: number[] }>();
  for (const row of table.objects() as Record<string, unknown>[]) {
    const key = o.by.map((k) => String(row[k])).join(" · ");
    const v = row[o.metric];
    if (typeof v !== "number" || Number.isNaN(v)) continue;
    const e = sums.get(key) ?? { b: [], c: [] };
    if (row[mcol] === o.baseline) e.b.push(v);
    else if (row[mcol] === o.candidate) e.c.push(v);
    sums.set(key, e);
  }
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const cases: PairedCase[] = [];
  for (const [k, e] of sums) {
    if (!e.b.length || !e.c.length) continue;
    const b = mean(e.b);
    const c = mean(e.c);
    cases.push({ case: k, baseline: b, candidate: c, delta: c - b, relative: b !== 0 ? (c - b) / Math.abs(b) : NaN });
  }
  const improved = cases.filter((c) => c.delta > 0).length;
  const fraction = cases.length ? improved / cases.length : NaN;
  const maxRelativeGain = cases.length ? Math.max(...cases.map((c) => c.relative)) : NaN;
  const pct = (x: number) => `${(100 * x).toFixed(0)}%`;
  const text = cases.length
    ? `${o.candidate} improves over ${o.baseline} on ${o.metric} in ${improved} of ${cases.length} cases (${pct(fraction)}); ` +
      `largest relative gain ${(100 * maxRelativeGain).toFixed(1)}%`
    : `no case has both ${o.baseline} and ${o.candidate}`;
  return {
    baseline: o.baseline,
    candidate: o.candidate,
    metric: o.metric,
    cases,
    improved,
    fraction,
    maxRelativeGain,
    text,
  };
}
