/**
 * Runs one claimed sweep run: exactly `peftlab train --config configs/<id>.json --out runs/<id>` and, when the sweep
 * names eval data, `peftlab eval --run runs/<id> --data …`, as child processes of this Node (the "process" mode, what
 * the local executor and every Slurm array task do), or the same two steps through the library in this process
 * ("in-process", for notebooks). The run's record (its summary.json, the sweep id, the eval metrics as split "eval")
 * is appended to runs.jsonl; a failure writes failed/<id>.json with the log's tail. SIGTERM/SIGINT (scancel, a time
 * limit, Ctrl-C) stop the children and mark the runs in flight failed before exiting.
 */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { ConfigError } from "../../errors";
import { writeFileAtomic } from "../../io/atomic";
import { appendRun } from "../../results/run_log";
import type { JsonValue, RunRecord } from "../../results/run_record";
import type { Claim } from "./claim";
import { SweepStore, type RunFailure, type SweepManifest } from "./store";
import { imageFolderDataset, loadRun, predictWithRun, predictionsOf, runExperiment, writePredsCsv } from "./train_api";

/** How a run executes. */
export interface ExecuteOptions {
  mode: "process" | "in-process";
  /** The CLI entry (default: this checkout's dist/lib/cli/main.js). */
  cli?: string;
  /** Environment of the children (default process.env). */
  env?: NodeJS.ProcessEnv;
}

/** What one execution gave. */
export interface ExecuteResult {
  id: string;
  ok: boolean;
  record?: RunRecord;
  failure?: RunFailure;
  wallTimeS: number;
}

/** The built CLI entry of this checkout (`dist/lib/cli/main.js`). */
export function cliEntry(): string {
  const here = path.resolve(__dirname, "../../cli/main.js");
  if (fs.existsSync(here)) return here;
  for (let dir = __dirname, i = 0; i < 6; dir = path.dirname(dir), i++) {
    const pkg = path.join(dir, "package.json");
    if (!fs.existsSync(pkg)) continue;
    const name = (JSON.parse(fs.readFileSync(pkg, "utf8")) as { name?: string }).name;
    const main = path.join(dir, "dist", "lib", "cli", "main.js");
    if (name === "peftlab" && fs.existsSync(main)) return main;
  }
  throw new ConfigError("The peftlab CLI is not built", {
    where: "sweep executor",
    expected: "dist/lib/cli/main.js in the peftlab checkout",
    got: "no such file",
    fix: "run `npm run build` in the checkout",
  });
}

interface InFlight {
  store: SweepStore;
  claim: Claim;
  children: Set<import("node:child_process").ChildProcess>;
}
const inFlight = new Map<string, InFlight>();
let handlersInstalled = false;

/** On SIGTERM/SIGINT: stop the children, mark the runs in flight failed, release their claims, exit. */
function installSignalHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  const onSignal = (sig: NodeJS.Signals) => {
    for (const [id, f] of inFlight) {
      for (const c of f.children) c.kill("SIGTERM");
      try {
        f.store.writeFailure({
          id,
          at: new Date().toISOString(),
          reason: `interrupted by ${sig} (scancel, a time limit or Ctrl-C)`,
          signal: sig,
          ...(f.claim.info.job ? { job: f.claim.info.job } : {}),
          logTail: SweepStore.tail(f.store.logFile(id)),
        });
      } finally {
        f.claim.release();
      }
    }
    process.exit(sig === "SIGINT" ? 130 : 143);
  };
  process.once("SIGTERM", onSignal);
  process.once("SIGINT", onSignal);
}

function runChild(
  args: string[],
  env: NodeJS.ProcessEnv,
  logFd: number,
  f: InFlight,
  captureStdout: boolean,
): Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { env, stdio: ["ignore", captureStdout ? "pipe" : logFd, logFd] });
    f.children.add(child);
    let stdout = "";
    child.stdout?.on("data", (d: Buffer) => (stdout += d.toString("utf8")));
    child.on("error", reject);
    child.on("close", (code, signal) => {
      f.children.delete(child);
      resolve({ code, signal, stdout });
    });
  });
}

/** The sweep's record of a finished run: the run's summary.json under the sweep id, with eval metrics. */
function buildRecord(
  store: SweepStore,
  m: SweepManifest,
  id: string,
  evalOut: Record<string, unknown> | undefined,
): RunRecord {
  const summary = JSON.parse(fs.readFileSync(path.join(store.runDir(id), "summary.json"), "utf8")) as RunRecord & {
    fit?: unknown;
  };
  const { fit: _fit, id: runId, ...rest } = summary;
  const planned = m.runs.find((r) => r.id === id);
  const metrics = { ...rest.metrics };
  if (evalOut) metrics.eval = evalOut.metrics as Record<string, number>;
  return {
    id,
    ...rest,
    metrics,
    extra: {
      ...(rest.extra ?? {}),
      runId,
      sweep: {
        name: m.name,
        index: planned?.index ?? -1,
        overrides: (planned?.overrides ?? {}) as { [k: string]: JsonValue },
      },
      ...(evalOut ? { evalData: evalOut.data as string, evalN: evalOut.n as number } : {}),
    },
  };
}

