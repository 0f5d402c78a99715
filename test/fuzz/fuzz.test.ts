import { strict as assert } from "node:assert";
import { formatCampaign, runCampaign } from "./campaign";
import { TARGETS } from "./targets";

/**
 * The CI fuzz budget: every parser, PEFTLAB_FUZZ_CASES cases (default 2,000) from a fixed seed, each within its time
 * limit and memory budget, in a worker process. `npm run fuzz -- --cases N --seed S` runs bigger campaigns.
 */
describe("fuzz: every parser ends in success or a typed error", function () {
  this.timeout(15 * 60_000);
  it(`${process.env.PEFTLAB_FUZZ_CASES ?? 2000} seeded cases over ${TARGETS.length} parsers: no untyped error, hang, crash or runaway allocation`, async () => {
    const cases = Number(process.env.PEFTLAB_FUZZ_CASES ?? 2000);
    const seed = Number(process.env.PEFTLAB_FUZZ_SEED ?? 20261207);
    const r = await runCampaign({
      cases,
      seed,
      timeoutMs: 10_000,
      memBudgetMiB: 768,
      outDir: process.env.PEFTLAB_FUZZ_OUT,
    });
    console.log(formatCampaign(r));
    for (const t of TARGETS) {
      const c = r.perTarget[t.name];
      // Every target ran, including its path faults (directory, missing, FIFO, empty) and some mutations.
      assert.ok(
        c.ok + c.typed + c.untyped + c.hang + c.crash + c.memory >= Math.min(8, Math.floor(cases / TARGETS.length)),
        t.name,
      );
    }
    assert.deepEqual(
      r.failures.map(
        (f) => `${f.target} case ${f.index} [${f.ops.join("+")}] ${f.outcome}: ${f.error?.split("\n")[0]}`,
      ),
      [],
    );
  });

  it("the harness detects each failure kind: untyped error, hang, native crash, runaway allocation", async () => {
    const r = await runCampaign({
      cases: 4,
      seed: 1,
      timeoutMs: 5000,
      memBudgetMiB: 128,
      mutationsOnly: true,
      only: ["planted-untyped", "planted-hang", "planted-crash", "planted-memory"],
    });
    assert.deepEqual(
      r.failures.map((f) => [f.target, f.outcome]),
      [
        ["planted-untyped", "untyped"],
        ["planted-hang", "hang"],
        ["planted-crash", "crash"],
        ["planted-memory", "memory"],
      ],
    );
  });
});
