/**
 * `peftlab sweep --executor slurm` on a real single-node Slurm cluster started by scripts/slurm-local.sh (Debian's
 * slurm-wlm + munge; needs root). Skipped, with the reason printed, where those are missing.
 */
import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { SweepStore } from "../../../lib/experiments/sweep";
import { CLI_MAIN, cliProcess } from "../../helpers/cli";

const root = path.resolve(__dirname, "../../..");
const script = path.join(root, "scripts/slurm-local.sh");
const sweepFile = path.join(root, "docs/examples/sweep-tiny.json");

function skipReason(): string | undefined {
  if (process.platform !== "linux") return "not Linux";
  if (process.getuid?.() !== 0) return "not root (slurmd and munged must run as root)";
  for (const b of ["/usr/sbin/slurmctld", "/usr/sbin/slurmd", "/usr/sbin/munged"])
    if (!fs.existsSync(b)) return `${b} missing (apt-get install slurm-wlm munge)`;
  if (spawnSync("sh", ["-c", "command -v sbatch squeue scancel"]).status !== 0) return "sbatch/squeue/scancel missing";
  if (!fs.existsSync(CLI_MAIN)) return "dist/lib/cli/main.js missing (npm run build)";
  return undefined;
}

async function until(what: string, ms: number, ok: () => boolean): Promise<void> {
  const t0 = Date.now();
  while (!ok()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out after ${ms / 1000} s waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

function startsById(store: SweepStore): Map<string, number> {
  const n = new Map<string, number>();
  for (const e of store.events()) if (e.event === "start") n.set(e.id as string, (n.get(e.id as string) ?? 0) + 1);
  return n;
}

describe("peftlab sweep on a real Slurm cluster (scripts/slurm-local.sh)", function () {
  this.timeout(900000);
  const why = skipReason();
  let tmp: string;
  let env: NodeJS.ProcessEnv;
  before(function () {
    if (why) {
      console.log(`      skipped: ${why}`);
      this.skip();
    }
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "peftlab-sweep-slurm-"));
    env = {
      ...process.env,
      PEFTLAB_SLURM_DIR: path.join(tmp, "cluster"),
      PEFTLAB_CACHE: path.join(tmp, "cache"),
      PEFTLAB_THREADS: "1",
    };
    const r = spawnSync("bash", [script, "start"], { env, encoding: "utf8" });
    assert.equal(r.status, 0, `slurm-local.sh start failed:\n${r.stdout}\n${r.stderr}`);
    env.SLURM_CONF = path.join(tmp, "cluster", "slurm.conf");
  });
  after(function () {
    if (why) return;
    // Stop the cluster in every case, even when start or a test failed.
    const r = spawnSync("bash", [script, "stop"], { env, encoding: "utf8" });
    if (r.status !== 0) console.error(r.stdout, r.stderr);
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it("sweep-tiny runs as an array; a cancelled task shows failed, reruns alone, and results has 4 rows", async () => {
    const out = path.join(tmp, "sweep");
    const store = new SweepStore(out);
    // 1. Submit and follow (--wait), while cancelling task 0 as soon as its run has started.
    const first = cliProcess(["sweep", "run", sweepFile, "--executor", "slurm", "--out", out, "--wait", "--json"], env);
    await until("sweep.json", 60000, () => store.exists());
    const id0 = store.manifest().runs[0].id;
    await until("task 0's run to start", 120000, () => fs.existsSync(path.join(out, "claims", `${id0}.lock`)));
    const job = JSON.parse(fs.readFileSync(path.join(out, "slurm", "jobs.jsonl"), "utf8").split("\n")[0]).job as string;
    const sc = spawnSync("scancel", [`${job}_0`], { env, encoding: "utf8" });
    assert.equal(sc.status, 0, sc.stderr);
    const r1 = await first;
    assert.equal(r1.code, 1, `a failed run makes --wait exit 1\n${r1.err}`);
    const s1 = JSON.parse(r1.out);
    assert.equal(s1.job, job);
    assert.deepEqual(s1.counts, { done: 3, running: 0, failed: 1, queued: 0, pending: 0 });
    const failed = s1.runs.find((r: { state: string }) => r.state === "failed");
    assert.equal(failed.id, id0);
    assert.match(failed.failure.reason, /SIGTERM|CANCELLED/);
    assert.match(failed.failure.logTail, /peftlab|train/, "the failure carries its log tail");

    // 2. status shows the same, with the log tail.
    const st = await cliProcess(["sweep", "status", out], env);
    assert.match(st.out, new RegExp(`${id0}\\s+failed`));
    assert.match(st.out, /--- failed/);

    // 3. A second run submits only the cancelled task; the others are not rerun.
    const doneBefore = s1.runs
      .filter((r: { state: string }) => r.state === "done")
      .map((r: { id: string }) => r.id) as string[];
    const mtimes = doneBefore.map((id) => fs.statSync(path.join(store.runDir(id), "summary.json")).mtimeMs);
    const r2 = await cliProcess(
      ["sweep", "run", out, "--executor", "slurm", "--wait", "--retry-failed", "--json"],
      env,
    );
    assert.equal(r2.code, 0, r2.err);
    const s2 = JSON.parse(r2.out);
    assert.deepEqual(s2.started, [id0]);
    assert.equal(fs.readFileSync(path.join(out, "slurm", "submit-001.ids"), "utf8").trim(), id0);
    assert.equal(s2.counts.done, 4);
    const starts = startsById(store);
    for (const id of doneBefore) assert.equal(starts.get(id), 1, `run ${id} ran once`);
    assert.equal(starts.get(id0), 2);
    assert.deepEqual(
      doneBefore.map((id) => fs.statSync(path.join(store.runDir(id), "summary.json")).mtimeMs),
      mtimes,
    );

    // 4. One record per grid point.
    const res = await cliProcess(["sweep", "results", out, "--json"], env);
    const rows = JSON.parse(res.out) as Record<string, unknown>[];
    assert.equal(rows.length, 4);
    const points = rows.map((r) => `${r["training.optimizer.lr"]}/${r.seed}`).sort();
    assert.deepEqual(points, ["0.001/0", "0.001/1", "0.01/0", "0.01/1"]);
  });
});
