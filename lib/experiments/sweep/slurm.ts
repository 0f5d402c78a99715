/**
 * The Slurm executor: one `sbatch` array script per submission (one task per run to do, `--array=0-(n-1)%P`,
 * resources from the sweep file), each task `peftlab sweep exec <dir> --id <id>` with this checkout's Node and CLI,
 * the submitting shell's working directory and PEFTLAB_* environment. `followJob` waits for the job through squeue
 * (a job that has left the queue has ended), reads task states from sacct where accounting exists, and marks every
 * task of the job that did not finish as failed, with its run log and Slurm output tail.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { ConfigError } from "../../errors";
import { writeFileAtomic } from "../../io/atomic";
import { readClaim } from "./claim";
import { cliEntry } from "./execute";
import { SweepProgress } from "./progress";
import type { SweepSlurmConfig } from "./spec";
import { sweepStatus } from "./status";
import { SweepStore, type SweepManifest } from "./store";

/** One submission (a line of slurm/jobs.jsonl). */
export interface SlurmSubmission {
  job: string;
  script: string;
  idsFile: string;
  ids: string[];
  submittedAt: string;
}

/** Quotes a word for bash. */
export function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** The sbatch script of one submission. */
export function sbatchScript(o: {
  name: string;
  dir: string;
  idsFile: string;
  n: number;
  slurm: SweepSlurmConfig;
  cwd: string;
  env: NodeJS.ProcessEnv;
  node: string;
  cli: string;
}): string {
  const s = o.slurm;
  const par = s.parallel !== undefined ? `%${s.parallel}` : "";
  const lines = [
    "#!/bin/bash",
    `#SBATCH --job-name=peftlab-${o.name}`,
    `#SBATCH --array=0-${o.n - 1}${par}`,
    `#SBATCH --output=${path.join(o.dir, "slurm", "%A_%a.out")}`,
    `#SBATCH --chdir=${o.cwd}`,
    ...(s.partition ? [`#SBATCH --partition=${s.partition}`] : []),
    ...(s.account ? [`#SBATCH --account=${s.account}`] : []),
    ...(s.gres ? [`#SBATCH --gres=${s.gres}`] : []),
    ...(s.cpusPerTask ? [`#SBATCH --cpus-per-task=${s.cpusPerTask}`] : []),
    ...(s.mem ? [`#SBATCH --mem=${s.mem}`] : []),
    ...(s.time ? [`#SBATCH --time=${s.time}`] : []),
    ...s.extra.map((l) => `#SBATCH ${l}`),
    "# Written by `peftlab sweep run --executor slurm`: one array task per run; the ids are in the file below.",
    "set -eo pipefail",
    "# The submitting shell's PEFTLAB_* environment.",
    ...Object.keys(o.env)
      .filter((k) => k.startsWith("PEFTLAB_") && /^[A-Z0-9_]+$/.test(k))
      .sort()
      .map((k) => `export ${k}=${shellQuote(o.env[k] ?? "")}`),
    `cd ${shellQuote(o.cwd)}`,
    ...s.setup,
    `ID=$(sed -n "$((SLURM_ARRAY_TASK_ID + 1))p" ${shellQuote(o.idsFile)})`,
    `exec ${shellQuote(o.node)} ${shellQuote(o.cli)} sweep exec ${shellQuote(o.dir)} --id "$ID" --job "\${SLURM_ARRAY_JOB_ID}_\${SLURM_ARRAY_TASK_ID}"`,
    "",
  ];
  return lines.join("\n");
}

function slurmCmd(
  cmd: string,
  args: string[],
  env?: NodeJS.ProcessEnv,
): { ok: boolean; missing: boolean; out: string; err: string } {
  const r = spawnSync(cmd, args, { encoding: "utf8", env: env ?? process.env });
  const missing = (r.error as NodeJS.ErrnoException | undefined)?.code === "ENOENT";
  return {
    ok: r.status === 0 && !r.error,
    missing,
    out: r.stdout ?? "",
    err: (r.stderr ?? "") + (r.error ? String(r.error) : ""),
  };
}

