/**
 * `peftlab bench --compare "CMD"`: runs a reference command (the PyTorch scripts in shared/bench) in the same run and
 * reads its `X img/s` figures, so the ratio peftlab/reference is taken on the same machine under the same load.
 *
 * The shared scripts print one line each:
 *   "torch 2.3.0 threads=2 ViT-S/16 B=16: LoRA train 4.2 img/s, inference 10.9 img/s"
 *   "torch 1.13.0 MobileNetV2-0.35@224 B=32: full-FT train 21.4 img/s, inference 91.0 img/s"
 * Every "<label> <number> img/s" (or "<label>: <number> img/s") pair is read; the label is the text since the previous
 * comma, semicolon or colon. A line's
 * figures map to workloads by what the line is about: "LoRA" → the ViT workloads, "full-FT" / "MobileNetV2" → the
 * MobileNetV2 ones. A command whose output holds no figure is an error, never a silent empty comparison.
 */
import { spawn } from "node:child_process";
import * as os from "node:os";
import { ConfigError } from "../errors";

/** One `<label> <value> img/s` figure read from a reference's output. */
export interface ReferenceFigure {
  /** The label as printed, e.g. "LoRA train", "inference". */
  label: string;
  imgPerS: number;
  /** The peftlab workload it is compared with, or null when no mapping is known. */
  workload: string | null;
  /** The whole output line it came from. */
  line: string;
}

/** What a reference command printed, parsed. */
export interface ReferenceRun {
  command: string;
  exitCode: number | null;
  wallS: number;
  /** e.g. "1.13.0" when the line starts with "torch <version>". */
  torchVersion: string | null;
  /** From "threads=N" when printed. */
  threads: number | null;
  figures: ReferenceFigure[];
  /** Last lines of stdout + stderr, for the JSON record. */
  outputTail: string;
  /** Load average (1, 5, 15 min) just before and just after the command. */
  loadBefore: number[];
  loadAfter: number[];
}

const FIGURE_RE = /([^,:;]*?)\s*:?\s*([0-9]+(?:\.[0-9]+)?(?:e[+-]?[0-9]+)?)\s*img\/s/gi;

/** Maps a figure to a peftlab workload from its label and the line it sits in. */
export function workloadForFigure(label: string, line: string): string | null {
  const l = label.toLowerCase();
  const isTrain = /train/.test(l);
  const isInfer = /infer/.test(l);
  if (/lora|vit/i.test(line)) return isTrain ? "vit_lora_train" : isInfer ? "vit_infer" : null;
  if (/full-ft|mobilenet/i.test(line)) return isTrain ? "mnv2_train" : isInfer ? "mnv2_infer" : null;
  return null;
}

/** Reads every "<label> X img/s" figure from a reference's output. */
export function parseReferenceOutput(text: string): Pick<ReferenceRun, "figures" | "torchVersion" | "threads"> {
  const figures: ReferenceFigure[] = [];
  let torchVersion: string | null = null;
  let threads: number | null = null;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === "") continue;
    const tv = /\btorch\s+([0-9][\w.+-]*)/.exec(line);
    if (tv && torchVersion === null) torchVersion = tv[1];
    const th = /\bthreads=(\d+)/.exec(line);
    if (th && threads === null) threads = Number(th[1]);
    for (const m of line.matchAll(FIGURE_RE)) {
      const label = m[1].trim();
      const imgPerS = Number(m[2]);
      if (!Number.isFinite(imgPerS)) continue;
      figures.push({ label, imgPerS, workload: workloadForFigure(label, line), line });
    }
  }
  return { figures, torchVersion, threads };
}

/** Runs `command` through the shell, collects its output, and parses its figures; fails when it prints none. */
export async function runReference(
  command: string,
  opts: { timeoutS?: number; cwd?: string } = {},
): Promise<ReferenceRun> {
  const loadBefore = loadAverage();
  const t0 = performance.now();
  const { code, output } = await runShell(command, opts.timeoutS ?? 1800, opts.cwd);
  const wallS = (performance.now() - t0) / 1000;
  const parsed = parseReferenceOutput(output);
  const tail = output.split(/\r?\n/).slice(-20).join("\n").slice(-4000);
  if (code !== 0 || parsed.figures.length === 0) {
    throw new ConfigError(
      code !== 0 ? "The reference command failed" : "The reference command printed no img/s figure",
      {
        where: `--compare ${JSON.stringify(command)}`,
        expected: 'exit code 0 and lines like "LoRA train 4.2 img/s, inference 10.9 img/s"',
        got: `exit code ${code}; output: ${tail.slice(-600) || "(empty)"}`,
        fix: "run the command by hand; for the shared scripts use /usr/bin/python3 (the interpreter with torch installed)",
      },
    );
  }
  return { command, exitCode: code, wallS, ...parsed, outputTail: tail, loadBefore, loadAfter: loadAverage() };
}

function runShell(command: string, timeoutS: number, cwd?: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, { shell: true, cwd, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    const add = (b: Buffer) => {
      output += b.toString("utf8");
      if (output.length > 1_000_000) output = output.slice(-500_000);
    };
    child.stdout.on("data", add);
    child.stderr.on("data", add);
    const timer = setTimeout(() => child.kill("SIGTERM"), timeoutS * 1000);
    child.on("error", (e) => {
      clearTimeout(timer);
      resolve({ code: null, output: output + String(e) });
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

/** The 1/5/15-minute load averages, rounded to 2 decimals. */
export function loadAverage(): number[] {
  return os.loadavg().map((v) => Math.round(v * 100) / 100);
}
