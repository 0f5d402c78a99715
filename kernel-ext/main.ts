#!/usr/bin/env node
/**
 * Kernel entry point (the kernelspec's argv): `node dist/kernel-ext/main.js --config-path {connection_file}
 * [--prelude PATH | --no-prelude]`. Runs in the notebook's folder, as Jupyter starts kernels there.
 */
import { kernelCacheDir, requireWithCodeCache } from "./code_cache";
import { choosePrelude } from "./prelude_code";
import { RemoteConverter, tsWorkerEnabled } from "./remote_converter";

/** Parses the kernel's argv (kept tiny: commander would add startup time to every kernel). */
export function parseKernelArgs(argv: string[]): { configPath: string; preludePath?: string; noPrelude: boolean } {
  let configPath = "";
  let preludePath: string | undefined;
  let noPrelude = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--config-path" || a === "-f") configPath = argv[++i] ?? "";
    else if (a.startsWith("--config-path=")) configPath = a.slice("--config-path=".length);
    else if (a === "--prelude") preludePath = argv[++i];
    else if (a.startsWith("--prelude=")) preludePath = a.slice("--prelude=".length);
    else if (a === "--no-prelude") noPrelude = true;
  }
  return { configPath, preludePath, noPrelude };
}

if (require.main === module) {
  const args = parseKernelArgs(process.argv.slice(2));
  // The TypeScript worker starts before this thread loads peftlab and tslab (./kernel), so the two overlap.
  const prelude = choosePrelude(args);
  const converter = tsWorkerEnabled()
    ? new RemoteConverter({ rootDir: process.cwd(), prelude: prelude.code })
    : undefined;
  // It builds the program at once, beside this thread's loading: the kernel reports ready only after that warm-up.
  converter?.start();
  // This thread needs TypeScript too (cell parsing, inspect, tracebacks): the worker's code cache serves it as well.
  requireWithCodeCache("@tslab/typescript-for-tslab", require.resolve("tslab/dist/converter"), kernelCacheDir());
  const { startKernel } = require("./kernel") as typeof import("./kernel");
  startKernel({ ...args, converter }).catch((e: unknown) => {
    process.stderr.write(`peftlab kernel failed to start: ${e instanceof Error ? e.stack : String(e)}\n`);
    process.exit(1);
  });
}
