/** `peftlab train --config run.json [--out DIR] [--resume]`: runs one RunConfig into a run folder. */
import * as path from "node:path";
import type { Command } from "commander";
import { ConfigError, runExperiment, terminalProgress } from "../../index";
import { readTextFile } from "../../io/file_read";
import { formatTable, writeJson, writeOut } from "../output";

/** Adds `train` to the program. */
export function register(program: Command): void {
  program
    .command("train")
    .description("train (or fit a probe) as a run config says, writing a run folder")
    .requiredOption("--config <file>", "run config JSON (RunConfig; paths may use ${PEFTLAB_SHARED})")
    .option("--out <dir>", "run folder (default runs/<config name>)")
    .option("--resume", "continue from the run folder's checkpoints")
    .option("--json", "print the RunRecord as JSON")
    .option("--quiet", "no progress bar")
    .action(async function (
      this: Command,
      opts: { config: string; out?: string; resume?: boolean; json?: boolean; quiet?: boolean },
    ) {
      const raw = readConfigFile(opts.config);
      const name =
        typeof (raw as { name?: unknown }).name === "string"
          ? (raw as { name: string }).name
          : path.basename(opts.config, ".json");
      const out = opts.out ?? path.join("runs", name);
      const record = await runExperiment(raw, {
        out,
        resume: opts.resume ?? false,
        callbacks: opts.quiet || opts.json ? [] : [terminalProgress()],
      });
      const { fit: _fit, ...summary } = record;
      if (opts.json) return writeJson(this, summary);
      const rows = Object.entries(record.metrics).flatMap(([split, m]) =>
        ["accuracy", "balanced_accuracy", "f1_macro", "roc_auc_ovr", "roc_auc", "roc_auc_macro", "loss"]
          .filter((k) => m[k] !== undefined)
          .map((k) => [split, k, fmt(m[k])]),
      );
      writeOut(this, formatTable(["split", "metric", "value"], rows, new Set([2])));
      writeOut(
        this,
        `trainable ${record.trainableParams} / ${record.totalParams} params, ${record.wallTimeS.toFixed(1)} s on ${record.backend}; run folder ${out}\n`,
      );
    });
}

/** Reads a config JSON file, with a ConfigError naming the file when it is missing or malformed. */
export function readConfigFile(file: string): unknown {
  const text = readTextFile(file, ConfigError, "config file (JSON)");
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new ConfigError("Config file is not valid JSON", {
      where: file,
      got: (e as Error).message,
      fix: "fix the JSON syntax",
    });
  }
}

function fmt(v: number): string {
  return Number.isFinite(v) ? v.toFixed(4) : String(v);
}
