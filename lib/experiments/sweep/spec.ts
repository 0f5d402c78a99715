/**
 * The sweep file: plain validated JSON. A base run config (the `peftlab train` schema), a grid and/or explicit points
 * over any of its fields by dotted path, an optional `peftlab eval` data folder, and the Slurm resources.
 *
 *   { "name": "lr-seeds", "base": { …RunConfig… },
 *     "grid": { "training.optimizer.lr": [0.01, 0.001], "seed": [0, 1] },
 *     "points": [{ "method.kind": "linear" }],
 *     "eval": { "data": "${PEFTLAB_SHARED}/data/pbc-jpeg" },
 *     "slurm": { "partition": "gpu", "gres": "gpu:1", "cpusPerTask": 8, "mem": "32G", "time": "02:00:00",
 *                "account": "lab", "parallel": 4, "extra": ["--qos=normal"], "setup": ["module load nodejs"] } }
 *
 * Every error is a ConfigError naming the field (`sweep.grid["training.optimizer.lr"]`), what was expected, what came
 * and how to fix it.
 */
import * as path from "node:path";
import { readTextFile } from "../../io/file_read";
import { ConfigError } from "../../errors";
import { expandPath } from "./train_api";

/** Slurm resources and submission settings (`#SBATCH` lines of the array job). */
export interface SweepSlurmConfig {
  partition?: string;
  /** e.g. "gpu:1". */
  gres?: string;
  cpusPerTask?: number;
  /** e.g. "16G". */
  mem?: string;
  /** e.g. "02:00:00". */
  time?: string;
  account?: string;
  /** Array tasks running at once (`--array=…%P`); default every task. */
  parallel?: number;
  /** Extra `#SBATCH` options, e.g. "--qos=long" (a leading "#SBATCH " is accepted). */
  extra: string[];
  /** Shell lines run before each task, e.g. "module load nodejs/20". */
  setup: string[];
}

/** A validated sweep. `base` stays raw: each point is validated as a whole run config when planned. */
export interface SweepSpec {
  name: string;
  base: Record<string, unknown>;
  /** Dotted path → values; the runs are the Cartesian product, in key order, last key fastest. */
  grid: Record<string, unknown[]>;
  /** Extra runs: each one a set of dotted-path overrides of the base. */
  points: Record<string, unknown>[];
  /** `peftlab eval --data` after each training run (an image folder with the run's class names). */
  eval?: { data: string; batchSize?: number };
  slurm: SweepSlurmConfig;
  /** Folder the base config's relative paths start from (the sweep file's folder). */
  baseDir: string;
}

/** Options of resolveSweep. */
export interface ResolveSweepOptions {
  /** Folder relative paths start from (default the working directory). */
  baseDir?: string;
  env?: NodeJS.ProcessEnv;
  /** Name when the data has none (default "sweep"). */
  defaultName?: string;
}

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function fail(what: string, where: string, expected: string, got: unknown, fix: string): never {
  throw new ConfigError(what, { where, expected, got: JSON.stringify(got) ?? String(got), fix });
}

function known(o: Obj, where: string, keys: readonly string[]): void {
  for (const k of Object.keys(o)) {
    if (!keys.includes(k))
      fail("Unknown sweep field", `${where}.${k}`, `one of ${keys.join(", ")}`, k, "remove it or fix its spelling");
  }
}

function optStr(v: unknown, where: string): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== "string" || v === "")
    fail("Expected a string", where, "a non-empty string", v, "write it as a JSON string");
  return v;
}

function optInt(v: unknown, where: string, min: number): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== "number" || !Number.isInteger(v) || v < min)
    fail("Expected an integer", where, `an integer ≥ ${min}`, v, "write a whole number");
  return v;
}

function strList(v: unknown, where: string): string[] {
  if (v === undefined) return [];
  if (!Array.isArray(v) || v.some((s) => typeof s !== "string"))
    fail("Expected a list of strings", where, "an array of strings", v, 'e.g. ["--qos=normal"]');
  return v as string[];
}

/** Checks a dotted path (`training.optimizer.lr`): non-empty segments of letters, digits, `_` or `-`. */
export function checkDottedPath(p: string, where: string): string[] {
  const segs = p.split(".");
  if (p === "" || segs.some((s) => !/^[A-Za-z0-9_-]+$/.test(s))) {
    fail(
      "Bad dotted path",
      where,
      'a dotted path of run-config fields, e.g. "training.optimizer.lr"',
      p,
      "use field names separated by dots",
    );
  }
  return segs;
}

