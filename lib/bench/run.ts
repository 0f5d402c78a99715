/**
 * runBench: the whole benchmark run. Reference commands first (--compare), then each workload in its own child
 * process (peftlab's kernels, then tfjs's own with --baseline), then ratios; the report is plain data, written
 * atomically as JSON by writeBenchReport.
 */
import { spawn } from "node:child_process";
import * as os from "node:os";
import * as path from "node:path";
import { parseBackendName } from "../backend";
import { ConfigError } from "../errors";
import { writeFileAtomic } from "../io/atomic";
import { loadAverage, runReference, type ReferenceRun } from "./reference";
import { BENCH_SCHEMA, type BenchRatio, type BenchReport, type BenchVariant, type WorkloadResult } from "./types";
import { emptyResult, getWorkload, RESULT_MARKER, runWorkload, WORKLOADS, type WorkerRequest } from "./worker";

/** Options of a benchmark run (the CLI's flags as plain data). */
export interface BenchOptions {
  /** auto, wasm, cpu, node, node-gpu. */
  backend: string;
  /** Workload names; empty = all. */
  workloads: string[];
  repeats: number;
  warmup: number;
  quick: boolean;
  /** Also run each workload with tfjs's own kernels (peftlab's overrides off). */
  baseline: boolean;
  /** Timed repeats of the baseline variant (tfjs's kernels can be minutes per step); default `repeats`. */
  baselineRepeats?: number;
  /** Reference commands to run and compare with. */
  compare: string[];
  /** Image count for feature_cache and data_loader. */
  images?: number;
  /** Micro-batch of the ViT full-forward training steps (gradient accumulation; default 2, the whole batch in --quick). */
  microBatch?: number;
  /** One child process per workload (default true); false runs them in this process (RSS figures then accumulate). */
  isolate?: boolean;
  /** The command line, stored in the report. */
  command?: string;
  log?: (line: string) => void;
}

/** Validates options once; returns the workload list to run. */
export function resolveBenchOptions(o: BenchOptions): string[] {
  parseBackendName(o.backend, "--backend");
  const checks: [string, number | undefined, number][] = [
    ["--repeats", o.repeats, 1],
    ["--warmup", o.warmup, 0],
    ["--baseline-repeats", o.baselineRepeats, 1],
    ["--images", o.images, 1],
    ["--micro-batch", o.microBatch, 1],
  ];
  for (const [k, v, min] of checks) {
    if (v === undefined && k !== "--repeats" && k !== "--warmup") continue;
    if (v === undefined || !Number.isInteger(v) || v < min) {
      throw new ConfigError(`${k} must be an integer ≥ ${min}`, {
        where: k,
        expected: `≥ ${min}`,
        got: String(v),
        fix: `pass ${k} ${min + 1} or more`,
      });
    }
  }
  const names = o.workloads.length ? o.workloads : WORKLOADS.map((w) => w.name);
  for (const n of names) getWorkload(n);
  return names;
}

/** Runs the benchmark and returns the report (nothing is written; see writeBenchReport). */
export async function runBench(o: BenchOptions): Promise<BenchReport> {
  const names = resolveBenchOptions(o);
  const log = o.log ?? (() => {});
  const loadStart = loadAverage();
  const references: ReferenceRun[] = [];
  for (const cmd of o.compare) {
    log(`reference: ${cmd}`);
    const r = await runReference(cmd);
    log(`reference: ${r.figures.map((f) => `${f.label} ${f.imgPerS} img/s`).join(", ")} (${r.wallS.toFixed(1)} s)`);
    references.push(r);
  }
  const results: WorkloadResult[] = [];
  for (const name of names) {
    const variants: BenchVariant[] = o.baseline ? ["peftlab", "tfjs-kernels"] : ["peftlab"];
    for (const variant of variants) {
      const first = results.find((r) => r.workload === name && r.variant === "peftlab");
      if (variant === "tfjs-kernels" && first && first.status === "ok" && first.overrides.length === 0) {
        results.push({
          ...first,
          variant,
          status: "skipped",
          reason: "no kernel overrides on this backend: same as the peftlab row",
        });
        continue;
      }
      const req: WorkerRequest = {
        workload: name,
        backend: parseBackendName(o.backend, "--backend"),
        variant,
        quick: o.quick,
        warmup: o.warmup,
        repeats: variant === "tfjs-kernels" ? (o.baselineRepeats ?? o.repeats) : o.repeats,
        images: o.images,
        microBatch: o.microBatch,
      };
      log(`${name} [${variant}] …`);
      const r = o.isolate === false ? await runWorkload(req, log) : await runWorkerProcess(req, log);
      log(`${name} [${variant}]: ${r.status === "ok" ? `${r.imgPerS} img/s` : `${r.status}: ${r.reason}`}`);
      results.push(r);
    }
  }
  return {
    schema: BENCH_SCHEMA,
    date: new Date().toISOString(),
    command: o.command ?? "",
    host: {
      cpus: os.cpus().length,
      cpuModel: os.cpus()[0]?.model ?? "unknown",
      platform: `${process.platform}-${process.arch}`,
      node: process.version,
      tfjs: tfjsVersion(),
      loadStart,
      loadEnd: loadAverage(),
    },
    options: {
      backend: o.backend,
      workloads: names,
      repeats: o.repeats,
      warmup: o.warmup,
      quick: o.quick,
      baseline: o.baseline,
    },
    results,
    references,
    ratios: computeRatios(results, references),
  };
}