/** Runs one claimed run to a record or a failure; always releases the claim. */
export async function executeRun(
  store: SweepStore,
  m: SweepManifest,
  id: string,
  claim: Claim,
  o: ExecuteOptions,
): Promise<ExecuteResult> {
  const t0 = Date.now();
  const env = o.env ?? process.env;
  const runDir = store.runDir(id);
  const logFile = store.logFile(id);
  fs.mkdirSync(path.dirname(logFile), { recursive: true });
  const logFd = fs.openSync(logFile, "a");
  const f: InFlight = { store, claim, children: new Set() };
  inFlight.set(id, f);
  installSignalHandlers();
  const job = claim.info.job;
  const log = (s: string) => fs.writeSync(logFd, s.endsWith("\n") ? s : s + "\n");
  const fail = (reason: string, extra: Partial<RunFailure> = {}): ExecuteResult => {
    const failure: RunFailure = {
      id,
      at: new Date().toISOString(),
      reason,
      host: claim.info.host,
      ...(job ? { job } : {}),
      ...extra,
      logTail: SweepStore.tail(logFile),
    };
    store.writeFailure(failure);
    return { id, ok: false, failure, wallTimeS: (Date.now() - t0) / 1000 };
  };
  try {
    store.clearFailure(id);
    store.event({ event: "start", id, executor: claim.info.executor, mode: o.mode, ...(job ? { job } : {}) });
    log(
      `=== ${new Date().toISOString()} run ${id} on ${claim.info.host} (pid ${process.pid}, ${claim.info.executor}${job ? `, job ${job}` : ""})`,
    );
    // A failed attempt that checkpointed continues from there (exact resume), as `peftlab train --resume` does.
    const resume = fs.existsSync(path.join(runDir, "checkpoints", "latest.json"));
    const ev = m.spec.eval;
    let evalOut: Record<string, unknown> | undefined;
    if (o.mode === "process") {
      const cli = o.cli ?? cliEntry();
      const trainArgs = [
        cli,
        "train",
        "--config",
        store.configFile(id),
        "--out",
        runDir,
        "--json",
        "--quiet",
        ...(resume ? ["--resume"] : []),
      ];
      log(`$ node ${trainArgs.join(" ")}`);
      const tr = await runChild(trainArgs, env, logFd, f, false);
      if (tr.code !== 0)
        return fail(`peftlab train ${tr.signal ? `was killed by ${tr.signal}` : `exited with code ${tr.code}`}`, {
          exitCode: tr.code,
          signal: tr.signal,
        });
      if (ev) {
        const evArgs = [
          cli,
          "eval",
          "--run",
          runDir,
          "--data",
          ev.data,
          "--json",
          ...(ev.batchSize ? ["--batch-size", String(ev.batchSize)] : []),
        ];
        log(`$ node ${evArgs.join(" ")}`);
        const er = await runChild(evArgs, env, logFd, f, true);
        log(er.stdout);
        if (er.code !== 0)
          return fail(`peftlab eval ${er.signal ? `was killed by ${er.signal}` : `exited with code ${er.code}`}`, {
            exitCode: er.code,
            signal: er.signal,
          });
        evalOut = JSON.parse(er.stdout) as Record<string, unknown>;
      }
    } else {
      try {
        const config = JSON.parse(fs.readFileSync(store.configFile(id), "utf8")) as unknown;
        await runExperiment(config, { out: runDir, resume, log, warn: log });
        if (ev) {
          const run = loadRun(runDir);
          const r = await predictWithRun(run, imageFolderDataset(ev.data), { batchSize: ev.batchSize });
          const preds = path.join(runDir, "preds.csv");
          writePredsCsv(preds, predictionsOf(run.config.task, r));
          evalOut = {
            run: runDir,
            data: ev.data,
            n: r.report.n,
            classes: run.classes,
            metrics: r.report.values,
            preds,
          };
        }
      } catch (e) {
        log(e instanceof Error ? (e.stack ?? e.message) : String(e));
        return fail(`in-process run failed: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    if (evalOut) writeFileAtomic(path.join(runDir, "eval.json"), JSON.stringify(evalOut, null, 2) + "\n");
    const record = buildRecord(store, m, id, evalOut);
    appendRun(store.runLog, record, () => {});
    store.event({ event: "done", id, wallTimeS: (Date.now() - t0) / 1000, ...(job ? { job } : {}) });
    return { id, ok: true, record, wallTimeS: (Date.now() - t0) / 1000 };
  } finally {
    inFlight.delete(id);
    fs.closeSync(logFd);
    claim.release();
  }
}
