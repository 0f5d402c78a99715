/**
 * Which prelude a kernel runs, decided without loading peftlab (kernel-ext/prelude.ts adds the typed error): the kernel
 * reads it first thing, so its TypeScript worker can compile the prelude while the main thread is still loading.
 */
import * as fs from "node:fs";

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

/** What the options and environment ask for; `missing` names a prelude file that does not exist (and where it came from). */
export function choosePrelude(
  opts: { preludePath?: string; noPrelude?: boolean },
  env: NodeJS.ProcessEnv = process.env,
): PreludeChoice & { missing?: { file: string; where: string } } {
  if (opts.noPrelude) return { code: null, source: "--no-prelude" };
  const fromEnv = env.PEFTLAB_PRELUDE?.trim();
  const file = opts.preludePath ?? (fromEnv !== undefined && fromEnv !== "" ? fromEnv : undefined);
  if (file === undefined) return { code: DEFAULT_PRELUDE, source: "default" };
  if (OFF.has(file.toLowerCase())) return { code: null, source: "PEFTLAB_PRELUDE=none" };
  if (!fs.existsSync(file)) {
    const where = opts.preludePath !== undefined ? "--prelude" : "PEFTLAB_PRELUDE";
    return { code: null, source: file, missing: { file, where } };
  }
  return { code: fs.readFileSync(file, "utf8"), source: file };
}