/** Every submission of a sweep folder. */
export function submissions(store: SweepStore): SlurmSubmission[] {
  const f = path.join(store.slurmDir, "jobs.jsonl");
  if (!fs.existsSync(f)) return [];
  return fs
    .readFileSync(f, "utf8")
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => JSON.parse(l) as SlurmSubmission);
}

/** Writes the script for `ids` and submits it (`dryRun`: write only). */
export function submitArray(
  store: SweepStore,
  m: SweepManifest,
  ids: string[],
  o: { env?: NodeJS.ProcessEnv; cwd?: string; cli?: string; dryRun?: boolean },
): SlurmSubmission {
  const env = o.env ?? process.env;
  fs.mkdirSync(store.slurmDir, { recursive: true });
  const k = fs.readdirSync(store.slurmDir).filter((f) => f.endsWith(".sbatch")).length;
  const stem = path.join(store.slurmDir, `submit-${String(k).padStart(3, "0")}`);
  const idsFile = `${stem}.ids`;
  const script = `${stem}.sbatch`;
  writeFileAtomic(idsFile, ids.join("\n") + "\n");
  const text = sbatchScript({
    name: m.name,
    dir: store.dir,
    idsFile,
    n: ids.length,
    slurm: m.spec.slurm,
    cwd: path.resolve(o.cwd ?? process.cwd()),
    env,
    node: process.execPath,
    cli: o.cli ?? cliEntry(),
  });
  writeFileAtomic(script, text);
  fs.chmodSync(script, 0o755);
  const sub: SlurmSubmission = { job: "", script, idsFile, ids, submittedAt: new Date().toISOString() };
  if (o.dryRun) return sub;
  const r = slurmCmd("sbatch", ["--parsable", script], env);
  if (!r.ok) {
    throw new ConfigError("sbatch refused the sweep's array job", {
      where: script,
      expected: "sbatch to print a job id",
      got: r.missing ? "no sbatch command on PATH" : r.err.trim() || `exit ${r.out}`,
      fix: r.missing
        ? "run on a Slurm login node (or start one: scripts/slurm-local.sh start)"
        : "check the sweep file's slurm resources (partition, account, gres, time) against `sinfo`",
    });
  }
  sub.job = r.out.trim().split(";")[0];
  fs.appendFileSync(path.join(store.slurmDir, "jobs.jsonl"), JSON.stringify(sub) + "\n");
  store.event({ event: "submit", job: sub.job, n: ids.length, script });
  return sub;
}

/** Array tasks of a job still in the queue (task index → state), or null when squeue is missing. */
function queuedTasks(job: string, env?: NodeJS.ProcessEnv): Map<number, string> | null {
  const r = slurmCmd("squeue", ["-h", "-r", "-j", job, "-o", "%K|%T"], env);
  if (r.missing) return null;
  const out = new Map<number, string>();
  if (!r.ok) return out; // "Invalid job id": purged, so ended
  for (const line of r.out.split("\n")) {
    const [k, st] = line.trim().split("|");
    if (k !== undefined && st !== undefined && /^\d+$/.test(k)) out.set(Number(k), st);
  }
  return out;
}

/** Run ids of every queued array task of the folder's submissions (for status), with their job and state. */
export function queuedRuns(store: SweepStore, env?: NodeJS.ProcessEnv): Map<string, string> {
  const out = new Map<string, string>();
  for (const s of submissions(store)) {
    const q = queuedTasks(s.job, env);
    if (!q) break;
    for (const [k, st] of q) if (s.ids[k] !== undefined) out.set(s.ids[k], `Slurm ${s.job}_${k} ${st}`);
  }
  return out;
}

/**
 * Reconciles every submission whose job has left the queue (a `sweep run` without --wait, a killed follower): its
 * tasks that did not finish become failed. Needs squeue; without it nothing changes.
 */
