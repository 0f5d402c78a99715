/**
 * One kernel session, independent of the transport: tslab's converter and executor plus what tslab lacks —
 * execute_input, execute_result with rich reprs, structured errors mapped to cell lines, history and a display sink.
 * The ZMQ server (server.ts) feeds it requests and forwards what it emits.
 */
import { inspect } from "node:util";
import { createConverter, isCompleteCode, type Converter, type ConvertResult } from "tslab/dist/converter";
import { createExecutor, type ConverterSet, type Executor } from "tslab/dist/executor";
import * as tslabJupyter from "tslab/dist/jupyter";
import {
  requestInterrupt,
  toBundle,
  withOfflinePlotly,
  type DisplaySink,
  type MimeBundle,
  type PlotlySessionState,
} from "../lib";
import { jupyterSink, type IopubSend } from "./display_sink";
import { History } from "./history";
import { inspectReply, type QuickInfo } from "./inspect";
import { installTslabDisplay } from "./tslab_compat";
import { SINK_LOCAL } from "./prelude";
import { WARM_CELL, WARM_INSPECT } from "./remote_converter";
import { expandShorthandProperties } from "./source_fix";
import {
  formatCompileErrors,
  formatRuntimeError,
  type CellDiagnostic,
  type CompiledCell,
  type ErrorContent,
} from "./traceback";

/** The executor's wrapper prefixes (tslab/dist/executor.js), needed to map columns on a cell's first line. */
const SYNC_PREFIX = "(function(exports, require) { ";
const ASYNC_PREFIX = "(async function(exports, require) { ";
const DIAG_FORMAT = "%s%d:%d - %s";
const MAX_CELLS = 500;

export interface ExecuteRequest {
  code: string;
  silent?: boolean;
  store_history?: boolean;
  stop_on_error?: boolean;
}

export type ExecuteReply =
  | { status: "ok"; execution_count: number; payload: unknown[]; user_expressions: Record<string, unknown> }
  | ({ status: "error"; execution_count: number } & ErrorContent);

/** What the executor reported during one execution (it reports through the console we inject). */
interface Capture {
  hasValue: boolean;
  value: unknown;
  thrown: unknown[];
  diagnostics: CellDiagnostic[];
}

export class KernelSession {
  readonly history = new History();
  readonly sink: DisplaySink;
  readonly executor: Executor;
  /** tslab's own handler, reused for is_complete, inspect and complete. */
  readonly tslab: tslabJupyter.JupyterHandlerImpl;
  private readonly cells = new Map<string, CompiledCell>();
  private readonly plotly: PlotlySessionState = { plotlyLoaded: false };
  private send: IopubSend = () => {};
  private capture: Capture | null = null;
  private label = "prelude";
  private cellSeq = 0;
  private count = 0;
  private node?: Converter;
  private browser?: Converter;

  /**
   * `makeNode` builds the Node-mode converter, on first use: by default tslab's, in this thread; the kernel passes
   * its TypeScript worker (remote_converter.ts).
   */
  constructor(rootDir: string, makeNode: () => Converter = () => createConverter({ isBrowser: false })) {
    const convs: ConverterSet = {
      node: undefined as unknown as Converter,
      browser: undefined as unknown as Converter,
      close: () => {
        this.node?.close();
        this.browser?.close();
      },
    };
    Object.defineProperty(convs, "node", {
      get: () => (this.node ??= this.wrapConverter(makeNode())),
    });
    Object.defineProperty(convs, "browser", { get: () => (this.browser ??= createConverter({ isBrowser: true })) });
    this.executor = createExecutor(rootDir, convs, {
      log: (...args: unknown[]) => this.onLog(args),
      error: (...args: unknown[]) => this.onError(args),
    });
    this.tslab = new tslabJupyter.JupyterHandlerImpl(this.executor, false);
    this.sink = jupyterSink((t, c) => this.send(t, c), this.plotly);
    (this.executor.locals as Record<string, unknown>)[SINK_LOCAL] = this.sink;
    installTslabDisplay(this.sink);
  }

