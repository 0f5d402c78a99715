/**
 * `peftlab check-parity <manifest.json>`: runs every case of a reference manifest (PyTorch weights + io) and prints
 * one aligned row per case with the max absolute error of logits and features. Exits 1 when a case is over
 * tolerance or cannot run. LoRA and other special cases are claimed by handlers listed in CASE_HANDLERS.
 */
import type { Command } from "commander";
import { initBackend, parseBackendName } from "../../backend";
import { ConfigError } from "../../errors";
import { checkParity, DEFAULT_CASE_HANDLERS, type CaseHandler, type ParityReport } from "../../models/parity";
import { LORA_CASE_HANDLER } from "../../peft/lora/parity";
import { formatTable, writeJson, writeOut } from "../output";

/** Case handlers in match order: handlers from lib/peft (LoRA) go before the defaults. */
export const CASE_HANDLERS: readonly CaseHandler[] = [LORA_CASE_HANDLER, ...DEFAULT_CASE_HANDLERS];

/** Adds `check-parity` to the program. */
export function register(program: Command): void {
  program
    .command("check-parity")
    .description("compare models against PyTorch reference outputs listed in a manifest")
    .argument("<manifest>", "manifest.json (paths inside are relative to it)")
    .option("--tol <number>", "max absolute error allowed for logits and features", "1e-4")
    .option("--backend <name>", "tfjs backend (cpu, wasm, auto); PEFTLAB_BACKEND overrides it", "auto")
    .option("--json", "print JSON")
    .action(async function (this: Command, manifest: string, opts: { tol: string; backend: string; json?: boolean }) {
      const tol = Number(opts.tol);
      if (!(tol >= 0)) {
        throw new ConfigError("--tol must be a non-negative number", {
          where: "--tol",
          expected: "e.g. 1e-4",
          got: opts.tol,
        });
      }
      const choice = await initBackend({ prefer: parseBackendName(opts.backend, "--backend"), log: null });
      const report = await checkParity(manifest, { tol, handlers: CASE_HANDLERS });
      if (opts.json) writeJson(this, { backend: choice.name, ...report });
      else writeOut(this, renderParity(report, choice.name));
      const bad = report.rows.filter((r) => r.status === "fail" || r.status === "error").length;
      if (bad > 0)
        this.error(`check-parity: ${bad} of ${report.rows.length} case(s) failed or could not run`, {
          exitCode: 1,
          code: "peftlab.parity",
        });
    });
}

/** The aligned table plus a summary line. */
export function renderParity(report: ParityReport, backend: string): string {
  const fmt = (v: number | null) => (v === null ? "-" : v.toExponential(2));
  const rows = report.rows.map((r) => [
    r.case,
    r.arch,
    fmt(r.logitsErr),
    fmt(r.featuresErr),
    r.status === "ok" ? "ok" : `${r.status}${r.detail ? `: ${firstLine(r.detail)}` : ""}`,
  ]);
  const table = formatTable(["case", "arch", "max|Δ| logits", "max|Δ| features", "status"], rows, new Set([2, 3]));
  const count = (s: string) => report.rows.filter((r) => r.status === s).length;
  return (
    `${report.manifest} (backend ${backend}, tol ${report.tol})\n` +
    table +
    `${count("ok")} ok, ${count("fail")} over tolerance, ${count("error")} errors, ${count("skipped")} skipped\n`
  );
}

function firstLine(s: string): string {
  const l = s.split("\n")[0];
  return l.length > 160 ? `${l.slice(0, 157)}...` : l;
}