/** Validates sweep data (parsed JSON or a notebook object). */
export function resolveSweep(raw: unknown, opts: ResolveSweepOptions = {}): SweepSpec {
  if (!isObj(raw))
    fail(
      "A sweep must be an object",
      "sweep",
      "a JSON object with base, grid and/or points",
      raw,
      "see docs/examples/sweep-tiny.json",
    );
  known(raw, "sweep", ["name", "base", "grid", "points", "eval", "slurm"]);
  const name = optStr(raw.name, "sweep.name") ?? opts.defaultName ?? "sweep";
  if (!/^[A-Za-z0-9._-]+$/.test(name))
    fail(
      "Bad sweep name",
      "sweep.name",
      "letters, digits, '.', '_' or '-'",
      name,
      "rename it (it names the job and the default folder)",
    );
  if (!isObj(raw.base))
    fail(
      "Missing base run config",
      "sweep.base",
      "a run config object (the `peftlab train --config` schema)",
      raw.base,
      "put the run config every point starts from under `base`",
    );
  const grid: Record<string, unknown[]> = {};
  if (raw.grid !== undefined) {
    if (!isObj(raw.grid))
      fail(
        "Expected an object",
        "sweep.grid",
        'an object of dotted path → list of values, e.g. {"seed": [0, 1]}',
        raw.grid,
        "write the grid as an object",
      );
    for (const [k, v] of Object.entries(raw.grid)) {
      checkDottedPath(k, `sweep.grid[${JSON.stringify(k)}]`);
      if (!Array.isArray(v) || v.length === 0)
        fail(
          "A grid axis needs a non-empty list of values",
          `sweep.grid[${JSON.stringify(k)}]`,
          "a non-empty array",
          v,
          `write e.g. "${k}": [a, b]`,
        );
      grid[k] = v;
    }
  }
  const points: Obj[] = [];
  if (raw.points !== undefined) {
    if (!Array.isArray(raw.points))
      fail(
        "Expected a list",
        "sweep.points",
        "an array of objects of dotted path → value",
        raw.points,
        'write e.g. [{"method.kind": "linear"}]',
      );
    raw.points.forEach((p, i) => {
      if (!isObj(p))
        fail(
          "Expected an object",
          `sweep.points[${i}]`,
          "an object of dotted path → value",
          p,
          'write e.g. {"seed": 3}',
        );
      for (const k of Object.keys(p)) checkDottedPath(k, `sweep.points[${i}][${JSON.stringify(k)}]`);
      points.push(p);
    });
  }
  const baseDir = path.resolve(opts.baseDir ?? ".");
  let ev: SweepSpec["eval"];
  if (raw.eval !== undefined) {
    if (!isObj(raw.eval))
      fail(
        "Expected an object",
        "sweep.eval",
        '{"data": "<image folder>"}',
        raw.eval,
        "name the folder `peftlab eval --data` reads",
      );
    known(raw.eval, "sweep.eval", ["data", "batchSize"]);
    const data = optStr(raw.eval.data, "sweep.eval.data");
    if (data === undefined)
      fail(
        "Missing field",
        "sweep.eval.data",
        "an image folder path",
        undefined,
        "name the folder `peftlab eval --data` reads",
      );
    ev = {
      data: expandPath(data, "sweep.eval.data", { baseDir, env: opts.env }),
      batchSize: optInt(raw.eval.batchSize, "sweep.eval.batchSize", 1),
    };
  }
  const s = raw.slurm ?? {};
  if (!isObj(s))
    fail(
      "Expected an object",
      "sweep.slurm",
      "an object of Slurm resources",
      s,
      'e.g. {"partition": "gpu", "gres": "gpu:1"}',
    );
  known(s, "sweep.slurm", ["partition", "gres", "cpusPerTask", "mem", "time", "account", "parallel", "extra", "setup"]);
  const slurm: SweepSlurmConfig = {
    partition: optStr(s.partition, "sweep.slurm.partition"),
    gres: optStr(s.gres, "sweep.slurm.gres"),
    cpusPerTask: optInt(s.cpusPerTask, "sweep.slurm.cpusPerTask", 1),
    mem: optStr(s.mem, "sweep.slurm.mem"),
    time: optStr(s.time, "sweep.slurm.time"),
    account: optStr(s.account, "sweep.slurm.account"),
    parallel: optInt(s.parallel, "sweep.slurm.parallel", 1),
    extra: strList(s.extra, "sweep.slurm.extra").map((l) => l.replace(/^#SBATCH\s+/, "").trim()),
    setup: strList(s.setup, "sweep.slurm.setup"),
  };
  slurm.extra.forEach((l, i) => {
    if (!l.startsWith("-") || /[\n\r]/.test(l))
      fail(
        "Bad extra #SBATCH line",
        `sweep.slurm.extra[${i}]`,
        'an sbatch option such as "--qos=normal"',
        l,
        "write one option per entry, starting with -",
      );
  });
  return { name, base: raw.base, grid, points, eval: ev, slurm, baseDir };
}

/** Reads and validates a sweep file; relative paths in it start from its folder. */
export function loadSweepFile(file: string, env?: NodeJS.ProcessEnv): SweepSpec {
  // Regular files only: a directory, FIFO or missing path is a ConfigError naming it (never a hang on a FIFO).
  const text = readTextFile(file, ConfigError, "sweep file (JSON)");
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new ConfigError("Sweep file is not valid JSON", {
      where: file,
      got: (e as Error).message,
      fix: "fix the JSON syntax",
    });
  }
  return resolveSweep(raw, {
    baseDir: path.dirname(path.resolve(file)),
    env,
    defaultName: path.basename(file, ".json"),
  });
}
