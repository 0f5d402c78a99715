/** `RunRecord`: the plain-data result of one training or evaluation run, and its stable identity key. */
import { createHash } from "node:crypto";
import { DataError } from "../errors";

/** A JSON value (what a run's config may hold). */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** One run: what was run, on what, and what it scored, per split. Plain data, one JSON line in a run log. */
export interface RunRecord {
  /** Stable key of the run's identifying config (`runKey`); a sweep resumes by it. */
  id: string;
  /** The full run config as written by the caller. */
  config: { [key: string]: JsonValue };
  modelId: string;
  /** Adaptation strategy or method, e.g. "lora", "linear_probe", "ft", "lp-ft". */
  method: string;
  dataset: string;
  seed: number;
  /** Fraction of the training set used (seed 001, 002 protocols). */
  dataFraction?: number;
  /** Images per class (few-shot protocols, seed 000). */
  shots?: number;
  /** Metric values per split: `metrics.test.accuracy`. */
  metrics: Record<string, Record<string, number>>;
  trainableParams: number;
  totalParams: number;
  wallTimeS: number;
  /** tfjs backend the run used ("wasm", "cpu", "tensorflow", "webgpu"...). */
  backend: string;
  /** "ci" for the small offline settings, "full" for the paper's settings. */
  scale: "ci" | "full";
  /** ISO 8601 timestamps. */
  startedAt: string;
  finishedAt: string;
  extra?: { [key: string]: JsonValue };
}

/** JSON with object keys sorted at every level, so equal configs give equal strings whatever the key order. */
export function stableStringify(value: unknown, where = "value"): string {
  if (value === null || typeof value === "boolean" || typeof value === "string") return JSON.stringify(value);
  if (typeof value === "number") {
    if (!Number.isFinite(value)) {
      throw new DataError("A run identity cannot hold a non-finite number", {
        where,
        expected: "finite numbers",
        got: `${value}`,
        fix: "remove NaN/Infinity from the identifying config",
      });
    }
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map((v, i) => stableStringify(v, `${where}[${i}]`)).join(",")}]`;
  if (typeof value === "object") {
    const obj = value as Record<string, unknown>;
    const keys = Object.keys(obj)
      .filter((k) => obj[k] !== undefined)
      .sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${stableStringify(obj[k], `${where}.${k}`)}`).join(",")}}`;
  }
  throw new DataError("A run identity must be JSON data", {
    where,
    expected: "null, boolean, number, string, array or plain object",
    got: typeof value,
    fix: "identify runs by their config values, not by functions or class instances",
  });
}

/** Stable key of a run's identifying config: the first 16 hex digits of SHA-256 over `stableStringify(identity)`. */
export function runKey(identity: unknown): string {
  return createHash("sha256").update(stableStringify(identity, "identity")).digest("hex").slice(0, 16);
}

/** Per-epoch history saved in a record by trainEvaluate (empty when absent). */
export function recordHistory(r: RunRecord): Record<string, number>[] {
  const h = r.extra?.history;
  if (!Array.isArray(h)) return [];
  return h.map((row) => {
    const out: Record<string, number> = {};
    for (const [k, v] of Object.entries((row ?? {}) as Record<string, unknown>))
      out[k] = typeof v === "number" ? v : NaN;
    return out;
  });
}
