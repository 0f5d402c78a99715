/** Runs a notebook headless through the peftlab kernel: parameters, outputs stored, stop at the first failing cell. */
import * as path from "node:path";
import { writeFileAtomic } from "../../io/atomic";
import { readTextFile } from "../../io/file_read";
import { ConfigError } from "../../errors";
import { KernelClient, KernelDiedError } from "./client";
import { notebookHtml } from "./html_report";
import {
  cellSource,
  injectParameters,
  normalizeNotebook,
  OutputCollector,
  type Notebook,
  type NotebookOutput,
} from "./notebook";

export interface RunNotebookOptions {
  input: string;
  output?: string;
  html?: string;
  parameters?: Record<string, unknown>;
  /** Per-cell timeout in seconds (0 or undefined: none). */
  timeoutS?: number;
  preludePath?: string;
  noPrelude?: boolean;
  log?: (line: string) => void;
}

export interface RunNotebookResult {
  notebook: Notebook;
  output: string;
  ok: boolean;
  /** Index (in the executed notebook) of the failing cell. */
  failedCell?: number;
  error?: { ename: string; evalue: string; traceback: string[] };
  warnings: string[];
  startupMs: number;
  totalMs: number;
}

/** Reads and validates a notebook file. */
export function readNotebook(file: string): Notebook {
  let nb: Notebook;
  try {
    nb = JSON.parse(readTextFile(file, ConfigError, "notebook")) as Notebook;
  } catch (e) {
    if (e instanceof ConfigError) throw e;
    throw new ConfigError("Cannot read the notebook", {
      where: file,
      expected: "an .ipynb JSON file",
      got: (e as Error).message,
      fix: "check the path and that the file is a notebook",
    });
  }
  if (nb.nbformat !== 4 || !Array.isArray(nb.cells)) {
    throw new ConfigError("Unsupported notebook format", {
      where: file,
      expected: "nbformat 4",
      got: `nbformat ${nb.nbformat}`,
      fix: "convert it with jupyter nbconvert --to notebook",
    });
  }
  return nb;
}

/** The default output path: NB.executed.ipynb beside the input. */
export function defaultOutputPath(input: string): string {
  return input.replace(/(\.ipynb)?$/, ".executed.ipynb");
}

/** Executes every code cell in order and writes the executed notebook (and optionally an HTML report). */
export async function runNotebook(o: RunNotebookOptions): Promise<RunNotebookResult> {
  const t0 = Date.now();
  const log = o.log ?? (() => {});
  const input = path.resolve(o.input);
  const injected = injectParameters(normalizeNotebook(readNotebook(input)), o.parameters ?? {});
  const nb = normalizeNotebook(injected.notebook);
  injected.warnings.forEach((w) => log(`warning: ${w}`));
  const output = path.resolve(o.output ?? defaultOutputPath(input));
  const client = await KernelClient.start({
    cwd: path.dirname(input),
    preludePath: o.preludePath,
    noPrelude: o.noPrelude,
  });
  log(`kernel ready in ${client.startupMs} ms`);
  const collector = new OutputCollector();
  const result: RunNotebookResult = {
    notebook: nb,
    output,
    ok: true,
    warnings: injected.warnings,
    startupMs: client.startupMs,
    totalMs: 0,
  };
  try {
    for (let i = 0; i < nb.cells.length; i++) {
      const cell = nb.cells[i];
      if (cell.cell_type !== "code" || cellSource(cell).trim() === "") continue;
      const outputs: NotebookOutput[] = [];
      cell.outputs = outputs;
      const t = Date.now();
      let status: string;
      let replyContent: Record<string, unknown>;
      try {
        const r = await client.execute(cellSource(cell), {
          timeoutS: o.timeoutS,
          onMessage: (m) => collector.apply(outputs, m.header.msg_type, m.content),
        });
        replyContent = r.reply.content;
        status = String(replyContent.status);
        const n = replyContent.execution_count;
        cell.execution_count = typeof n === "number" ? n : null;
      } catch (e) {
        status = "error";
        // The kernel died (a crash or an out-of-memory abort), or the cell ran past the time limit.
        const died = e instanceof KernelDiedError;
        const evalue = died
          ? `cell ${i}: ${e.message}${e.stderrTail ? `\n${e.stderrTail}` : ""}`
          : `cell ${i} did not finish within ${o.timeoutS} s`;
        const ename = died ? "KernelDied" : "CellTimeoutError";
        replyContent = { ename, evalue, traceback: [`${ename}: ${evalue}`] };
        outputs.push({
          output_type: "error",
          ...(replyContent as { ename: string; evalue: string; traceback: string[] }),
        });
      }
      log(`cell ${i}: ${status} (${Date.now() - t} ms)`);
      if (status !== "ok") {
        result.ok = false;
        result.failedCell = i;
        result.error = {
          ename: String(replyContent.ename ?? "Error"),
          evalue: String(replyContent.evalue ?? status),
          traceback: (replyContent.traceback as string[]) ?? [],
        };
        break;
      }
    }
  } finally {
    await client.shutdown();
  }
  nb.metadata = {
    ...nb.metadata,
    kernelspec: { name: "peftlab", display_name: "TypeScript (peftlab)", language: "typescript" },
    language_info: (client.kernelInfo?.language_info as Record<string, unknown>) ?? { name: "typescript" },
  };
  writeFileAtomic(output, `${JSON.stringify(nb, null, 1)}\n`);
  if (o.html) writeFileAtomic(path.resolve(o.html), notebookHtml(nb, path.basename(input)));
  result.totalMs = Date.now() - t0;
  return result;
}
