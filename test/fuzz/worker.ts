/**
 * Fuzz worker: a child process that runs one parser on one file per message and reports how it ended. It runs apart
 * from the campaign so that a hang (killed at the time limit), a native crash or an out-of-memory death is caught
 * and reported instead of taking the campaign down.
 */
import { PeftlabError } from "../../lib/errors";
import * as fs from "node:fs";
import { PLANTED, TARGETS } from "./targets";

/**
 * This process's peak resident size in MiB. Linux's VmHWM belongs to the process image, so it starts afresh at exec;
 * getrusage's maxRSS does not (it keeps the forking parent's peak across exec, which under a long mocha run is larger
 * than anything a case allocates). Elsewhere, maxRSS.
 */
function peakRssMiB(): number {
  try {
    const m = /^VmHWM:\s+(\d+)\s+kB/m.exec(fs.readFileSync("/proc/self/status", "utf8"));
    if (m) return Number(m[1]) / 1024;
  } catch {
    // no procfs: fall through
  }
  return process.resourceUsage().maxRSS / 1024;
}

/** What the parent sends: parse `file` with `target`. */
export interface CaseRequest {
  id: number;
  target: string;
  file: string;
  assets: string;
}

/** What the worker answers. `maxRssMiB` is the process's peak resident size so far (it never goes down). */
export interface CaseReply {
  id: number;
  outcome: "ok" | "typed" | "untyped";
  error?: string;
  ms: number;
  maxRssMiB: number;
}

const byName = new Map([...TARGETS, ...PLANTED].map((t) => [t.name, t]));
const warn = console.warn;
console.warn = () => undefined; // parsers warn about dropped keys; that is not an outcome

process.on("message", (m: CaseRequest) => {
  const t0 = Date.now();
  const reply = (outcome: CaseReply["outcome"], error?: string) => {
    const r: CaseReply = {
      id: m.id,
      outcome,
      error,
      ms: Date.now() - t0,
      maxRssMiB: peakRssMiB(),
    };
    process.send!(r);
  };
  const target = byName.get(m.target);
  if (!target) return reply("untyped", `unknown target ${m.target}`);
  target.run(m.file, m.assets).then(
    () => reply("ok"),
    (e: unknown) => {
      if (e instanceof PeftlabError) reply("typed", `${e.name}: ${e.message.slice(0, 300)}`);
      else {
        const err = e as Error;
        reply(
          "untyped",
          `${err?.name ?? typeof e}: ${String(err?.message ?? e).slice(0, 300)}\n${err?.stack?.split("\n").slice(1, 6).join("\n") ?? ""}`,
        );
      }
    },
  );
});
void warn;
process.send!({ ready: true, maxRssMiB: peakRssMiB() });
