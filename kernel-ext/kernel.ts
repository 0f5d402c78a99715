/** Starts the peftlab kernel: version guard, package aliases, session, ZMQ server, then warm-up and prelude. */
import * as fs from "node:fs";
import * as path from "node:path";
import { ConfigError } from "../lib";
import { installPackageAliases, peftlabRoot } from "./resolve_alias";
import { resolvePrelude } from "./prelude";
import type { RemoteConverter } from "./remote_converter";
import { PeftlabServer } from "./server";
import { KernelSession } from "./session";
import { createConverter, type Converter } from "tslab/dist/converter";
import { quietTfjsNodeBanner } from "./startup";

/** The tslab version whose internals (dist/*.js) this kernel drives. */
export const TSLAB_VERSION = "1.0.22";

/** Throws a ConfigError unless the installed tslab is exactly TSLAB_VERSION. */
export function checkTslabVersion(): void {
  const v = (require("tslab/package.json") as { version: string }).version;
  if (v !== TSLAB_VERSION) {
    throw new ConfigError("Unsupported tslab version", {
      where: "node_modules/tslab",
      expected: TSLAB_VERSION,
      got: v,
      fix: `npm install --save-exact tslab@${TSLAB_VERSION} (the kernel uses tslab's internal modules)`,
    });
  }
}

export interface StartOptions {
  configPath: string;
  preludePath?: string;
  noPrelude?: boolean;
  rootDir?: string;
  /** The TypeScript worker main.ts started first thing (compiling the same prelude); absent: compile in this thread. */
  converter?: RemoteConverter;
}

/** The longest kernel_info_reply waits for the warm-up (Notebook's own kernel_info timeout is 60 s). */
export const KERNEL_INFO_HOLD_MAX_MS = 20_000;

/** Resolves after `ms` without keeping the process alive. */
function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

/** Starts serving the connection file; resolves once the sockets are bound. */
export async function startKernel(o: StartOptions): Promise<PeftlabServer> {
  if (!o.configPath || !fs.existsSync(o.configPath)) {
    throw new ConfigError("Kernel connection file not found", {
      where: "--config-path",
      expected: "the connection file Jupyter passes as {connection_file}",
      got: o.configPath || "(none)",
      fix: "start the kernel through Jupyter (peftlab kernel install), not by hand",
    });
  }
  checkTslabVersion();
  const rootDir = o.rootDir ?? process.cwd();
  const prelude = resolvePrelude(o);
  const t0 = Date.now();
  installPackageAliases(rootDir);
  const remote = o.converter;
  const session = new KernelSession(rootDir, remote && (() => remoteOrLocal(remote)));
  const version = (JSON.parse(fs.readFileSync(path.join(peftlabRoot(), "package.json"), "utf8")) as { version: string })
    .version;
  const server = new PeftlabServer(o.configPath, session, version);
  process.on("SIGINT", () => session.interrupt());
  process.on("uncaughtException", (e) =>
    process.stderr.write(`Uncaught exception: ${e instanceof Error ? e.stack : String(e)}\n`),
  );
  process.on("unhandledRejection", (e) =>
    process.stderr.write(`Unhandled rejection: ${e instanceof Error ? e.stack : String(e)}\n`),
  );
  await server.init();
  const log = (s: string): void => {
    if (process.env.PEFTLAB_KERNEL_DEBUG) fs.appendFileSync(process.env.PEFTLAB_KERNEL_DEBUG, `${s}\n`);
  };
  log(`bound in ${Date.now() - t0} ms (process up ${Math.round(process.uptime() * 1000)} ms)`);
  const afterWarm = async (): Promise<void> => {
    quietTfjsNodeBanner(rootDir);
    if (prelude.code !== null) {
      const err = await session.runPrelude(prelude.code);
      if (err) {
        const text = `peftlab prelude (${prelude.source}) failed: ${err.ename}: ${err.evalue}\n${err.traceback.join("\n")}\n`;
        fs.writeSync(2, text);
        server.startupWarning = text;
      }
    }
    log(`prelude done at ${Date.now() - t0} ms`);
    await session.warmAfterPrelude();
    log(`first cell warm at ${Date.now() - t0} ms`);
  };
  if (remote) {
    // The worker compiles from now on; this thread stays free for heartbeats, control and queuing requests.
    remote.start();
    server.ready = remote.warmed.then(async () => {
      log(
        `converter warm at ${Date.now() - t0} ms${remote.failure ? ` (worker failed: ${remote.failure})` : ` (${remote.warmReport})`}`,
      );
      await afterWarm();
    });
    // Ready (kernel_info_reply) once a cell runs at once: the first cell is then not the slow one. Capped, so a
    // machine too slow to warm up in time still gets its handshake (and executes queue behind the warm-up, as before).
    server.infoReady = Promise.race([server.ready.catch(() => {}), delay(KERNEL_INFO_HOLD_MAX_MS)]);
    let answered = false;
    server.onKernelInfo = () => {
      if (!answered) log(`kernel_info answered at ${Date.now() - t0} ms`);
      answered = true;
    };
    return server;
  }
  // In this thread, building the TS program blocks the event loop for seconds. Start it once the client's kernel_info
  // handshake is over (no request for 300 ms), so kernel_info is answered at once and executes queue behind the prelude.
  server.ready = new Promise<void>((resolve) => {
    let timer = setTimeout(go, 1000);
    server.onKernelInfo = () => {
      clearTimeout(timer);
      timer = setTimeout(go, 300);
    };
    async function go(): Promise<void> {
      server.onKernelInfo = () => {};
      session.warm();
      log(`converter warm at ${Date.now() - t0} ms`);
      await afterWarm();
      resolve();
    }
  });
  return server;
}

/** The worker, or where it failed to start, tslab's converter in this thread (a slower start, but a working kernel). */
function remoteOrLocal(remote: RemoteConverter): Converter {
  if (remote.failure === "") return remote;
  process.stderr.write(
    `peftlab kernel: TypeScript worker unavailable (${remote.failure}); compiling in the main thread\n`,
  );
  remote.close();
  return createConverter({ isBrowser: false });
}