  /** The current execution count (cells run with silent=false and store_history=true). */
  get executionCount(): number {
    return this.count;
  }

  /** Builds the TypeScript program now (the slow part of a cold start, about 4 s) instead of on the first cell. */
  warm(): void {
    void (this.executor as unknown as { inspect(s: string, p: number): unknown }).inspect("", 0);
  }

  /**
   * After the prelude: compiles and runs one empty cell and answers one inspect, so the first user cell and the first
   * Shift+Tab do not pay for re-checking the prelude's declarations (about a second each on a busy machine).
   */
  async warmAfterPrelude(): Promise<void> {
    this.label = "warm-up";
    await this.run(WARM_CELL, () => {});
    this.inspect(WARM_INSPECT, WARM_INSPECT.length);
  }

  /**
   * Runs the prelude; returns the error content when it fails (the kernel keeps running without it). What it
   * displays (the backend note) is kept in `startupOutputs` for the first cell; its stdout/stderr is dropped.
   */
  async runPrelude(code: string): Promise<ErrorContent | null> {
    this.label = "prelude";
    const r = await this.run(code, (type, content) => {
      if (type === "display_data") this.startupOutputs.push(content);
    });
    return r.ok ? null : r.error;
  }

  /** display_data contents the prelude produced, shown by the first executed cell (then emptied). */
  readonly startupOutputs: Record<string, unknown>[] = [];

  /** inspect_request: quick info at the cursor, or of the function whose parentheses hold it. */
  inspect(code: string, cursor: number, detail = 0): ReturnType<typeof inspectReply> {
    const ex = this.executor as unknown as { inspect(c: string, p: number): QuickInfo | undefined };
    return inspectReply((c, p) => ex.inspect(c, p), code, cursor, detail);
  }

  /**
   * Executes one execute_request, emitting iopub messages through `send`. Counts follow ipykernel: only a request
   * with silent=false and store_history=true takes a new number; execute_input (and any execute_result) of a
   * store_history=false request show the next number without taking it, and its reply carries the current one; a
   * silent request publishes nothing of its own and replies with the current count.
   */
  async execute(req: ExecuteRequest, send: IopubSend): Promise<ExecuteReply> {
    const silent = req.silent === true;
    const store = !silent && req.store_history !== false;
    const shown = this.count + 1;
    if (store) this.count++;
    const out: IopubSend = silent ? () => {} : send;
    if (!silent) out("execute_input", { code: req.code, execution_count: shown });
    this.label = `In [${shown}]`;
    const r = await this.run(req.code, out);
    if (store) this.history.add(this.count, req.code);
    if (r.ok) {
      if (r.result !== undefined) {
        out("execute_result", { execution_count: shown, data: r.result, metadata: {} });
        if (store) this.history.setOutput(this.count, String(r.result["text/plain"] ?? ""));
      }
      return { status: "ok", execution_count: this.count, payload: [], user_expressions: {} };
    }
    out("error", { ...r.error });
    return { status: "error", execution_count: this.count, ...r.error };
  }

  /** Interrupts a running top-level await (synchronous code is interrupted by SIGINT through vm's breakOnSigint). */
  interrupt(): void {
    requestInterrupt(); // fit() stops at its next update boundary
    this.executor.interrupt();
  }

  /** is_complete_request: tslab's check, plus `invalid` for syntax errors before the end of the code. */
  isComplete(code: string): { status: string; indent?: string } {
    const r = isCompleteCode(code);
    if (!r.completed) return { status: "incomplete", indent: r.indent ?? "" };
    return hasEarlySyntaxError(code) ? { status: "invalid" } : { status: "complete" };
  }

  close(): void {
    this.executor.close();
  }

