/**
 * The sweep API that `peftlab sweep` and notebooks share: hand a sweep (a file, or the same data as an object) to an
 * executor — "in-process" (this process, one run at a time), "local" (child processes, N at a time) or "slurm" (a job
 * array) — and read the merged results back as an Arquero table from the sweep folder alone, on any machine.
 */
import type { ColumnTable } from "arquero";
import { ConfigError } from "../../errors";
import type { ClaimTiming } from "./claim";
import { runLocal } from "./local";
import { planSweep, type PlannedRun } from "./plan";
import { followJob, queuedRuns, reconcileEndedJobs, submitArray, submissions, type SlurmSubmission } from "./slurm";
import { loadSweepFile, resolveSweep, type SweepSpec } from "./spec";
import { sweepResultsTable, sweepStatus, type SweepStatus } from "./status";
import { SweepStore } from "./store";

export type SweepExecutor = "in-process" | "local" | "slurm";
export const SWEEP_EXECUTORS: readonly SweepExecutor[] = ["in-process", "local", "slurm"];

/** Options of executeSweep. */
export interface ExecuteSweepOptions {
  /** The sweep folder (on a filesystem every node sees, for Slurm). */
  out: string;
  executor?: SweepExecutor;
  /** Runs at once: local processes, or the Slurm array's %P (default: the sweep file's slurm.parallel). */
  parallel?: number;
  /** Run failed runs again too (default: only runs never tried). */
  retryFailed?: boolean;
  /** Slurm: follow the job until it ends (default false: submit and return). */
  wait?: boolean;
  /** Slurm: write the script, do not submit. */
  dryRun?: boolean;
  /** No progress bar. */
  quiet?: boolean;
  /** One line per finished run. */
  log?: (line: string) => void;
  env?: NodeJS.ProcessEnv;
  /** Working directory of Slurm tasks (default this process's). */
  cwd?: string;
  /** The CLI entry children run (default this checkout's dist/lib/cli/main.js). */
  cli?: string;
  timing?: ClaimTiming;
  /** Slurm --wait poll interval (default 3000 ms). */
  pollMs?: number;
}

/** What executeSweep did, and the sweep's state after it. */
export interface ExecuteSweepResult {
  dir: string;
  executor: SweepExecutor;
  /** Ids this call ran (local, in-process) or submitted (Slurm). */
  started: string[];
  /** Ids another executor held when this one reached them. */
  skipped: string[];
  /** Failed runs left alone because retryFailed was off. */
  failedNotRetried: string[];
  submission?: SlurmSubmission;
  status: SweepStatus;
}

/** A sweep file path or sweep data (as `resolveSweep` takes). */
export type SweepInput = string | SweepSpec | Record<string, unknown>;

function toSpec(s: SweepInput, env?: NodeJS.ProcessEnv): SweepSpec {
  if (typeof s === "string") return loadSweepFile(s, env);
  if ("baseDir" in s && "slurm" in s && Array.isArray((s as SweepSpec).points)) return s as SweepSpec;
  return resolveSweep(s, { env });
}

/** Validates and expands a sweep (file or data): every run with its stable id. */
export function planSweepInput(s: SweepInput, env?: NodeJS.ProcessEnv): { spec: SweepSpec; runs: PlannedRun[] } {
  const spec = toSpec(s, env);
  return { spec, runs: planSweep(spec, env) };
}

/** Runs (or submits) every run of a sweep that is not done, and returns what happened and the state after. */
export async function executeSweep(s: SweepInput, o: ExecuteSweepOptions): Promise<ExecuteSweepResult> {
  const executor = o.executor ?? "local";
  if (!SWEEP_EXECUTORS.includes(executor)) {
    throw new ConfigError("Unknown sweep executor", {
      where: "executor",
      expected: SWEEP_EXECUTORS.join(", "),
      got: JSON.stringify(executor),
      fix: "pick one of the three",
    });
  }
  const { spec, runs } = planSweepInput(s, o.env);
  const store = new SweepStore(o.out);
  const m = store.init(spec, runs);
  if (executor === "slurm") reconcileEndedJobs(store, o.env);
  const before = sweepStatus(store, {
    timing: o.timing,
    queued: executor === "slurm" ? queuedRuns(store, o.env) : undefined,
  });
  const failed = before.runs.filter((r) => r.state === "failed").map((r) => r.id);
  const todo = before.runs
    .filter(
      (r) =>
        r.state === "pending" ||
        (r.state === "queued" && executor !== "slurm") ||
        (o.retryFailed && r.state === "failed"),
    )
    .map((r) => r.id);
  const failedNotRetried = o.retryFailed ? [] : failed;
  if (executor === "slurm") {
    let submission: SlurmSubmission | undefined;
    if (todo.length > 0) {
      const parallel = o.parallel ?? m.spec.slurm.parallel;
      const mm = parallel === undefined ? m : { ...m, spec: { ...m.spec, slurm: { ...m.spec.slurm, parallel } } };
      submission = submitArray(store, mm, todo, { env: o.env, cwd: o.cwd, cli: o.cli, dryRun: o.dryRun });
      o.log?.(
        o.dryRun
          ? `wrote ${submission.script} (not submitted)`
          : `submitted Slurm job ${submission.job}: ${todo.length} array tasks (${submission.script})`,
      );
      if (o.wait && !o.dryRun)
        await followJob(store, m, submission, {
          env: o.env,
          pollMs: o.pollMs,
          quiet: o.quiet,
          parallel: parallel ?? todo.length,
        });
    } else if (o.wait) {
      // Nothing new to submit: follow what an earlier submission still has queued.
      const last = submissions(store).at(-1);
      if (last && before.counts.queued + before.counts.running > 0)
        await followJob(store, m, last, { env: o.env, pollMs: o.pollMs, quiet: o.quiet, parallel: 1 });
    }
    return {
      dir: store.dir,
      executor,
      started: todo,
      skipped: [],
      failedNotRetried,
      submission,
      status: sweepStatus(store, { timing: o.timing, queued: queuedRuns(store, o.env) }),
    };
  }
  const r = await runLocal(store, m, todo, {
    mode: executor === "in-process" ? "in-process" : "process",
    parallel: o.parallel ?? 1,
    quiet: o.quiet,
    timing: o.timing,
    env: o.env,
    cli: o.cli,
    log: o.log,
    alreadyDone: before.counts.done,
    total: runs.length,
  });
  return {
    dir: store.dir,
    executor,
    started: r.results.map((x) => x.id),
    skipped: r.skipped,
    failedNotRetried,
    status: sweepStatus(store, { timing: o.timing }),
  };
}

/** The merged results of a sweep folder as an Arquero table (one row per finished run, axes first). */
export function sweepResults(dir: string): ColumnTable {
  return sweepResultsTable(new SweepStore(dir));
}

/** The state of every run of a sweep folder (Slurm's queue consulted where squeue exists). */
export function sweepFolderStatus(dir: string, env?: NodeJS.ProcessEnv): SweepStatus {
  const store = new SweepStore(dir);
  reconcileEndedJobs(store, env);
  return sweepStatus(store, { queued: queuedRuns(store, env) });
}
