/** `peftlab eval --run DIR --data PATH [--json]`: evaluates a finished run on new data and writes preds.csv. */
import * as path from "node:path";
import type { Command } from "commander";
import { imageFolderDataset, loadRun, predictWithRun, predictionsOf, writePredsCsv } from "../../index";
import { formatTable, writeJson, writeOut } from "../output";

/** Adds `eval` to the program. */
export function register(program: Command): void {
  program
    .command("eval")
    .description("evaluate a trained run on an image folder (classes matched by name) and write preds.csv")
    .requiredOption("--run <dir>", "run folder written by `peftlab train`")
    .requiredOption("--data <path>", "image folder with one subfolder per class (same class names as the run)")
    .option("--preds <file>", "predictions CSV to write (default <run>/preds.csv)")
    .option("--batch-size <n>", "evaluation batch size", (v) => parseInt(v, 10))
    .option("--json", "print JSON")
    .action(async function (
      this: Command,
      opts: { run: string; data: string; preds?: string; batchSize?: number; json?: boolean },
    ) {
      const run = loadRun(opts.run);
      const t0 = Date.now();
      const r = await predictWithRun(run, imageFolderDataset(opts.data), { batchSize: opts.batchSize });
      const predsFile = opts.preds ?? path.join(opts.run, "preds.csv");
      writePredsCsv(predsFile, predictionsOf(run.config.task, r));
      const wallTimeS = (Date.now() - t0) / 1000;
      if (opts.json)
        return writeJson(this, {
          run: opts.run,
          data: opts.data,
          n: r.report.n,
          classes: run.classes,
          metrics: r.report.values,
          preds: predsFile,
          wallTimeS,
          warnings: r.report.warnings,
        });
      const rows = Object.entries(r.report.values).map(([k, v]) => [k, Number.isFinite(v) ? v.toFixed(4) : String(v)]);
      writeOut(this, formatTable(["metric", "value"], rows, new Set([1])));
      writeOut(this, `${r.report.n} images, ${wallTimeS.toFixed(1)} s; predictions in ${predsFile}\n`);
    });
}
