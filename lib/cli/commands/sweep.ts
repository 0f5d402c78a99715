/**
 * `peftlab sweep plan|run|status|results|exec`: a grid of `peftlab train` (+ `peftlab eval`) runs from a sweep file,
 * run locally N at a time or as a Slurm job array, resumable, with the results merged into one table.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type { Command } from "commander";
import {
  ConfigError,
  executeRun,
  executeSweep,
  formatResultsTable,
  planSweepInput,
  SWEEP_EXECUTORS,
  SweepStore,
  sweepFolderStatus,
  sweepResults,
  tryClaim,
  writeResultsTable,
  type RunStatus,
  type SweepExecutor,
} from "../../index";
import { formatTable, writeJson, writeOut } from "../output";

const int = (v: string) => parseInt(v, 10);

function short(v: unknown): string {
  return typeof v === "object" ? JSON.stringify(v) : String(v);
}

function overridesText(o: Record<string, unknown>): string {
  return Object.entries(o)
    .map(([k, v]) => `${k}=${short(v)}`)
    .join(" ");
}

/** The sweep file behind a `run` argument: a sweep file, or a sweep folder (its sweep.json). */
function sweepSource(arg: string): { input: string | Record<string, unknown>; folder?: string } {
  if (fs.existsSync(arg) && fs.statSync(arg).isDirectory()) {
    const store = new SweepStore(arg);
    const m = store.manifest();
    return { input: m.spec as unknown as Record<string, unknown>, folder: store.dir };
  }
  return { input: arg };
}

function statusRows(runs: RunStatus[]): string[][] {
  return runs.map((r) => {
    const test = r.record?.metrics.test?.accuracy;
    const ev = r.record?.metrics.eval?.accuracy;
    const score =
      test !== undefined ? `test acc ${test.toFixed(4)}` : ev !== undefined ? `eval acc ${ev.toFixed(4)}` : "";
    return [String(r.index), r.id, r.state, overridesText(r.overrides), [score, r.detail].filter((s) => s).join("; ")];
  });
}

function printStatus(cmd: Command, dir: string, json: boolean, tail: number): void {
  const st = sweepFolderStatus(dir);
  if (json) return writeJson(cmd, st);
  writeOut(cmd, formatTable(["#", "id", "state", "overrides", "detail"], statusRows(st.runs)));
  const c = st.counts;
  writeOut(
    cmd,
    `${st.name}: ${c.done} done, ${c.running} running, ${c.failed} failed, ${c.queued} queued, ${c.pending} pending (${st.runs.length} runs) in ${st.dir}\n`,
  );
  for (const r of st.runs.filter((x) => x.state === "failed" && x.failure)) {
    const lines = (r.failure?.logTail ?? "").split("\n").slice(-tail).join("\n");
    writeOut(cmd, `\n--- failed ${r.id}: ${r.failure?.reason}\n${lines}\n`);
  }
}

