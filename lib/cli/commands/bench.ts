/**
 * `peftlab bench`: model-level benchmarks on the active backend (lib/bench): ViT-S/16 LoRA train step and
 * inference, MobileNetV2-0.35 full fine-tuning and inference, feature extraction into the feature cache, data-loader
 * throughput, and peftlab's fast paths beside what they replace. Prints a table and writes the JSON report
 * atomically; `--compare "CMD"` runs a reference (shared/bench/*.py) in the same run and prints peftlab/reference.
 */
import type { Command } from "commander";
import { defaultReportPath, formatBenchReport, runBench, WORKLOADS, writeBenchReport } from "../../index";
import { formatTable, writeJson, writeOut } from "../output";

interface BenchFlags {
  backend: string;
  workloads?: string;
  repeats: string;
  warmup: string;
  quick?: boolean;
  baseline?: boolean;
  baselineRepeats?: string;
  compare: string[];
  images?: string;
  microBatch?: string;
  out?: string;
  json?: boolean;
  list?: boolean;
  isolate: boolean;
}

/** Adds `bench` to the program. */
export function register(program: Command): void {
  program
    .command("bench")
    .description("benchmark training and inference workloads on the active backend; prints a table, writes JSON")
    .option("--backend <name>", "auto, webgpu, wasm, cpu, node or node-gpu (PEFTLAB_BACKEND overrides it)", "auto")
    .option("--workloads <names>", "comma-separated workloads (default: all; see --list)")
    .option("--repeats <n>", "timed repeats per workload; the median is reported", "3")
    .option("--warmup <n>", "untimed warm-up runs per workload (the first is profiled)", "1")
    .option("--quick", "tiny shapes and few images: checks the machinery in seconds (figures not comparable)")
    .option("--baseline", "also run each workload with tfjs's own kernels (peftlab's kernel overrides off)")
    .option("--baseline-repeats <n>", "timed repeats of the --baseline runs (default: --repeats)")
    .option("--compare <cmd>", "run a reference command and compare its `X img/s` figures (repeatable)", collect, [])
    .option("--images <n>", "images for feature_cache and data_loader (default 128 and 256)")
    .option("--micro-batch <n>", "ViT training: accumulate gradients over micro-batches of n (default 2; memory)")
    .option("--out <file>", "JSON report path (default bench-results/bench-<date>.json)")
    .option("--json", "print the JSON report instead of the table")
    .option("--list", "list the workloads and exit")
    .option("--no-isolate", "run workloads in this process (RSS high-water marks then accumulate)")
    .action(async function (this: Command, f: BenchFlags) {
      if (f.list) {
        return writeOut(
          this,
          formatTable(
            ["workload", "what"],
            WORKLOADS.map((w) => [w.name, w.title]),
          ),
        );
      }
      const err = this.configureOutput().writeErr ?? ((s: string) => process.stderr.write(s));
      const report = await runBench({
        backend: f.backend,
        workloads: (f.workloads ?? "")
          .split(",")
          .map((s) => s.trim())
          .filter((s) => s !== ""),
        repeats: toInt(f.repeats),
        warmup: toInt(f.warmup),
        quick: f.quick === true,
        baseline: f.baseline === true,
        baselineRepeats: f.baselineRepeats === undefined ? undefined : toInt(f.baselineRepeats),
        compare: f.compare,
        images: f.images === undefined ? undefined : toInt(f.images),
        microBatch: f.microBatch === undefined ? undefined : toInt(f.microBatch),
        isolate: f.isolate,
        command: `peftlab ${process.argv.slice(2).join(" ")}`.trim(),
        log: (l) => err(`[bench] ${l.replace(/^\[bench /, "[")}\n`),
      });
      const out = f.out ?? defaultReportPath();
      writeBenchReport(out, report);
      if (f.json) writeJson(this, report);
      else writeOut(this, `${formatBenchReport(report)}report: ${out}\n`);
    });
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** Integer flag values; a non-integer becomes NaN and is rejected by runBench's validation with the flag's name. */
function toInt(s: string): number {
  return /^\s*-?\d+\s*$/.test(s) ? Number(s) : Number.NaN;
}
