#!/usr/bin/env node
/**
 * Kernel start-up timings for `peftlab bench` (lib/bench spawns this file by path; lib never imports kernel-ext):
 * spawns a fresh kernel in an empty folder through the headless client and prints one JSON line with the time to
 * ready (first kernel_info_reply: the kernel sends it once warm), the first cell's latency (`1 + 1`, sent right after
 * ready), their sum, the same cell again, the first inspect_request after start, whether the TypeScript code cache was
 * hit, and the load average it ran under.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { jupyter } from "../lib";
import { tsWorkerEnabled } from "./remote_converter";

const { KernelClient } = jupyter;

export interface KernelStartupTimings {
  readyMs: number;
  firstCellMs: number;
  secondCellMs: number;
  firstInspectMs: number;
  /** readyMs + firstCellMs: from spawn to the first cell's answer (what moving work into "ready" cannot hide). */
  sumMs: number;
  /** The 1-minute load average when the kernel was started (timings on a busy machine are contended). */
  loadAvg1: number;
  /** "worker" (the default) or "main-thread" (PEFTLAB_KERNEL_TS_WORKER=0): where the kernel compiled. */
  compile: string;
  /**
   * How the worker loaded TypeScript (kernel-ext/code_cache.ts): "miss" on a first start (it then writes the cache),
   * "hit" after; "" in the main-thread mode. From the kernel's debug log.
   */
  codeCache: string;
  backendNote: string;
}

/** Measures one cold start. */
export async function measureKernelStartup(): Promise<KernelStartupTimings> {
  const cwd = fs.mkdtempSync(path.join(os.tmpdir(), "peftlab-kbench-"));
  const loadAvg1 = Math.round(os.loadavg()[0] * 100) / 100;
  const log = path.join(cwd, "kernel-debug.log");
  const t0 = Date.now();
  const client = await KernelClient.start({ cwd, env: { ...process.env, PEFTLAB_KERNEL_DEBUG: log } });
  try {
    const readyMs = Date.now() - t0;
    let t = Date.now();
    const first = await client.execute("1 + 1");
    const firstCellMs = Date.now() - t;
    t = Date.now();
    await client.execute("1 + 1");
    const secondCellMs = Date.now() - t;
    t = Date.now();
    await client.call("inspect_request", { code: "peftlab.loraScaling(", cursor_pos: 20, detail_level: 0 });
    const firstInspectMs = Date.now() - t;
    const note = first.messages.find((m) => m.header.msg_type === "display_data");
    const data = (note?.content.data ?? {}) as Record<string, unknown>;
    return {
      readyMs,
      firstCellMs,
      secondCellMs,
      firstInspectMs,
      sumMs: readyMs + firstCellMs,
      loadAvg1,
      compile: tsWorkerEnabled() ? "worker" : "main-thread",
      codeCache: /code cache (\w+);/.exec(fs.existsSync(log) ? fs.readFileSync(log, "utf8") : "")?.[1] ?? "",
      backendNote: String(data["text/plain"] ?? ""),
    };
  } finally {
    await client.shutdown();
    fs.rmSync(cwd, { recursive: true, force: true });
  }
}

if (require.main === module) {
  measureKernelStartup().then(
    (r) => process.stdout.write(`${JSON.stringify(r)}\n`),
    (e: unknown) => {
      process.stderr.write(`kernel start-up bench failed: ${e instanceof Error ? e.message : String(e)}\n`);
      process.exit(1);
    },
  );
}