/** peftlab/reference per workload figure (and for fast paths of that workload), from the peftlab variant. */
export function computeRatios(results: WorkloadResult[], references: ReferenceRun[]): BenchRatio[] {
  const out: BenchRatio[] = [];
  for (const ref of references) {
    for (const f of ref.figures) {
      if (!f.workload) continue;
      const rows = results.filter(
        (r) => r.variant === "peftlab" && (r.workload === f.workload || r.fastPathOf === f.workload),
      );
      if (rows.length === 0) rows.push({ workload: f.workload, imgPerS: null, gflopPerImage: null } as WorkloadResult);
      for (const r of rows) {
        const mine = r.imgPerS ?? null;
        out.push({
          workload: r.workload,
          reference: `${ref.torchVersion ? `torch ${ref.torchVersion}` : ref.command}: ${f.label}`,
          referenceImgPerS: f.imgPerS,
          peftlabImgPerS: mine,
          ratio: mine === null ? null : Math.round((mine / f.imgPerS) * 1000) / 1000,
          referenceGflops: r.gflopPerImage ? Math.round(r.gflopPerImage * f.imgPerS * 100) / 100 : null,
        });
      }
    }
  }
  return out;
}

/** Writes the report as JSON, atomically. */
export function writeBenchReport(file: string, report: BenchReport): void {
  writeFileAtomic(file, `${JSON.stringify(report, null, 2)}\n`);
}

/** The default report path: bench-results/bench-<UTC date and time>.json under `dir`. */
export function defaultReportPath(dir = process.cwd(), now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, "").replace(/\..*$/, "").replace("T", "-");
  return path.join(dir, "bench-results", `bench-${stamp}.json`);
}

/** Runs one workload in a child process (this file's sibling worker, through tsx when running from sources). */
export function runWorkerProcess(req: WorkerRequest, log: (line: string) => void): Promise<WorkloadResult> {
  const ext = path.extname(__filename);
  const worker = path.join(__dirname, `worker${ext}`);
  const args = ext === ".ts" ? ["--require", require.resolve("tsx/cjs"), worker] : [worker];
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [...args, JSON.stringify(req)], {
      stdio: ["ignore", "pipe", "pipe"],
      env: process.env,
    });
    let stdout = "";
    let stderrTail = "";
    child.stdout.on("data", (b: Buffer) => (stdout += b.toString("utf8")));
    child.stderr.on("data", (b: Buffer) => {
      const s = b.toString("utf8");
      stderrTail = (stderrTail + s).slice(-4000);
      for (const line of s.split("\n")) if (line.startsWith("[bench ")) log(line);
    });
    child.on("close", (code, signal) => {
      const line = stdout.split("\n").find((l) => l.startsWith(RESULT_MARKER));
      if (line) return resolve(JSON.parse(line.slice(RESULT_MARKER.length)) as WorkloadResult);
      const why = signal ? `killed by ${signal}` : `exit code ${code}`;
      const lines = stderrTail.split("\n").filter((l) => l.trim() && !l.startsWith("[bench "));
      const tail = [lines.find((l) => /Error\b/.test(l)), ...lines.slice(-2)].filter(Boolean).join(" | ");
      resolve(
        crashedResult(req, `worker ${why}${/out of memory|heap/i.test(stderrTail) ? " (out of memory)" : ""}: ${tail}`),
      );
    });
  });
}

function crashedResult(req: WorkerRequest, reason: string): WorkloadResult {
  const opts = {
    status: "failed" as const,
    reason,
    backend: req.backend,
    threads: 0,
    simd: false,
    fma: false,
    gemm: "tfjs",
    overrides: [],
  };
  return emptyResult(req, getWorkload(req.workload), { ...opts, loadBefore: loadAverage() });
}

function tfjsVersion(): string {
  try {
    return (require("@tensorflow/tfjs/package.json") as { version: string }).version;
  } catch {
    return "unknown";
  }
}
