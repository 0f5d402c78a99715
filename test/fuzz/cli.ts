/**
 * `npm run fuzz -- --cases N --seed S [--out DIR] [--timeout MS] [--only a,b]`: runs the fuzz campaign and writes
 * every failing input (with a .json describing it) to DIR (default fuzz-failures/). Exits 1 when any case failed.
 */
import { Command } from "commander";
import { formatCampaign, runCampaign } from "./campaign";

const p = new Command("fuzz")
  .option("--cases <n>", "number of cases", "2000")
  .option("--seed <s>", "campaign seed", "1")
  .option("--out <dir>", "where failing inputs are written", "fuzz-failures")
  .option("--timeout <ms>", "per-case time limit", "10000")
  .option("--mem <MiB>", "per-case peak memory growth budget", "768")
  .option("--only <targets>", "comma-separated target names")
  .parse();
const o = p.opts<{ cases: string; seed: string; out: string; timeout: string; mem: string; only?: string }>();
void runCampaign({
  cases: Number(o.cases),
  seed: Number(o.seed),
  outDir: o.out,
  timeoutMs: Number(o.timeout),
  memBudgetMiB: Number(o.mem),
  only: o.only?.split(",").filter(Boolean),
  log: (l) => console.log(l),
}).then((r) => {
  console.log(formatCampaign(r));
  process.exit(r.failures.length === 0 ? 0 : 1);
});
