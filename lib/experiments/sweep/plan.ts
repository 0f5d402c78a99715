/**
 * Expands a sweep into runs: the grid's Cartesian product (key order, last key fastest), then the explicit points,
 * each applied to a copy of the base by dotted path and validated as a whole run config. A run's id is the run key
 * (lib/results runKey: SHA-256 of the stable JSON) of its resolved config, so the same config always gets the same id.
 */
import { ConfigError } from "../../errors";
import { runKey } from "../../results/run_record";
import { checkDottedPath, type SweepSpec } from "./spec";
import { resolveRunConfig, type RunConfig } from "./train_api";

/** One planned run. */
export interface PlannedRun {
  /** Stable id: runKey of the resolved config. */
  id: string;
  /** Position in the plan (0-based). */
  index: number;
  /** The dotted-path values this run sets (grid values, or the point's). */
  overrides: Record<string, unknown>;
  /** The resolved run config `peftlab train` gets. */
  config: RunConfig;
}

/** Sets `value` at a dotted path of a plain-data object, creating objects on the way. Returns a new object. */
export function setDotted(
  base: Record<string, unknown>,
  dotted: string,
  value: unknown,
  where: string,
): Record<string, unknown> {
  const segs = checkDottedPath(dotted, where);
  const root = structuredClone(base);
  let node: Record<string, unknown> = root;
  for (let i = 0; i < segs.length - 1; i++) {
    const next = node[segs[i]];
    if (next === undefined || next === null) node[segs[i]] = {};
    else if (typeof next !== "object" || Array.isArray(next)) {
      throw new ConfigError("A dotted path goes through a value that is not an object", {
        where,
        expected: `an object at ${segs.slice(0, i + 1).join(".")}`,
        got: JSON.stringify(next),
        fix: `set ${segs.slice(0, i + 1).join(".")} as a whole instead, or fix the path`,
      });
    }
    node = node[segs[i]] as Record<string, unknown>;
  }
  node[segs[segs.length - 1]] = structuredClone(value);
  return root;
}

/** The grid's points: every combination, first key slowest. */
export function gridPoints(grid: Record<string, unknown[]>): Record<string, unknown>[] {
  let out: Record<string, unknown>[] = [{}];
  for (const [k, values] of Object.entries(grid)) out = out.flatMap((p) => values.map((v) => ({ ...p, [k]: v })));
  return out;
}

/** Every run of a sweep, validated, with stable ids; two points with the same resolved config are an error. */
export function planSweep(spec: SweepSpec, env?: NodeJS.ProcessEnv): PlannedRun[] {
  const grid = Object.keys(spec.grid).length > 0 ? gridPoints(spec.grid) : [];
  const sources = [
    ...grid.map((o, i) => ({ o, where: `sweep.grid (combination ${i}: ${JSON.stringify(o)})` })),
    ...spec.points.map((o, i) => ({ o, where: `sweep.points[${i}]` })),
  ];
  if (sources.length === 0) sources.push({ o: {}, where: "sweep.base" });
  const runs: PlannedRun[] = [];
  const seen = new Map<string, string>();
  for (const [index, { o, where }] of sources.entries()) {
    let raw = spec.base;
    for (const [k, v] of Object.entries(o)) raw = setDotted(raw, k, v, `${where}[${JSON.stringify(k)}]`);
    const warnings: string[] = [];
    let config: RunConfig;
    try {
      config = resolveRunConfig(raw, { baseDir: spec.baseDir, env, warn: (m) => warnings.push(m) });
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      throw new ConfigError(`Run ${index} of the sweep is not a valid run config: ${e.message}`, {
        where: `${where} (run config field ${e.where ?? "?"})`,
        fix: "fix the base config or this grid value / point",
      });
    }
    // A sweep is strict: an unknown key would be dropped, so a misspelt grid axis would silently not vary.
    if (warnings.length > 0) {
      throw new ConfigError("A sweep run config has an unknown field", {
        where: where,
        expected: "only fields of the `peftlab train` schema",
        got: warnings.join("; "),
        fix: "fix the field's spelling in the base, the grid key or the point",
      });
    }
    const id = runKey(config);
    const prev = seen.get(id);
    if (prev !== undefined) {
      throw new ConfigError("Two sweep runs have the same resolved config", {
        where: `${prev} and ${where}`,
        expected: "every grid combination and point to differ from the others after defaults are filled",
        got: `both resolve to run ${id}`,
        fix: "remove the duplicate point or grid value",
      });
    }
    seen.set(id, where);
    runs.push({ id, index, overrides: o, config });
  }
  return runs;
}