  private async run(
    code: string,
    send: IopubSend,
  ): Promise<{ ok: true; result?: MimeBundle } | { ok: false; error: ErrorContent }> {
    this.send = send;
    this.redirectStdio(send);
    const cap: Capture = { hasValue: false, value: undefined, thrown: [], diagnostics: [] };
    this.capture = cap;
    let ok: boolean;
    try {
      ok = await this.executor.execute(code);
    } catch (e) {
      ok = false;
      cap.thrown.push(e);
    } finally {
      this.capture = null;
    }
    if (!ok) return { ok: false, error: this.errorContent(code, cap) };
    if (!cap.hasValue) return { ok: true };
    try {
      const bundle = typeof cap.value === "string" ? { "text/plain": inspect(cap.value) } : await toBundle(cap.value);
      return { ok: true, result: withOfflinePlotly(bundle, this.plotly) };
    } catch (e) {
      return { ok: false, error: formatRuntimeError(e, this.cells) };
    }
  }

  private errorContent(code: string, cap: Capture): ErrorContent {
    if (cap.diagnostics.length > 0) return formatCompileErrors(this.label, code, cap.diagnostics);
    if (cap.thrown.length > 0) return formatRuntimeError(cap.thrown[0], this.cells);
    return {
      ename: "Error",
      evalue: "execution failed",
      traceback: ["Error: execution failed (no detail from tslab)"],
    };
  }

  /** process.stdout/stderr → stream messages of the current request (late async output goes to the last cell). */
  private redirectStdio(send: IopubSend): void {
    const write =
      (name: "stdout" | "stderr") =>
      (chunk: string | Uint8Array, ...rest: unknown[]) => {
        const text = typeof chunk === "string" ? chunk : Buffer.from(chunk).toString("utf8");
        if (text !== "") send("stream", { name, text });
        const cb = rest.find((r) => typeof r === "function") as (() => void) | undefined;
        cb?.();
        return true;
      };
    process.stdout.write = write("stdout") as typeof process.stdout.write;
    process.stderr.write = write("stderr") as typeof process.stderr.write;
  }

  private onLog(args: unknown[]): void {
    // The executor logs exactly one thing: the cell's last value. Keep it for execute_result instead of printing.
    if (this.capture) {
      this.capture.hasValue = true;
      this.capture.value = args[0];
    }
  }

  private onError(args: unknown[]): void {
    const cap = this.capture;
    if (!cap) return;
    if (args[0] === DIAG_FORMAT && args.length === 5) {
      const file = String(args[1]).trim();
      cap.diagnostics.push({
        fileName: file === "" ? undefined : file,
        line: Number(args[2]) - 1,
        character: Number(args[3]) - 1,
        message: String(args[4]),
      });
    } else {
      cap.thrown.push(args[0]);
    }
  }

  /** Names each compiled cell with a sourceURL and remembers its TS and JS, for traceback mapping. */
  private wrapConverter(conv: Converter): Converter {
    return {
      close: () => conv.close(),
      inspect: (d, s, p) => conv.inspect(d, s, p),
      complete: (d, s, p) => conv.complete(d, s, p),
      addModule: (name, content, meta) => conv.addModule(name, content, meta),
      convert: (prevDecl: string, src: string): ConvertResult => {
        const r = conv.convert(prevDecl, expandShorthandProperties(src));
        if (r.output === undefined || r.diagnostics.length > 0) return r;
        const url = `peftlab-cell-${++this.cellSeq}.js`;
        const offset = (r.hasToplevelAwait ? ASYNC_PREFIX : SYNC_PREFIX).length;
        this.cells.set(url, { url, label: this.label, source: src, js: r.output, firstLineOffset: offset });
        if (this.cells.size > MAX_CELLS) this.cells.delete(this.cells.keys().next().value as string);
        return { ...r, output: `${r.output}\n//# sourceURL=${url}` };
      },
    };
  }
}

/** A syntax error that is not just "more input expected" at the very end. */
function hasEarlySyntaxError(code: string): boolean {
  const ts = require("@tslab/typescript-for-tslab") as typeof import("@tslab/typescript-for-tslab");
  const sf = ts.createSourceFile("cell.ts", code, ts.ScriptTarget.Latest, false, ts.ScriptKind.TS);
  const diags = (sf as unknown as { parseDiagnostics?: { start: number }[] }).parseDiagnostics ?? [];
  return diags.some((d) => d.start < code.trimEnd().length);
}
