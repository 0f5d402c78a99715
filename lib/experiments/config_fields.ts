/**
 * The small validators behind RunConfig (run_config.ts): each checks one field of parsed JSON and throws a
 * ConfigError naming it (where), with what was expected and what came.
 */
import * as path from "node:path";
import { ConfigError } from "../errors";
import { expandEnv } from "../paths";

export type Obj = Record<string, unknown>;

/** How expandPath resolves: environment for `${VAR}`, and the folder relative paths start from. */
export interface PathOptions {
  baseDir?: string;
  env?: NodeJS.ProcessEnv;
}

/** v as an object; with `allowed`, unknown keys are dropped with a warning. */
export function obj(v: unknown, where: string, allowed: string[] | null, warn: (m: string) => void): Obj {
  if (typeof v !== "object" || v === null || Array.isArray(v)) {
    throw new ConfigError("Expected an object", {
      where,
      expected: "a JSON object",
      got: JSON.stringify(v) ?? String(v),
    });
  }
  if (allowed === null) return { ...(v as Obj) };
  const out: Obj = {};
  for (const [k, val] of Object.entries(v as Obj)) {
    if (allowed.includes(k)) out[k] = val;
    else warn(`config: ignoring unknown key ${where}.${k} (known: ${allowed.join(", ")})`);
  }
  return out;
}

/** v, which must be present. */
export function req(v: unknown, where: string): unknown {
  if (v === undefined || v === null)
    throw new ConfigError("Missing field", { where, expected: "a value", got: String(v) });
  return v;
}

/** v as a string. */
export function str(v: unknown, where: string): string {
  if (typeof v !== "string")
    throw new ConfigError("Expected a string", { where, expected: "a string", got: JSON.stringify(v) });
  return v;
}

/** v as a finite number in [min, max]. */
export function num(v: unknown, where: string, min: number, max: number): number {
  if (typeof v !== "number" || !Number.isFinite(v) || v < min || v > max) {
    throw new ConfigError("Number out of range", {
      where,
      expected: `a number in [${min}, ${max}]`,
      got: JSON.stringify(v),
    });
  }
  return v;
}

/** v as an integer ≥ min. */
export function int(v: unknown, where: string, min: number): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < min) {
    throw new ConfigError("Expected an integer", { where, expected: `an integer ≥ ${min}`, got: JSON.stringify(v) });
  }
  return v;
}

/** v as one of `values`. */
export function oneOf<T extends string>(v: unknown, where: string, values: readonly T[]): T {
  if (typeof v !== "string" || !values.includes(v as T)) {
    throw new ConfigError("Unknown value", { where, expected: `one of ${values.join(", ")}`, got: JSON.stringify(v) });
  }
  return v as T;
}

/** s with `${VAR}` expanded, resolved against o.baseDir (default the working directory). */
export function expandPath(s: string, where: string, o: PathOptions): string {
  let e: string;
  try {
    e = expandEnv(s, o.env ?? process.env);
  } catch (err) {
    throw new ConfigError(`Cannot expand ${where}`, {
      where,
      expected: "defined environment variables",
      got: (err as Error).message,
    });
  }
  return path.resolve(o.baseDir ?? process.cwd(), e);
}
