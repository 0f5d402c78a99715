/**
 * The seeded mutational fuzz campaign: builds each target's valid seeds, derives case i's input from (seed, i) alone,
 * runs it in a worker process under a time limit, and classifies the ending. A case passes when it succeeds or
 * throws one of peftlab's typed errors, within the time limit and without the worker's peak memory growing past the
 * budget (an allocation sized by untrusted input). Failing inputs are written to `outDir` for reproduction.
 */
import { fork, execFileSync, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { mutate, Rng } from "./mutate";
import { PLANTED, TARGETS, type FuzzTarget } from "./targets";
import type { CaseReply, CaseRequest } from "./worker";

export type Outcome = "ok" | "typed" | "untyped" | "hang" | "crash" | "memory";

export interface CampaignOptions {
  cases: number;
  seed: number;
  /** Where failing inputs go (created on the first failure). */
  outDir?: string;
  /** Per-case wall-clock limit. */
  timeoutMs?: number;
  /** Largest growth of the worker's peak RSS over its start-up peak that a case may cause. */
  memBudgetMiB?: number;
  /** Only these targets (all real ones when empty; the PLANTED ones only when named). */
  only?: string[];
  log?: (line: string) => void;
  /** Start with byte mutations (no directory/missing/FIFO/empty cases). */
  mutationsOnly?: boolean;
}

export interface CaseResult {
  index: number;
  target: string;
  ops: string[];
  outcome: Outcome;
  error?: string;
  ms: number;
  file?: string;
}

export interface CampaignResult {
  seed: number;
  cases: number;
  wallS: number;
  perTarget: Record<string, Record<Outcome, number>>;
  failures: CaseResult[];
}

/** Cases 0..3 of every target are path faults, then byte mutations (skipped with `mutationsOnly`). */
const PATH_CASES = ["directory", "missing", "fifo", "empty"] as const;

class Worker {
  private child: ChildProcess | undefined;
  private baseMiB = 0;

  async start(): Promise<void> {
    const child = fork(path.join(__dirname, "worker.ts"), [], {
      execArgv: ["--require", "tsx/cjs", "--max-old-space-size=2048"],
      stdio: ["ignore", "ignore", "pipe", "ipc"],
    });
    child.stderr?.resume();
    this.child = child;
    this.baseMiB = await new Promise<number>((resolve, reject) => {
      child.once("message", (m: { maxRssMiB: number }) => resolve(m.maxRssMiB));
      child.once("exit", (code) => reject(new Error(`fuzz worker exited during start-up (${code})`)));
    });
  }

  /** Runs one case; resolves with the worker's reply, or a hang/crash/memory outcome (the worker is then replaced). */
  async run(
    req: CaseRequest,
    timeoutMs: number,
    memBudgetMiB: number,
  ): Promise<{ outcome: Outcome; error?: string; ms: number }> {
    if (!this.child) await this.start();
    const child = this.child!;
    const t0 = Date.now();
    const r = await new Promise<{ outcome: Outcome; error?: string; ms: number; rss?: number }>((resolve) => {
      const done = (v: { outcome: Outcome; error?: string; ms: number; rss?: number }) => {
        clearTimeout(timer);
        child.off("message", onMsg);
        child.off("exit", onExit);
        resolve(v);
      };
      const onMsg = (m: CaseReply) => {
        if (m.id === req.id) done({ outcome: m.outcome, error: m.error, ms: m.ms, rss: m.maxRssMiB });
      };
      const onExit = (code: number | null, signal: string | null) =>
        done({ outcome: "crash", error: `worker died: exit ${code} signal ${signal}`, ms: Date.now() - t0 });
      const timer = setTimeout(
        () => done({ outcome: "hang", error: `no answer within ${timeoutMs} ms`, ms: Date.now() - t0 }),
        timeoutMs,
      );
      child.on("message", onMsg);
      child.once("exit", onExit);
      child.send(req);
    });
    if (r.outcome === "hang" || r.outcome === "crash") {
      await this.stop();
      return r;
    }
    if (r.rss !== undefined && r.rss - this.baseMiB > memBudgetMiB) {
      await this.stop(); // the peak never goes down: a fresh worker measures the next case
      return {
        outcome: "memory",
        error: `peak RSS grew by ${Math.round(r.rss - this.baseMiB)} MiB (${r.outcome}: ${r.error ?? ""})`,
        ms: r.ms,
      };
    }
    return r;
  }

  async stop(): Promise<void> {
    const c = this.child;
    this.child = undefined;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const gone = new Promise<void>((res) => c.once("exit", () => res()));
    c.kill("SIGKILL");
    await gone;
  }
}

/** The input of case `index` of target `t` (deterministic in seed and index). */
export function caseInput(
  t: FuzzTarget,
  seeds: Uint8Array[],
  seed: number,
  index: number,
): { bytes: Uint8Array; ops: string[] } {
  const r = new Rng((seed * 0x9e3779b1) ^ Math.imul(index + 1, 0x85ebca6b));
  return mutate(r.pick(seeds), t.format, r);
}

export async function runCampaign(o: CampaignOptions): Promise<CampaignResult> {
  const log = o.log ?? (() => undefined);
  const timeoutMs = o.timeoutMs ?? 10_000;
  const memBudgetMiB = o.memBudgetMiB ?? 768;
  const targets = [...TARGETS, ...PLANTED].filter((t) =>
    o.only?.length ? o.only.includes(t.name) : !PLANTED.includes(t),
  );
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "peftlab-fuzz-"));
  const assets = path.join(work, "assets");
  fs.mkdirSync(assets);
  const seeds = new Map<string, Uint8Array[]>();
  for (const t of targets) seeds.set(t.name, await t.seeds(assets));
  const perTarget: CampaignResult["perTarget"] = {};
  for (const t of targets) perTarget[t.name] = { ok: 0, typed: 0, untyped: 0, hang: 0, crash: 0, memory: 0 };
  const failures: CaseResult[] = [];
  const worker = new Worker();
  const t0 = Date.now();
  try {
    for (let i = 0; i < o.cases; i++) {
      const t = targets[i % targets.length];
      const k = Math.floor(i / targets.length) + (o.mutationsOnly ? PATH_CASES.length : 0);
      const file = path.join(work, `case-${i}${t.ext}`);
      let ops: string[];
      let bytes: Uint8Array | undefined;
      if (k < PATH_CASES.length) {
        ops = [PATH_CASES[k]];
        if (k === 0) fs.mkdirSync(file);
        else if (k === 2) execFileSync("mkfifo", [file]);
        else if (k === 3) fs.writeFileSync(file, new Uint8Array(0));
      } else {
        ({ bytes, ops } = caseInput(t, seeds.get(t.name)!, o.seed, i));
        fs.writeFileSync(file, bytes);
      }
      const r = await worker.run({ id: i, target: t.name, file, assets }, timeoutMs, memBudgetMiB);
      perTarget[t.name][r.outcome]++;
      if (r.outcome !== "ok" && r.outcome !== "typed") {
        const c: CaseResult = { index: i, target: t.name, ops, ...r };
        if (o.outDir) {
          fs.mkdirSync(o.outDir, { recursive: true });
          const base = path.join(o.outDir, `${t.name}-seed${o.seed}-case${i}-${r.outcome}`);
          if (bytes) fs.writeFileSync(base + t.ext, bytes);
          fs.writeFileSync(
            `${base}.json`,
            JSON.stringify({ ...c, seed: o.seed, pathCase: bytes ? undefined : ops[0] }, null, 2),
          );
          c.file = bytes ? base + t.ext : undefined;
        }
        failures.push(c);
        log(`FAIL ${t.name} case ${i} [${ops.join("+")}] ${r.outcome}: ${r.error?.split("\n")[0]}`);
      }
      fs.rmSync(file, { recursive: true, force: true });
    }
  } finally {
    await worker.stop();
    fs.rmSync(work, { recursive: true, force: true });
  }
  return { seed: o.seed, cases: o.cases, wallS: (Date.now() - t0) / 1000, perTarget, failures };
}

/** A fixed-width table of outcomes per target. */
export function formatCampaign(r: CampaignResult): string {
  const cols: Outcome[] = ["ok", "typed", "untyped", "hang", "crash", "memory"];
  const lines = [
    `fuzz: seed ${r.seed}, ${r.cases} cases, ${r.wallS.toFixed(1)} s`,
    ["target".padEnd(18), ...cols.map((c) => c.padStart(8))].join(""),
  ];
  for (const [t, c] of Object.entries(r.perTarget))
    lines.push([t.padEnd(18), ...cols.map((k) => String(c[k]).padStart(8))].join(""));
  lines.push(`failures: ${r.failures.length}`);
  return lines.join("\n");
}
