/**
 * The kernel's TypeScript converter, run in a worker thread (started by remote_converter.ts). Building tslab's program
 * (TypeScript itself, lib and @types/node, then peftlab's, tfjs's and Arquero's declarations for the prelude) is
 * seconds of synchronous CPU. Here TypeScript loads beside the main thread's own loading, and the program is built
 * while the main thread answers the handshake, without blocking it and without waiting for it.
 *
 * Start-up work, from the main thread's "start": build the program, compile the prelude, compile the warm-up cell
 * against the prelude's declarations and answer the warm-up inspect. The compiled results are kept and handed out
 * once, to the first request with exactly the same arguments (convert is a function of them), so the main thread's
 * prelude and warm-up get them at once.
 * Then it answers the main thread's requests: each reply is posted on the port and signalled through the shared
 * counter, which the main thread waits on (Atomics.wait): tslab's executor calls its converter synchronously.
 */
import { parentPort, workerData, type MessagePort } from "node:worker_threads";
import { kernelCacheDir, requireWithCodeCache } from "./code_cache";

const t0 = Date.now();
// TypeScript first, through the V8 code cache (kernel-ext/code_cache.ts); tslab's converter and the aliases below
// then get this same module from Node's module cache.
const typescript = requireWithCodeCache<unknown>(
  "@tslab/typescript-for-tslab",
  require.resolve("tslab/dist/converter"),
  kernelCacheDir(),
);
const { createConverter } = require("tslab/dist/converter") as typeof import("tslab/dist/converter");
const { installPackageAliases } = require("./resolve_alias") as typeof import("./resolve_alias");
const { expandShorthandProperties } = require("./source_fix") as typeof import("./source_fix");
const loadedMs = Date.now() - t0;

/** The worker's "warm" message: how its start-up went (the kernel's debug log prints it). */
export interface WarmReport {
  warm: true;
  /** How TypeScript loaded through the code cache. */
  codeCache: string;
  /** Milliseconds: loading TypeScript and tslab, waiting for "start", building the program, the prelude and warm-up. */
  ms: { load: number; wait: number; program: number; prelude: number; warmCell: number };
}

export interface WorkerInit {
  rootDir: string;
  /** The prelude to compile ahead, or null. */
  prelude: string | null;
  /** The cell the kernel compiles after the prelude (KernelSession.warmAfterPrelude). */
  warmCell: string;
  /** The code KernelSession.warmAfterPrelude inspects after the warm-up cell. */
  warmInspect: string;
  port: MessagePort;
  /** Int32: [0] replies posted, [1] 1 once the worker exits. */
  signal: SharedArrayBuffer;
}

export type Method = "convert" | "inspect" | "complete" | "addModule";
export interface Request {
  id: number;
  method: Method;
  args: unknown[];
}
export type Reply =
  { id: number; value: unknown } | { id: number; error: { name: string; message: string; stack?: string } };

/** Key of a call in the start-up cache. */
export function callKey(method: Method, args: unknown[]): string {
  return JSON.stringify([method, args]);
}

function serve(init: WorkerInit, startedMs: number): void {
  const signal = new Int32Array(init.signal);
  process.on("exit", () => {
    Atomics.store(signal, 1, 1);
    Atomics.notify(signal, 0);
  });
  const tStart = Date.now();
  installPackageAliases(init.rootDir);
  const conv = createConverter({ isBrowser: false });
  const call = (method: Method, args: unknown[]): unknown =>
    (conv[method] as (...a: unknown[]) => unknown).apply(conv, args);
  const ahead = new Map<string, unknown>();
  const compileAhead = (prevDecl: string, src: string): ReturnType<typeof conv.convert> => {
    const r = conv.convert(prevDecl, src);
    ahead.set(callKey("convert", [prevDecl, src]), r);
    return r;
  };
  const mark = ((): (() => number) => {
    let t = tStart;
    return () => -t + (t = Date.now());
  })();
  const ms = { load: loadedMs, wait: startedMs - loadedMs, program: 0, prelude: 0, warmCell: 0 };
  conv.inspect("", "", 0); // builds the program (lib, @types/node)
  ms.program = mark();
  if (init.prelude !== null) {
    const r = compileAhead("", expandShorthandProperties(init.prelude));
    ms.prelude = mark();
    // After a prelude that compiles and runs, tslab's executor continues from its declarations.
    if (r.diagnostics.length === 0) {
      const w = compileAhead(r.declOutput ?? "", expandShorthandProperties(init.warmCell));
      // Checks the program the first inspect (and the first cell) will use; asking again for the same cells is cheap.
      if (w.diagnostics.length === 0) conv.inspect(w.declOutput ?? "", init.warmInspect, init.warmInspect.length);
    }
  }
  ms.warmCell = mark();
  parentPort?.postMessage({ warm: true, codeCache: typescript.use, ms } satisfies WarmReport);
  // After the warm-up, so the cache holds the functions it compiled; a hit is kept as it is.
  typescript.save();
  init.port.on("message", (req: Request) => {
    let reply: Reply;
    try {
      const key = callKey(req.method, req.args);
      const done = ahead.get(key);
      if (done !== undefined) ahead.delete(key);
      reply = { id: req.id, value: done ?? call(req.method, req.args) };
    } catch (e) {
      const err = e instanceof Error ? e : new Error(String(e));
      reply = { id: req.id, error: { name: err.name, message: err.message, stack: err.stack } };
    }
    try {
      init.port.postMessage(reply);
    } catch {
      // Not structured-cloneable (a TypeScript object slipped in): send its JSON form.
      init.port.postMessage(JSON.parse(JSON.stringify(reply)) as Reply);
    }
    Atomics.add(signal, 0, 1);
    Atomics.notify(signal, 0);
  });
}

// TypeScript is loaded by now (above), beside the main thread's own loading. Building the program waits for the main
// thread's "start" (main.ts sends it at once; a RemoteConverter constructed elsewhere sends it on its first call).
if (parentPort !== null && (workerData as { port?: unknown } | null)?.port !== undefined) {
  parentPort.once("message", () => serve(workerData as WorkerInit, Date.now() - t0));
}
