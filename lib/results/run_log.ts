/**
 * A JSONL run log: one `RunRecord` per line, appended and fsynced per record, so a killed sweep loses at most the
 * line being written. A torn last line (no newline, not valid JSON) is ignored with a warning when read, and cut off
 * before the next append so it cannot glue onto the next record. A bad line anywhere else is an error.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { ConfigError, DataError } from "../errors";
import { type RunRecord, runKey } from "./run_record";

/** Where non-fatal notices (a torn last line) go; defaults to console.warn. */
export type WarnFn = (message: string) => void;

const defaultWarn: WarnFn = (m) => console.warn(m);

/** Byte offset just past the last newline of an open file (0 when there is none). */
function endOfLastLine(fd: number, size: number): number {
  const chunk = Buffer.alloc(64 * 1024);
  let end = size;
  while (end > 0) {
    const start = Math.max(0, end - chunk.length);
    const n = fs.readSync(fd, chunk, 0, end - start, start);
    const i = chunk.subarray(0, n).lastIndexOf(0x0a);
    if (i >= 0) return start + i + 1;
    end = start;
  }
  return 0;
}

/** Appends one record as a JSON line and fsyncs it; first cuts off a torn last line left by a killed writer. */
export function appendRun(file: string, record: RunRecord, warn: WarnFn = defaultWarn): void {
  checkRecord(record, `${file} (appending)`);
  fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  const fd = fs.openSync(file, "a+");
  try {
    const size = fs.fstatSync(fd).size;
    if (size > 0) {
      const last = Buffer.alloc(1);
      fs.readSync(fd, last, 0, 1, size - 1);
      if (last[0] !== 0x0a) {
        const keep = endOfLastLine(fd, size);
        warn(`run log ${file}: dropping a torn last line (${size - keep} bytes) left by an interrupted write`);
        fs.ftruncateSync(fd, keep);
      }
    }
    fs.writeSync(fd, `${JSON.stringify(record)}\n`);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** Minimal shape check so a log of something else fails loudly instead of producing empty tables. */
function checkRecord(r: unknown, where: string): asserts r is RunRecord {
  const o = r as Partial<RunRecord> | null;
  const ok =
    typeof o === "object" &&
    o !== null &&
    typeof o.id === "string" &&
    typeof o.metrics === "object" &&
    o.metrics !== null;
  if (!ok) {
    throw new DataError("Not a run record", {
      where,
      expected: "an object with a string `id` and a `metrics` object",
      got: JSON.stringify(r)?.slice(0, 120) ?? String(r),
      fix: "write records with appendRun / runSweep; check the file is a peftlab run log",
    });
  }
}

/** Reads every record of a run log (missing file: none). A torn last line is skipped with a warning. */
export function readRuns(file: string, warn: WarnFn = defaultWarn): RunRecord[] {
  if (!fs.existsSync(file)) return [];
  const text = fs.readFileSync(file, "utf8");
  const lines = text.split("\n");
  const out: RunRecord[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (line.trim() === "") continue;
    const isTail = i === lines.length - 1; // text after the last newline: possibly an interrupted write
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch (e) {
      if (isTail) {
        warn(`run log ${file}: ignoring a torn last line ${i + 1} (${line.length} chars) left by an interrupted write`);
        continue;
      }
      throw new DataError("Corrupt line in run log", {
        where: `${file}:${i + 1}`,
        expected: "one JSON run record per line",
        got: `${(e as Error).message}: ${line.slice(0, 80)}`,
        fix: "remove or repair that line; only the last line can be torn by an interrupted run",
      });
    }
    checkRecord(parsed, `${file}:${i + 1}`);
    out.push(parsed);
  }
  return out;
}

/** What `runSweep` runs for one spec: everything of a record but its id, which the sweep assigns. */
export type RunBody = Omit<RunRecord, "id"> & { id?: string };

/** Sweep options. */
export interface SweepOptions {
  warn?: WarnFn;
  /** Called with each spec skipped because its run is already in the log. */
  onSkip?: (id: string, record: RunRecord) => void;
}

/**
 * Runs `fn` for each spec whose identity (`identify(spec)`, hashed by `runKey`) is not yet in the log, appending each
 * record as soon as it finishes. Re-running after an interruption skips finished runs. Returns one record per spec,
 * in spec order (logged ones as read back).
 */
export async function runSweep<T>(
  logFile: string,
  specs: readonly T[],
  identify: (spec: T) => unknown,
  fn: (spec: T, id: string) => RunBody | Promise<RunBody>,
  opts: SweepOptions = {},
): Promise<RunRecord[]> {
  const warn = opts.warn ?? defaultWarn;
  const done = new Map<string, RunRecord>();
  for (const r of readRuns(logFile, warn)) done.set(r.id, r);
  const ids = specs.map((s) => runKey(identify(s)));
  const dup = ids.find((id, i) => ids.indexOf(id) !== i);
  if (dup !== undefined) {
    throw new ConfigError("Two sweep specs have the same identity", {
      where: `runSweep: spec ${ids.indexOf(dup)} and ${ids.lastIndexOf(dup)}`,
      expected: "distinct identities (include every setting that changes the run, e.g. the seed)",
      got: `both hash to ${dup}`,
      fix: "add the differing fields to what identify() returns",
    });
  }
  const out: RunRecord[] = [];
  for (let i = 0; i < specs.length; i++) {
    const id = ids[i];
    const prev = done.get(id);
    if (prev !== undefined) {
      opts.onSkip?.(id, prev);
      out.push(prev);
      continue;
    }
    const body = await fn(specs[i], id);
    if (body.id !== undefined && body.id !== id) {
      throw new ConfigError("A sweep run returned a record with a different id", {
        where: `runSweep: spec ${i}`,
        expected: id,
        got: body.id,
        fix: "leave `id` unset (the sweep assigns it) or return the id passed to the run function",
      });
    }
    const rest: Partial<RunBody> = { ...body };
    delete rest.id;
    const record = { id, ...rest } as RunRecord; // id first: logs read better by eye
    appendRun(logFile, record, warn);
    done.set(id, record);
    out.push(record);
  }
  return out;
}
