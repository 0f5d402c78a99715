/** `peftlab run-notebook NB.ipynb`: executes a notebook headless through the peftlab kernel (no Python, no Jupyter). */
import type { Command } from "commander";
import { ConfigError } from "../../errors";
import { defaultOutputPath, parseParameter, runNotebook } from "../../jupyter";
import { writeOut } from "../output";

interface RunOpts {
  parameters: string[];
  out?: string;
  html?: string;
  timeout?: string;
  prelude?: string | false;
  quiet?: boolean;
}

/** Adds `run-notebook` to the program. */
export function register(program: Command): void {
  program
    .command("run-notebook")
    .description("execute a notebook headless with the peftlab kernel; exits non-zero at the first failing cell")
    .argument("<notebook>", "the .ipynb to run")
    .option(
      "-p, --parameters <KEY=VALUE>",
      "papermill-style parameter (JSON when it parses, else a string); repeatable",
      (v: string, acc: string[]) => [...acc, v],
      [] as string[],
    )
    .option("--out <file>", "executed notebook (default NB.executed.ipynb)")
    .option("--html <file>", "also write a self-contained HTML report")
    .option("--timeout <seconds>", "per-cell timeout (default none)")
    .option("--prelude <file>", "kernel prelude to use instead of the default")
    .option("--no-prelude", "run without the kernel prelude")
    .option("-q, --quiet", "print only the result line")
    .action(async function (this: Command, input: string, o: RunOpts) {
      const timeoutS = o.timeout === undefined ? undefined : Number(o.timeout);
      if (timeoutS !== undefined && !(timeoutS > 0)) {
        throw new ConfigError("Bad --timeout", {
          where: "--timeout",
          expected: "seconds > 0",
          got: String(o.timeout),
          fix: "e.g. --timeout 600",
        });
      }
      const r = await runNotebook({
        input,
        output: o.out ?? defaultOutputPath(input),
        html: o.html,
        timeoutS,
        parameters: Object.fromEntries(o.parameters.map(parseParameter)),
        preludePath: typeof o.prelude === "string" ? o.prelude : undefined,
        noPrelude: o.prelude === false,
        log: o.quiet ? undefined : (l) => writeOut(this, `${l}\n`),
      });
      if (!r.ok) {
        const e = r.error;
        process.stderr.write(
          `cell ${r.failedCell} failed: ${e?.ename}: ${e?.evalue}\n${(e?.traceback ?? []).join("\n")}\n`,
        );
        // Thrown so the CLI exits non-zero (main.ts sets the exit code from runCli's result).
        throw new ConfigError(`Notebook cell ${r.failedCell} failed`, {
          where: `${input}, cell ${r.failedCell}`,
          expected: "every code cell to run without error",
          got: `${e?.ename}: ${e?.evalue}`,
          fix: `see the traceback above; the executed notebook up to the failure is ${r.output}`,
        });
      }
      writeOut(
        this,
        `ok: ${r.notebook.cells.length} cells in ${(r.totalMs / 1000).toFixed(1)} s -> ${r.output}${o.html ? ` and ${o.html}` : ""}\n`,
      );
    });
}
