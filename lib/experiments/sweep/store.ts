/**
 * The sweep folder, the one place a sweep's state lives (on a shared filesystem when runs are on a cluster):
 *
 *   sweep.json          the validated sweep and its plan (ids, overrides), written once
 *   configs/<id>.json   each run's resolved config (`peftlab train --config`)
 *   runs/<id>/          each run folder (`peftlab train --out`; eval.json and preds.csv from `peftlab eval`)
 *   logs/<id>.log       stdout + stderr of the run's train and eval, every attempt
 *   runs.jsonl          the JSONL run log (lib/results): one RunRecord per finished run; done = listed here
 *   events.jsonl        claim / done / failed / submit events (who, where, when)
 *   claims/<id>.lock    live claims (claim.ts)
 *   failed/<id>.json    the last failure of a run not yet done
 *   slurm/              array scripts, task id lists, task output, jobs.jsonl
 *
 * Everything is plain files, so a folder made on a cluster opens on a laptop.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { ConfigError } from "../../errors";
import { writeFileAtomic } from "../../io/atomic";
import { readRuns } from "../../results/run_log";
import type { RunRecord } from "../../results/run_record";
import type { PlannedRun } from "./plan";
import type { SweepSpec } from "./spec";

/** What sweep.json holds. */
export interface SweepManifest {
  version: 1;
  name: string;
  spec: SweepSpec;
  runs: { id: string; index: number; overrides: Record<string, unknown> }[];
  /** Every dotted path the grid or points set (the results table's leading columns). */
  axes: string[];
  createdAt: string;
}

/** A failure record (failed/<id>.json). */
export interface RunFailure {
  id: string;
  at: string;
  reason: string;
  exitCode?: number | null;
  signal?: string | null;
  host?: string;
  job?: string;
  logTail: string;
}

/** Paths of a sweep folder. */
export class SweepStore {
  readonly dir: string;
  constructor(dir: string) {
    this.dir = path.resolve(dir);
  }
  get manifestFile(): string {
    return path.join(this.dir, "sweep.json");
  }
  get runLog(): string {
    return path.join(this.dir, "runs.jsonl");
  }
  get eventLog(): string {
    return path.join(this.dir, "events.jsonl");
  }
  configFile(id: string): string {
    return path.join(this.dir, "configs", `${id}.json`);
  }
  runDir(id: string): string {
    return path.join(this.dir, "runs", id);
  }
  logFile(id: string): string {
    return path.join(this.dir, "logs", `${id}.log`);
  }
  failedFile(id: string): string {
    return path.join(this.dir, "failed", `${id}.json`);
  }
  get slurmDir(): string {
    return path.join(this.dir, "slurm");
  }

  exists(): boolean {
    return fs.existsSync(this.manifestFile);
  }

  /** Reads sweep.json, with a ConfigError when the folder is not a sweep. */
  manifest(): SweepManifest {
    if (!this.exists()) {
      throw new ConfigError("Not a sweep folder", {
        where: this.dir,
        expected: "a folder with sweep.json (written by `peftlab sweep run`)",
        got: fs.existsSync(this.dir) ? "no sweep.json" : "no such folder",
        fix: "pass the --out folder of `peftlab sweep run`",
      });
    }
    return JSON.parse(fs.readFileSync(this.manifestFile, "utf8")) as SweepManifest;
  }

  /**
   * Creates the folder for a plan, or checks that an existing one holds the same plan (a second executor, a rerun).
   * A different plan in the same folder is an error: its ids would mix.
   */
  init(spec: SweepSpec, runs: PlannedRun[]): SweepManifest {
    const axes = [...new Set(runs.flatMap((r) => Object.keys(r.overrides)))];
    const m: SweepManifest = {
      version: 1,
      name: spec.name,
      spec,
      runs: runs.map((r) => ({ id: r.id, index: r.index, overrides: r.overrides })),
      axes,
      createdAt: new Date().toISOString(),
    };
    if (this.exists()) {
      const prev = this.manifest();
      const a = prev.runs.map((r) => r.id).join(",");
      const b = m.runs.map((r) => r.id).join(",");
      if (a !== b) {
        throw new ConfigError("The sweep folder holds another sweep", {
          where: this.manifestFile,
          expected: `the same ${prev.runs.length} run ids as the sweep that made it`,
          got: `a sweep with ${m.runs.length} runs whose ids differ`,
          fix: "pick a new --out folder, or rerun the original sweep file",
        });
      }
      return prev;
    }
    for (const r of runs) writeFileAtomic(this.configFile(r.id), JSON.stringify(r.config, null, 2) + "\n");
    writeFileAtomic(this.manifestFile, JSON.stringify(m, null, 2) + "\n");
    return m;
  }

  /** Finished runs by id (the run log). */
  records(): Map<string, RunRecord> {
    const out = new Map<string, RunRecord>();
    for (const r of readRuns(this.runLog, () => {})) out.set(r.id, r);
    return out;
  }

  failure(id: string): RunFailure | undefined {
    try {
      return JSON.parse(fs.readFileSync(this.failedFile(id), "utf8")) as RunFailure;
    } catch {
      return undefined;
    }
  }

  writeFailure(f: RunFailure): void {
    writeFileAtomic(this.failedFile(f.id), JSON.stringify(f, null, 2) + "\n");
    this.event({ event: "failed", id: f.id, reason: f.reason, ...(f.job ? { job: f.job } : {}) });
  }

  clearFailure(id: string): void {
    fs.rmSync(this.failedFile(id), { force: true });
  }

  /** Appends one event line (O_APPEND writes of one short line do not interleave). */
  event(e: Record<string, unknown>): void {
    fs.mkdirSync(this.dir, { recursive: true });
    const line = JSON.stringify({ t: new Date().toISOString(), host: os.hostname(), pid: process.pid, ...e });
    fs.appendFileSync(this.eventLog, line + "\n");
  }

  /** Every event (torn or foreign lines skipped). */
  events(): Record<string, unknown>[] {
    if (!fs.existsSync(this.eventLog)) return [];
    return fs
      .readFileSync(this.eventLog, "utf8")
      .split("\n")
      .filter((l) => l.trim() !== "")
      .flatMap((l) => {
        try {
          return [JSON.parse(l) as Record<string, unknown>];
        } catch {
          return [];
        }
      });
  }

  /** The last `n` lines of a text file ("" when absent). */
  static tail(file: string, n = 15): string {
    try {
      const st = fs.statSync(file);
      const len = Math.min(st.size, 64 * 1024);
      const buf = Buffer.alloc(len);
      const fd = fs.openSync(file, "r");
      try {
        fs.readSync(fd, buf, 0, len, st.size - len);
      } finally {
        fs.closeSync(fd);
      }
      return buf.toString("utf8").trimEnd().split("\n").slice(-n).join("\n");
    } catch {
      return "";
    }
  }
}
