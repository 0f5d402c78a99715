/** `peftlab eval --run DIR --data PATH [--json]`: evaluates a finished run on new data and writes preds.csv. */
import * as path from "node:path";
import type { Command } from "commander";
import {
  imageFolderDataset,
  loadRun,
  predictWithRun,
  predictionsOf,
  restrictToRunSplit,
  writePredsCsv,
} from "../../index";
import { formatTable, writeJson, writeOut } from "../output";

/** Adds `eval` to the program. */
export function register(program: Command): void {
  program
    .command("eval")
    .description("evaluate a trained run on an image folder (classes matched by name) and write preds.csv")
    .requiredOption("--run <dir>", "run folder written by `peftlab train`")
    .requiredOption("--data <path>", "image folder with one subfolder per class (same class names as the run)")
    .option(
      "--split <name>",
      "keep only the images of the run's own split <name> (test: the held-out images), re-derived from its config",
    )
    .option("--preds <file>", "predictions CSV to write (default <run>/preds.csv)")
    .option("--batch-size <n>", "evaluation batch size", (v) => parseInt(v, 10))
    .option("--json", "print JSON")
    .action(async function (
      this: Command,
      opts: { run: string; data: string; split?: string; preds?: string; batchSize?: number; json?: boolean },
    ) {
      const run = loadRun(opts.run);
      const t0 = Date.now();
      const held = restrictToRunSplit(run, imageFolderDataset(opts.data), opts.split);
      const r = await predictWithRun(run, held.data, { batchSize: opts.batchSize });
      const predsFile = opts.preds ?? path.join(opts.run, "preds.csv");
      writePredsCsv(predsFile, predictionsOf(run.config.task, r));
      const wallTimeS = (Date.now() - t0) / 1000;
      if (opts.json)
        return writeJson(this, {
          run: opts.run,
          data: opts.data,
          n: r.report.n,
          split: held.info.split,
          seenInTraining: held.info.seenInTraining,
          seenInValidation: held.info.seenInValidation,
          classes: run.classes,
          metrics: r.report.values,
          preds: predsFile,
          wallTimeS,
          warnings: r.report.warnings,
        });
      const rows = Object.entries(r.report.values).map(([k, v]) => [k, Number.isFinite(v) ? v.toFixed(4) : String(v)]);
      writeOut(this, formatTable(["metric", "value"], rows, new Set([1])));
      const seen =
        held.info.seenInTraining === undefined
          ? ""
          : `, ${held.info.seenInTraining} seen in training, ${held.info.seenInValidation} in validation`;
      writeOut(
        this,
        `${r.report.n} images${held.info.split ? ` (the run's ${held.info.split} split)` : ""}${seen}, ` +
          `${wallTimeS.toFixed(1)} s; predictions in ${predsFile}\n`,
      );
    });
}