export function reconcileEndedJobs(store: SweepStore, env?: NodeJS.ProcessEnv): void {
  for (const s of submissions(store)) {
    const q = queuedTasks(s.job, env);
    if (q === null) return;
    if (q.size === 0) reconcileJob(store, s, env);
  }
}

/** Task states from sacct (`<job>_<k>` → state), empty without accounting. */
function sacctStates(job: string, env?: NodeJS.ProcessEnv): Map<string, string> {
  const r = slurmCmd("sacct", ["-n", "-P", "-X", "-j", job, "--format=JobID,State,ExitCode"], env);
  const out = new Map<string, string>();
  if (!r.ok) return out;
  for (const line of r.out.split("\n")) {
    const [id, st, code] = line.trim().split("|");
    if (id && st) out.set(id, `${st}${code ? ` exit ${code}` : ""}`);
  }
  return out;
}

/** Marks every task of a finished job whose run is not done as failed, with its log tails. */
export function reconcileJob(store: SweepStore, sub: SlurmSubmission, env?: NodeJS.ProcessEnv): void {
  const states = sacctStates(sub.job, env);
  const records = store.records();
  sub.ids.forEach((id, k) => {
    if (records.has(id)) return;
    const task = `${sub.job}_${k}`;
    const claim = readClaim(store.dir, id);
    const prev = store.failure(id);
    if (claim && claim.info.job !== task) return; // another executor holds it now
    if (!claim && prev && prev.job !== task) return; // an older failure, not this task's
    const state = states.get(task) ?? "state unknown (no Slurm accounting)";
    const slurmOut = SweepStore.tail(path.join(store.slurmDir, `${task}.out`), 10);
    const runTail = SweepStore.tail(store.logFile(id));
    const reason =
      prev?.job === task
        ? `${prev.reason}; Slurm task ${task}: ${state}`
        : claim
          ? `Slurm task ${task} ended while running (${state})`
          : `Slurm task ${task} ended without finishing (${state})`;
    if (claim) fs.rmSync(path.join(store.dir, "claims", `${id}.lock`), { force: true });
    if (prev?.job === task && prev.reason.includes("Slurm task")) return; // reconciled already
    store.writeFailure({
      id,
      at: new Date().toISOString(),
      reason,
      job: task,
      ...(prev?.signal ? { signal: prev.signal } : {}),
      logTail: [runTail, slurmOut ? `--- slurm ${task}.out\n${slurmOut}` : ""].filter((s) => s !== "").join("\n"),
    });
  });
}

/** Waits until a submitted job has left the queue, showing progress, then reconciles its tasks. */
export async function followJob(
  store: SweepStore,
  m: SweepManifest,
  sub: SlurmSubmission,
  o: { env?: NodeJS.ProcessEnv; pollMs?: number; quiet?: boolean; parallel: number },
): Promise<void> {
  const pollMs = o.pollMs ?? 3000;
  const progress = new SweepProgress(`sweep ${m.name} (Slurm job ${sub.job})`, o.parallel, o.quiet ?? false);
  const seen = new Set<string>();
  try {
    for (;;) {
      const q = queuedTasks(sub.job, o.env);
      const st = sweepStatus(store);
      const mine = st.runs.filter((r) => sub.ids.includes(r.id));
      for (const r of mine) {
        if (r.state === "done" && !seen.has(r.id)) {
          seen.add(r.id);
          if (r.record) progress.addWallTime(r.record.wallTimeS);
        }
      }
      const done = mine.filter((r) => r.state === "done").length;
      const failed = mine.filter((r) => r.state === "failed").length;
      progress.update({
        done,
        failed,
        running: mine.filter((r) => r.state === "running").length,
        total: sub.ids.length,
      });
      // Without squeue the job's end is when every task's run has finished or failed.
      if (q === null ? done + failed === sub.ids.length : q.size === 0) break;
      await new Promise((res) => setTimeout(res, pollMs));
    }
  } finally {
    progress.stop();
  }
  reconcileJob(store, sub, o.env);
}
