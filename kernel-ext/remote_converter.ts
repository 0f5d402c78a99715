/**
 * tslab's Converter interface, served by the TypeScript worker thread (ts_worker.ts) through synchronous calls:
 * tslab's executor compiles a cell synchronously, so each call posts a request and blocks (Atomics.wait) until the
 * worker signals its reply. Loads no TypeScript and no peftlab itself, so the kernel starts it first thing.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { MessageChannel, Worker, receiveMessageOnPort, type MessagePort } from "node:worker_threads";
import type { Converter } from "tslab/dist/converter";
import type { Method, Reply, WarmReport, WorkerInit } from "./ts_worker";

/** The cell KernelSession.warmAfterPrelude compiles: the worker compiles it ahead too. */
export const WARM_CELL = "void 0;";
/** The inspect KernelSession.warmAfterPrelude answers after it: the worker asks it ahead (same cell, so cheap again). */
export const WARM_INSPECT = "Math.max(";

/** False when PEFTLAB_KERNEL_TS_WORKER is 0/false/off/no: then the kernel compiles in its main thread, as tslab does. */
export function tsWorkerEnabled(env: NodeJS.ProcessEnv = process.env): boolean {
  const v = env.PEFTLAB_KERNEL_TS_WORKER?.trim().toLowerCase();
  return !(v === "0" || v === "false" || v === "off" || v === "no");
}

/** The worker's file: the built .js next to this one, or (under tsx, in tests) the .ts source with tsx's loader. */
function workerEntry(): { file: string; execArgv: string[] } {
  const js = path.join(__dirname, "ts_worker.js");
  if (fs.existsSync(js)) return { file: js, execArgv: [] };
  return { file: path.join(__dirname, "ts_worker.ts"), execArgv: ["--require", require.resolve("tsx/cjs")] };
}

export class RemoteConverter implements Converter {
  /**
   * Resolves once the worker, after start(), has built the program and compiled the prelude and warm-up cell (or has
   * died).
   */
  readonly warmed: Promise<void>;
  private readonly worker: Worker;
  private readonly port: MessagePort;
  private readonly signal = new Int32Array(new SharedArrayBuffer(8));
  private seq = 0;
  private exitReason = "";
  private isWarm = false;
  private started = false;
  private report: WarmReport | undefined;

  constructor(o: { rootDir: string; prelude: string | null }) {
    const { port1, port2 } = new MessageChannel();
    this.port = port1;
    const entry = workerEntry();
    const init: WorkerInit = {
      rootDir: o.rootDir,
      prelude: o.prelude,
      warmCell: WARM_CELL,
      warmInspect: WARM_INSPECT,
      port: port2,
      signal: this.signal.buffer as SharedArrayBuffer,
    };
    this.worker = new Worker(entry.file, { execArgv: entry.execArgv, workerData: init, transferList: [port2] });
    this.worker.unref();
    this.warmed = new Promise<void>((resolve) => {
      this.worker.once("message", (m: WarmReport) => {
        this.report = m;
        this.isWarm = true;
        resolve();
      });
      this.worker.once("error", (e) => {
        this.exitReason = e.stack ?? e.message;
        resolve();
      });
      this.worker.once("exit", (code) => {
        this.exitReason ||= `exit code ${code}`;
        Atomics.store(this.signal, 1, 1);
        resolve();
      });
    });
  }

  /** Lets the worker build the program and compile the prelude (idempotent; the first call does it too). */
  start(): void {
    if (this.started) return;
    this.started = true;
    this.worker.postMessage("start");
  }

  /** Why the worker failed before it was warm ("" while it is fine), after `warmed`. */
  get failure(): string {
    return this.isWarm ? "" : this.exitReason || "not started";
  }

  /** How the worker's start-up went, for the kernel's debug log ("" before it is warm). */
  get warmReport(): string {
    const r = this.report;
    if (r === undefined) return "";
    return `code cache ${r.codeCache}; ${Object.entries(r.ms)
      .map(([k, v]) => `${k} ${v} ms`)
      .join(", ")}`;
  }

  convert(prevDecl: string, src: string): ReturnType<Converter["convert"]> {
    return this.call("convert", [prevDecl, src]) as ReturnType<Converter["convert"]>;
  }

  inspect(prevDecl: string, src: string, position: number): ReturnType<Converter["inspect"]> {
    return this.call("inspect", [prevDecl, src, position]) as ReturnType<Converter["inspect"]>;
  }

  complete(prevDecl: string, src: string, position: number): ReturnType<Converter["complete"]> {
    return this.call("complete", [prevDecl, src, position]) as ReturnType<Converter["complete"]>;
  }

  addModule(name: string, content: string, meta?: unknown): ReturnType<Converter["addModule"]> {
    return this.call("addModule", [name, content, meta]) as ReturnType<Converter["addModule"]>;
  }

  close(): void {
    void this.worker.terminate();
  }

  /** Posts one request and blocks until its reply arrives. */
  private call(method: Method, args: unknown[]): unknown {
    this.start();
    const id = ++this.seq;
    this.port.postMessage({ id, method, args });
    for (;;) {
      const seen = Atomics.load(this.signal, 0);
      const got = receiveMessageOnPort(this.port);
      if (got !== undefined) {
        const reply = got.message as Reply;
        if (reply.id !== id) continue; // a reply to a call that threw in this thread before its answer came
        if ("error" in reply) throw Object.assign(new Error(reply.error.message), reply.error);
        return reply.value;
      }
      if (Atomics.load(this.signal, 1) !== 0) {
        throw new Error(`peftlab kernel: the TypeScript worker stopped (${this.exitReason || "exited"})`);
      }
      Atomics.wait(this.signal, 0, seen, 1000);
    }
  }
}