/** Adds `sweep` and its subcommands to the program. */
export function register(program: Command): void {
  const sweep = program
    .command("sweep")
    .description("run a grid of train (+ eval) runs locally or as a Slurm job array, resumable");

  sweep
    .command("plan")
    .description("print the expanded runs with their stable ids (hash of each resolved run config)")
    .argument("<sweep>", "sweep file (JSON) or sweep folder")
    .option("--json", "print JSON (id, index, overrides, resolved config)")
    .action(function (this: Command, file: string, opts: { json?: boolean }) {
      const { spec, runs } = planSweepInput(sweepSource(file).input);
      if (opts.json) return writeJson(this, { name: spec.name, runs });
      writeOut(
        this,
        formatTable(
          ["#", "id", "overrides"],
          runs.map((r) => [String(r.index), r.id, overridesText(r.overrides)]),
        ),
      );
      writeOut(this, `${spec.name}: ${runs.length} runs\n`);
    });

  sweep
    .command("run")
    .description("run (or submit) every run that is not done; finished runs are never rerun")
    .argument("<sweep>", "sweep file (JSON), or an existing sweep folder to resume")
    .option("--out <dir>", "sweep folder (default sweeps/<name>; on a filesystem every node sees, for Slurm)")
    .option("--executor <kind>", `${SWEEP_EXECUTORS.join(" | ")}`, "local")
    .option("--parallel <n>", "runs at once (local processes, or the Slurm array's %P)", int)
    .option("--retry-failed", "run failed (or cancelled) runs again too")
    .option("--wait", "slurm: follow the job until it ends, then show the status table")
    .option("--dry-run", "slurm: write the sbatch script but do not submit it")
    .option("--quiet", "no progress bar")
    .option("--json", "print the final status as JSON")
    .action(async function (
      this: Command,
      file: string,
      opts: {
        out?: string;
        executor: string;
        parallel?: number;
        retryFailed?: boolean;
        wait?: boolean;
        dryRun?: boolean;
        quiet?: boolean;
        json?: boolean;
      },
    ) {
      if (!SWEEP_EXECUTORS.includes(opts.executor as SweepExecutor)) {
        throw new ConfigError("Unknown sweep executor", {
          where: "--executor",
          expected: SWEEP_EXECUTORS.join(", "),
          got: opts.executor,
          fix: "pick one of the three",
        });
      }
      if (opts.parallel !== undefined && !(opts.parallel >= 1)) {
        throw new ConfigError("Bad --parallel", {
          where: "--parallel",
          expected: "an integer ≥ 1",
          got: String(opts.parallel),
          fix: "e.g. --parallel 2",
        });
      }
      const src = sweepSource(file);
      const name = planSweepInput(src.input).spec.name;
      const out = opts.out ?? src.folder ?? path.join("sweeps", name);
      const r = await executeSweep(src.input, {
        out,
        executor: opts.executor as SweepExecutor,
        parallel: opts.parallel,
        retryFailed: opts.retryFailed,
        wait: opts.wait,
        dryRun: opts.dryRun,
        quiet: opts.quiet || opts.json,
        log: opts.json ? undefined : (l) => process.stderr.write(l + "\n"),
      });
      // Failed runs after a local run or a followed Slurm job: exit 1 (the table says which).
      const failed = r.status.counts.failed > 0 && (r.executor !== "slurm" || opts.wait);
      const fail = (): void => {
        if (failed) this.error(`sweep: ${r.status.counts.failed} failed runs`, { exitCode: 1, code: "peftlab.sweep" });
      };
      if (opts.json) {
        writeJson(this, {
          ...r.status,
          started: r.started,
          skipped: r.skipped,
          failedNotRetried: r.failedNotRetried,
          job: r.submission?.job,
          script: r.submission?.script,
        });
        return fail();
      }
      if (r.executor !== "slurm" || opts.wait) printStatus(this, r.dir, false, 15);
      else
        writeOut(
          this,
          `${r.submission ? `submitted Slurm job ${r.submission.job || "(dry run)"} with ${r.started.length} tasks` : "nothing to submit"}; follow with \`peftlab sweep status ${r.dir}\`\n`,
        );
      if (r.failedNotRetried.length > 0)
        writeOut(this, `${r.failedNotRetried.length} failed runs were not rerun; pass --retry-failed to rerun them\n`);
      fail();
    });

  sweep
    .command("status")
    .description("done, running, failed, queued and pending runs, each failure with its log tail")
    .argument("<dir>", "sweep folder")
    .option("--json", "print JSON")
    .option("--tail <n>", "log lines shown per failure", int, 15)
    .action(function (this: Command, dir: string, opts: { json?: boolean; tail: number }) {
      printStatus(this, dir, opts.json ?? false, opts.tail);
    });

  sweep
    .command("results")
    .description("the merged results table: one row per finished run, the sweep's axes first")
    .argument("<dir>", "sweep folder")
    .option("--json", "print JSON records (one object per run)")
    .option("--csv", "print CSV")
    .option("--out <file>", "write the table (.csv, .json, .md or .html) instead of printing it")
    .action(function (this: Command, dir: string, opts: { json?: boolean; csv?: boolean; out?: string }) {
      const t = sweepResults(dir);
      if (opts.out) {
        writeResultsTable(t, opts.out);
        return writeOut(this, `${t.numRows()} runs written to ${opts.out}\n`);
      }
      if (opts.json) return writeJson(this, t.objects());
      if (opts.csv) return writeOut(this, formatResultsTable(t, "csv"));
      // The terminal view: axes and the headline metrics; --json / --csv / --out carry every column.
      const headline = /^(test|eval)\.(accuracy|balanced_accuracy|f1_macro|roc_auc|roc_auc_ovr|roc_auc_macro)$/;
      const axes = new Set(new SweepStore(dir).manifest().axes);
      const cols = t.columnNames().filter((c) => c === "id" || axes.has(c) || c === "wallTimeS" || headline.test(c));
      writeOut(this, formatResultsTable(t.select(cols), "md"));
      writeOut(this, `\n${t.numRows()} runs\n`);
    });

  sweep
    .command("exec")
    .description("run one run of a sweep folder (what each Slurm array task runs); skips it if done or held")
    .argument("<dir>", "sweep folder")
    .requiredOption("--id <id>", "run id")
    .option("--job <job>", "Slurm <array job>_<task> running it")
    .action(async function (this: Command, dir: string, opts: { id: string; job?: string }) {
      const store = new SweepStore(dir);
      const m = store.manifest();
      if (!m.runs.some((r) => r.id === opts.id)) {
        throw new ConfigError("No such run in the sweep", {
          where: `${store.manifestFile}`,
          expected: "an id from `peftlab sweep plan`",
          got: opts.id,
          fix: "check the id",
        });
      }
      if (store.records().has(opts.id)) return writeOut(this, `run ${opts.id}: done already\n`);
      const claim = tryClaim(
        store.dir,
        opts.id,
        { executor: opts.job ? "slurm" : "exec", job: opts.job },
        {},
        (prev, why) => store.event({ event: "lost", id: opts.id, reason: why, holder: prev }),
      );
      if (claim === null) return writeOut(this, `run ${opts.id}: held by another executor, skipped\n`);
      if (store.records().has(opts.id)) {
        claim.release();
        return writeOut(this, `run ${opts.id}: done already\n`);
      }
      const r = await executeRun(store, m, opts.id, claim, { mode: "process" });
      writeOut(
        this,
        r.ok
          ? `run ${opts.id}: done in ${r.wallTimeS.toFixed(1)} s\n`
          : `run ${opts.id}: FAILED: ${r.failure?.reason}\n${r.failure?.logTail ?? ""}\n`,
      );
      if (!r.ok) this.error(`run ${opts.id} failed`, { exitCode: 1, code: "peftlab.sweep" });
    });
}
