/**
 * The TypeScript prelude run through tslab's executor before the first cell, so `peftlab`, `tf`, `aq` and the display
 * helpers are imported and typed in every cell. Configurable: `--prelude PATH` / `--no-prelude` (kernelspec argv) win
 * over `PEFTLAB_PRELUDE` (a path, or `none` to disable), which wins over the default below.
 */
import * as fs from "node:fs";
import { ConfigError } from "../lib";

/** The name under which the kernel puts its display sink into the executor's scope (read as `exports.<name>`). */
export const SINK_LOCAL = "__peftlabSink";

/**
 * The default prelude. `display` is bound to the kernel's sink; outside a kernel createDisplay() prints instead. It
 * makes the same backend choice as `peftlab info` (initBackend; PEFTLAB_BACKEND overrides it), once, before the first
 * cell, and shows the one-line summary as a quiet note in the first cell's output (not stderr). `dashboard()` is the
 * one-liner for live training progress (fit() / trainEvaluate() callbacks).
 */
export const DEFAULT_PRELUDE = `import * as peftlab from "peftlab";
import * as tf from "@tensorflow/tfjs";
import * as aq from "arquero";
import {
  plotly, table, tensorSummary, imageGrid, TrainingDashboard, confusionMatrixChart, rocChart,
  reliabilityChart, svdSpectrumChart, paramSummary, createDisplay,
} from "peftlab";
const display = createDisplay((exports as Record<string, unknown>).${SINK_LOCAL});
await peftlab.initBackend({ log: (line) => display.note(line) });
/** A live training dashboard in the cell's output: \`callbacks: [dashboard()]\`; a sweep: \`dashboard({ runs: n })\`. */
const dashboard = (options?: peftlab.DashboardOptions) => new TrainingDashboard(display, options);
`;

export interface PreludeChoice {
  /** The TypeScript to run, or null when disabled. */
  code: string | null;
  /** Where it came from, for the kernel's log and error messages. */
  source: string;
}

const OFF = new Set(["none", "off", "0", "false", "no"]);

/** Decides the prelude from argv options and the environment. */
export function resolvePrelude(
  opts: { preludePath?: string; noPrelude?: boolean },
  env: NodeJS.ProcessEnv = process.env,
): PreludeChoice {
  if (opts.noPrelude) return { code: null, source: "--no-prelude" };
  const fromEnv = env.PEFTLAB_PRELUDE?.trim();
  const file = opts.preludePath ?? (fromEnv !== undefined && fromEnv !== "" ? fromEnv : undefined);
  if (file === undefined) return { code: DEFAULT_PRELUDE, source: "default" };
  if (OFF.has(file.toLowerCase())) return { code: null, source: "PEFTLAB_PRELUDE=none" };
  if (!fs.existsSync(file)) {
    throw new ConfigError("Prelude file not found", {
      where: opts.preludePath !== undefined ? "--prelude" : "PEFTLAB_PRELUDE",
      expected: "a readable .ts file",
      got: file,
      fix: "point it at an existing file, or use PEFTLAB_PRELUDE=none / --no-prelude to disable the prelude",
    });
  }
  return { code: fs.readFileSync(file, "utf8"), source: file };
}
