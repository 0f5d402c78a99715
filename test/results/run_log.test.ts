/** lib/results run log: append/read, torn last line, corrupt lines, resumable sweeps, stable run keys. */
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { ConfigError, DataError } from "../../lib/errors";
import { appendRun, readRuns, runKey, runSweep, stableStringify, type RunBody } from "../../lib/results";
import { body } from "./make_records";

describe("results: run log", function () {
  let dir = "";
  let warnings: string[] = [];
  const warn = (m: string): void => {
    warnings.push(m);
  };
  beforeEach(function () {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "peftlab-runlog-"));
    warnings = [];
  });
  afterEach(function () {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("appends one JSON line per record and reads them back in order", function () {
    const f = path.join(dir, "sub", "runs.jsonl");
    assert.deepEqual(readRuns(f, warn), []);
    const a = { id: "a", ...body("lora", 1) };
    const b = { id: "b", ...body("lora", 2) };
    appendRun(f, a, warn);
    appendRun(f, b, warn);
    const text = fs.readFileSync(f, "utf8");
    assert.equal(text.split("\n").length, 3);
    assert.ok(text.endsWith("\n"));
    assert.deepEqual(readRuns(f, warn), [a, b]);
    assert.deepEqual(warnings, []);
  });

  it("ignores a torn last line with a warning, and the next append cuts it off", function () {
    const f = path.join(dir, "runs.jsonl");
    appendRun(f, { id: "a", ...body("lora", 1) }, warn);
    fs.appendFileSync(f, '{"id":"b","config":{"meth'); // a writer killed mid-line
    assert.deepEqual(
      readRuns(f, warn).map((r) => r.id),
      ["a"],
    );
    assert.equal(warnings.length, 1);
    assert.match(warnings[0], /torn last line 2/);
    appendRun(f, { id: "c", ...body("lora", 3) }, warn);
    assert.match(warnings[1], /dropping a torn last line \(\d+ bytes\)/);
    assert.deepEqual(
      readRuns(f, warn).map((r) => r.id),
      ["a", "c"],
    );
    assert.equal(warnings.length, 2);
  });

  it("a corrupt line before the last one is an error naming file:line", function () {
    const f = path.join(dir, "runs.jsonl");
    appendRun(f, { id: "a", ...body("lora", 1) }, warn);
    fs.appendFileSync(f, "not json\n");
    appendRun(f, { id: "b", ...body("lora", 2) }, warn);
    assert.throws(
      () => readRuns(f, warn),
      (e: unknown) => e instanceof DataError && /runs\.jsonl:2/.test(e.message),
    );
    fs.writeFileSync(f, '{"hello":1}\n');
    assert.throws(
      () => readRuns(f, warn),
      (e: unknown) => e instanceof DataError && /Not a run record/.test(e.message),
    );
  });

  it("runKey is stable under key order and changes with any identifying value", function () {
    assert.equal(stableStringify({ b: [1, { d: 2, c: 3 }], a: "x" }), '{"a":"x","b":[1,{"c":3,"d":2}]}');
    assert.equal(runKey({ seed: 1, method: "lora" }), runKey({ method: "lora", seed: 1 }));
    assert.notEqual(runKey({ seed: 1, method: "lora" }), runKey({ seed: 2, method: "lora" }));
    assert.match(runKey({}), /^[0-9a-f]{16}$/);
    assert.throws(() => runKey({ lr: NaN }), DataError);
  });

  it("runSweep resumes: finished runs are skipped, not recomputed", async function () {
    const f = path.join(dir, "sweep.jsonl");
    const specs = [1, 2, 3, 4].map((seed) => ({ method: "lora", seed }));
    const calls: number[] = [];
    const fn = (s: { method: string; seed: number }): RunBody => {
      calls.push(s.seed);
      if (s.seed === 3 && calls.length === 3) throw new Error("killed");
      return body(s.method, s.seed);
    };
    await assert.rejects(
      runSweep(f, specs, (s) => s, fn, { warn }),
      /killed/,
    );
    assert.deepEqual(calls, [1, 2, 3]);
    assert.equal(readRuns(f, warn).length, 2);
    const skipped: string[] = [];
    const all = await runSweep(f, specs, (s) => s, fn, { warn, onSkip: (id) => skipped.push(id) });
    assert.deepEqual(calls, [1, 2, 3, 3, 4]);
    assert.deepEqual(
      all.map((r) => r.seed),
      [1, 2, 3, 4],
    );
    assert.deepEqual(
      all.map((r) => r.id),
      specs.map((s) => runKey(s)),
    );
    assert.deepEqual(skipped, [runKey(specs[0]), runKey(specs[1])]);
    assert.deepEqual(readRuns(f, warn), all);
    await runSweep(f, specs, (s) => s, fn, { warn });
    assert.equal(calls.length, 5, "a complete sweep runs nothing");
  });

  it("runSweep rejects duplicate identities and a foreign id", async function () {
    const f = path.join(dir, "sweep.jsonl");
    await assert.rejects(
      runSweep(
        f,
        [{ s: 1 }, { s: 1 }],
        (s) => s,
        () => body("lora", 1),
      ),
      ConfigError,
    );
    await assert.rejects(
      runSweep(
        f,
        [{ s: 1 }],
        (s) => s,
        () => ({ ...body("lora", 1), id: "other" }),
      ),
      ConfigError,
    );
  });
});
