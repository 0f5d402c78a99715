/**
 * The notebook kernel's start-up, as a user meets it:
 * - kernel_startup: spawns a fresh "TypeScript (peftlab)" kernel per repeat and measures the time to ready (first
 *   kernel_info_reply, which the kernel sends once its TypeScript warm-up and prelude are done), the first cell
 *   (`1 + 1`, sent right after ready), the same cell again, and the first inspect_request. The median of time-to-ready + first cell is the
 *   workload's time; each part's median, the sum's and the load average's are in `extra`, with whether each start
 *   found the kernel's TypeScript code cache (kernel-ext/code_cache.ts).
 * lib never imports kernel-ext: the kernel's own timing script (dist/kernel-ext/bench_startup.js) is run by path.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { median, round } from "./measure";
import type { WorkloadContext, WorkloadOutcome, WorkloadSkip, WorkloadSpec } from "./workload";

/** The built kernel start-up script under the package root (dist/lib/bench → dist/kernel-ext). */
export function kernelStartupScript(from = __dirname): string {
  return path.resolve(from, "..", "..", "kernel-ext", "bench_startup.js");
}

interface StartupRun {
  readyMs: number;
  firstCellMs: number;
  secondCellMs: number;
  firstInspectMs: number;
  sumMs: number;
  loadAvg1: number;
  compile: string;
  codeCache: string;
  backendNote: string;
}

/** Runs the script once; throws with its stderr when it fails. */
function oneStart(script: string): StartupRun {
  const r = spawnSync(process.execPath, [script], { encoding: "utf8", timeout: 300_000 });
  const line = (r.stdout ?? "").trim().split("\n").pop() ?? "";
  if (r.status !== 0 || !line.startsWith("{")) {
    throw new Error(`kernel start-up script failed (status ${r.status}): ${(r.stderr ?? "").trim().slice(-500)}`);
  }
  return JSON.parse(line) as StartupRun;
}

async function kernelStartup(ctx: WorkloadContext): Promise<WorkloadOutcome | WorkloadSkip> {
  const script = kernelStartupScript();
  if (!fs.existsSync(script)) return { skipped: `${script} missing (npm run build)` };
  const runs: StartupRun[] = [];
  // Every start is cold (a new process), so warm-up repeats would measure the same thing: run `repeats` of them.
  const n = Math.max(1, ctx.quick ? 1 : ctx.repeats);
  for (let i = 0; i < n; i++) {
    const r = oneStart(script);
    ctx.log(
      `start ${i + 1}/${n}: ready ${r.readyMs} ms + first cell ${r.firstCellMs} ms = ${r.sumMs} ms, again ` +
        `${r.secondCellMs} ms (load ${r.loadAvg1}, compiling in the ${r.compile}, code cache ${r.codeCache || "-"})`,
    );
    runs.push(r);
  }
  const med = (k: keyof Omit<StartupRun, "backendNote" | "compile" | "codeCache">) => median(runs.map((r) => r[k]));
  const timesS = runs.map((r) => (r.readyMs + r.firstCellMs) / 1000);
  return {
    batchSize: null,
    imageSize: null,
    imagesPerRepeat: 1,
    timing: { timesS, medianS: median(timesS), peakBytes: null, topKernels: [] },
    flops: null,
    extra: {
      readyMs: round(med("readyMs"), 0),
      firstCellMs: round(med("firstCellMs"), 0),
      secondCellMs: round(med("secondCellMs"), 0),
      firstInspectMs: round(med("firstInspectMs"), 0),
      sumMs: round(med("sumMs"), 0),
      loadAvg1: round(med("loadAvg1"), 2),
      compile: runs[0].compile,
      // The first start after an install writes the TypeScript code cache (a miss); later starts use it (hits).
      codeCache: runs.map((r) => r.codeCache || "-").join(","),
      backendNote: runs[0].backendNote,
    },
  };
}

export const KERNEL_WORKLOADS: readonly WorkloadSpec[] = [
  {
    name: "kernel_startup",
    title: "notebook kernel: time to ready, first cell (1 + 1) after start, first inspect",
    run: kernelStartup,
  },
];
