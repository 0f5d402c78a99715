/**
 * A sweep's state from its folder alone: done (in runs.jsonl), running (a live claim), failed (failed/<id>.json, or a
 * claim whose holder is gone), queued (a Slurm array task still waiting) or pending. And the merged results: one
 * Arquero row per finished run, the sweep's axes first.
 */
import * as aq from "arquero";
import type { ColumnTable } from "arquero";
import { recordsTable } from "../../results/tables";
import type { RunRecord } from "../../results/run_record";
import { readClaim, staleReason, type ClaimInfo, type ClaimTiming } from "./claim";
import { SweepStore, type RunFailure, type SweepManifest } from "./store";

export type RunState = "done" | "running" | "failed" | "queued" | "pending";

/** One run's state. */
export interface RunStatus {
  id: string;
  index: number;
  overrides: Record<string, unknown>;
  state: RunState;
  /** A short note: the holder of a running claim, the Slurm task of a queued one, why a run failed. */
  detail: string;
  record?: RunRecord;
  failure?: RunFailure;
  claim?: ClaimInfo;
}

/** The whole sweep's state. */
export interface SweepStatus {
  dir: string;
  name: string;
  runs: RunStatus[];
  counts: Record<RunState, number>;
}

/** Options of sweepStatus. */
export interface SweepStatusOptions {
  timing?: ClaimTiming;
  /** Slurm array tasks still in the queue, by run id (slurm.ts queuedTasks). */
  queued?: Map<string, string>;
}

/** Reads every run's state from the folder. */
export function sweepStatus(store: SweepStore, o: SweepStatusOptions = {}): SweepStatus {
  const m = store.manifest();
  const records = store.records();
  const runs = m.runs.map((r): RunStatus => {
    const base = { id: r.id, index: r.index, overrides: r.overrides };
    const record = records.get(r.id);
    if (record) return { ...base, state: "done", detail: `${record.wallTimeS.toFixed(1)} s`, record };
    const claim = readClaim(store.dir, r.id);
    if (claim) {
      const why = staleReason(claim, o.timing);
      if (why === undefined) {
        const who = `${claim.info.executor}${claim.info.job ? ` job ${claim.info.job}` : ""} on ${claim.info.host}, pid ${claim.info.pid}`;
        return { ...base, state: "running", detail: who, claim: claim.info };
      }
      const failure: RunFailure = {
        id: r.id,
        at: new Date(claim.mtimeMs).toISOString(),
        reason: `lost: ${why}`,
        host: claim.info.host,
        ...(claim.info.job ? { job: claim.info.job } : {}),
        logTail: SweepStore.tail(store.logFile(r.id)),
      };
      return { ...base, state: "failed", detail: failure.reason, failure, claim: claim.info };
    }
    const failure = store.failure(r.id);
    if (failure) return { ...base, state: "failed", detail: failure.reason, failure };
    const q = o.queued?.get(r.id);
    if (q) return { ...base, state: "queued", detail: q };
    return { ...base, state: "pending", detail: "" };
  });
  const counts: Record<RunState, number> = { done: 0, running: 0, failed: 0, queued: 0, pending: 0 };
  for (const r of runs) counts[r.state]++;
  return { dir: store.dir, name: m.name, runs, counts };
}

/** A JSON-safe cell for an axis value (objects and arrays as JSON text). */
function axisCell(v: unknown): string | number | boolean | null {
  if (v === undefined || v === null) return null;
  return typeof v === "object" ? JSON.stringify(v) : (v as string | number | boolean);
}

/**
 * The merged results: one row per finished run in plan order, the sweep's axes (dotted paths such as
 * `training.optimizer.lr`) first, then lib/results recordsTable's columns (`test.accuracy`, `eval.accuracy`, …).
 */
export function sweepResultsTable(store: SweepStore, m: SweepManifest = store.manifest()): ColumnTable {
  const records = store.records();
  const done = m.runs.filter((r) => records.has(r.id));
  const recs = done.map((r) => records.get(r.id) as RunRecord);
  const base = recordsTable(recs);
  const axes: Record<string, unknown[]> = {};
  for (const a of m.axes) axes[a] = done.map((r) => axisCell(r.overrides[a]));
  if (m.axes.length === 0) return base;
  const rest = base.columnNames().filter((c) => c !== "id");
  return base.assign(aq.table(axes)).select(["id", ...m.axes, ...rest]);
}
