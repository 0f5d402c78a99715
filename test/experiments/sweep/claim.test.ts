import { strict as assert } from "node:assert";
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { readClaim, staleReason, tryClaim, type ClaimInfo } from "../../../lib/experiments/sweep";

const root = path.resolve(__dirname, "../../..");

/** A child process that tries to claim every id once (in its own order), prints the ids it got, then holds them. */
function racer(dir: string, ids: string[], seed: number): { got: Promise<string[]>; done: () => Promise<void> } {
  const code = `
    const { tryClaim } = require(${JSON.stringify(path.join(root, "lib/experiments/sweep/claim.ts"))});
    const ids = ${JSON.stringify(ids)};
    let s = ${seed};
    const order = ids.map((id) => [id, (s = (s * 1103515245 + 12345) % 2147483648)]).sort((a, b) => a[1] - b[1]);
    const got = [];
    for (const [id] of order) { const c = tryClaim(${JSON.stringify(dir)}, id, { executor: "test" }); if (c) got.push(id); }
    process.stdout.write(JSON.stringify(got) + "\\n");
    process.stdin.resume(); // hold the claims (a dead holder's locks are stale) until the parent closes stdin
  `;
  const p = spawn(process.execPath, ["--require", "tsx/cjs", "-e", code], {
    cwd: root,
    stdio: ["pipe", "pipe", "inherit"],
  });
  const closed = new Promise<void>((resolve, reject) => {
    p.on("error", reject);
    p.on("close", (c) => (c === 0 ? resolve() : reject(new Error(`racer exited ${c}`))));
  });
  const got = new Promise<string[]>((resolve, reject) => {
    let out = "";
    p.stdout.on("data", (d: Buffer) => {
      out += d.toString();
      if (out.endsWith("\n")) resolve(JSON.parse(out) as string[]);
    });
    closed.catch(reject);
  });
  return {
    got,
    done: () => {
      p.stdin.end();
      return closed;
    },
  };
}

describe("sweep claims", function () {
  this.timeout(120000);
  let tmp: string;
  beforeEach(() => (tmp = fs.mkdtempSync(path.join(os.tmpdir(), "peftlab-claim-"))));
  afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it("four processes racing for 40 ids: every id is claimed exactly once", async () => {
    const ids = Array.from({ length: 40 }, (_, i) => `run${String(i).padStart(2, "0")}`);
    const racers = [1, 2, 3, 4].map((s) => racer(tmp, ids, s));
    const got = await Promise.all(racers.map((r) => r.got));
    await Promise.all(racers.map((r) => r.done()));
    const all = got.flat();
    assert.equal(all.length, ids.length, `claims: ${got.map((g) => g.length).join(" + ")}`);
    assert.deepEqual([...all].sort(), ids);
    // The racers exited without releasing, so their locks are stale now (their pids are gone) ...
    const c = readClaim(tmp, "run00");
    assert.ok(c && staleReason(c) !== undefined);
  });

  it("a live claim blocks a second claimant; release frees it", () => {
    const a = tryClaim(tmp, "x", { executor: "local" });
    assert.ok(a);
    assert.equal(tryClaim(tmp, "x", { executor: "local" }), null);
    a.release();
    const b = tryClaim(tmp, "x", { executor: "local" });
    assert.ok(b);
    b.release();
  });

  const staleCases: { name: string; info: Partial<ClaimInfo>; ageMs: number; stale: boolean }[] = [
    { name: "a dead pid on this host", info: { host: os.hostname(), pid: 2 ** 22 + 12345 }, ageMs: 0, stale: true },
    { name: "a live pid on this host", info: { host: os.hostname(), pid: process.pid }, ageMs: 0, stale: false },
    { name: "another host with a fresh heartbeat", info: { host: "node-a17", pid: 1 }, ageMs: 1000, stale: false },
    {
      name: "another host silent for longer than staleMs",
      info: { host: "node-a17", pid: 1 },
      ageMs: 10 * 60_000,
      stale: true,
    },
  ];
  for (const c of staleCases) {
    it(`a lock held by ${c.name} is ${c.stale ? "broken and taken over" : "respected"}`, () => {
      fs.mkdirSync(path.join(tmp, "claims"), { recursive: true });
      const file = path.join(tmp, "claims", "y.lock");
      const info = { id: "y", executor: "slurm", claimedAt: "", token: "t0", host: "", pid: 0, ...c.info };
      fs.writeFileSync(file, JSON.stringify(info));
      const t = new Date(Date.now() - c.ageMs);
      fs.utimesSync(file, t, t);
      let heard: string | undefined;
      const got = tryClaim(tmp, "y", { executor: "local" }, { staleMs: 120_000 }, (_p, why) => (heard = why));
      assert.equal(got !== null, c.stale);
      if (got) {
        assert.ok(heard);
        assert.equal(readClaim(tmp, "y")?.info.token, got.info.token);
        got.release();
        assert.equal(fs.existsSync(file), false);
      } else assert.equal(readClaim(tmp, "y")?.info.token, "t0");
    });
  }

  it("release never removes a lock that another executor took over", () => {
    const a = tryClaim(tmp, "z", { executor: "local" });
    assert.ok(a);
    const file = path.join(tmp, "claims", "z.lock");
    fs.writeFileSync(file, JSON.stringify({ ...a.info, token: "someone-else" }));
    a.release();
    assert.equal(readClaim(tmp, "z")?.info.token, "someone-else");
  });
});
