/**
 * The kernel's TypeScript worker (kernel-ext/remote_converter.ts, ts_worker.ts) against tslab's converter in this
 * thread: the same cells give the same compiled output, declarations and diagnostics, through both, including a
 * prelude the worker compiled ahead of the request.
 */
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { createConverter, type Converter, type ConvertResult } from "tslab/dist/converter";
import { RemoteConverter, tsWorkerEnabled } from "../../kernel-ext/remote_converter";

const PRELUDE = `import * as fs from "fs";\nconst answer: number = 42;\nconst greet = (who: string): string => "hi " + who;\n`;

/** Cells run in order, each against the declarations the previous one left (as tslab's executor does). */
const CELLS: { name: string; src: string; errors: boolean }[] = [
  { name: "an expression using the prelude", src: "greet(String(answer))", errors: false },
  { name: "a type error", src: 'const n: number = "x";', errors: true },
  { name: "an unknown name", src: "missingName + 1", errors: true },
  { name: "a top-level await", src: "const v = await Promise.resolve(answer);", errors: false },
  { name: "a later cell using the await's result", src: "v.toFixed(1)", errors: false },
  { name: "node's types from the prelude's import", src: "fs.existsSync('/')", errors: false },
];

/** What must match between the two converters (sourceMap-free, plain data). */
function essence(r: ConvertResult): unknown {
  return {
    output: r.output,
    declOutput: r.declOutput,
    hasToplevelAwait: r.hasToplevelAwait ?? false,
    lastExpressionVar: r.lastExpressionVar,
    diagnostics: r.diagnostics.map((d) => ({ start: d.start, end: d.end, text: d.messageText, code: d.code })),
  };
}

/** Runs the prelude and the cells; returns each result's essence. */
function session(conv: Converter): unknown[] {
  const out: unknown[] = [];
  let prev = "";
  for (const src of [PRELUDE, ...CELLS.map((c) => c.src)]) {
    const r = conv.convert(prev, src);
    out.push(essence(r));
    if (r.diagnostics.length === 0) prev = r.declOutput ?? "";
  }
  return out;
}

describe("kernel TypeScript worker (RemoteConverter)", function () {
  this.timeout(600_000);
  const cwd = fs.mkdtempSync(path.join(os.tmpdir(), "peftlab-tsworker-"));
  const home = process.cwd();
  let local: unknown[];
  let remote: RemoteConverter;
  let remoteOut: unknown[];

  before(async () => {
    process.chdir(cwd); // tslab's converter compiles relative to the working directory, as in a kernel
    try {
      const c = createConverter({ isBrowser: false });
      local = session(c);
      c.close();
      remote = new RemoteConverter({ rootDir: cwd, prelude: PRELUDE });
      remote.start();
      await remote.warmed;
      assert.equal(remote.failure, "");
      remoteOut = session(remote);
    } finally {
      process.chdir(home);
    }
  });
  after(() => {
    remote?.close();
    fs.rmSync(cwd, { recursive: true, force: true });
  });

  it("compiles the prelude ahead to the same result as a fresh compile", () => {
    assert.deepEqual(remoteOut[0], local[0]);
    assert.equal((local[0] as { diagnostics: unknown[] }).diagnostics.length, 0);
  });

  for (const [i, cell] of CELLS.entries()) {
    it(`${cell.name}: same output, declarations and diagnostics as in-thread`, () => {
      const got = remoteOut[i + 1] as { diagnostics: unknown[] };
      assert.deepEqual(got, local[i + 1]);
      assert.equal(got.diagnostics.length > 0, cell.errors, JSON.stringify(got.diagnostics));
    });
  }

  it("answers quick info and completions with the prelude's types", () => {
    const decl = (local[0] as { declOutput: string }).declOutput;
    const info = remote.inspect(decl, "greet", 2) as { displayParts?: { text: string }[] } | undefined;
    const text = (info?.displayParts ?? []).map((p) => p.text).join("");
    assert.match(text, /greet: \(who: string\) => string/);
    const done = remote.complete(decl, "ans", 3);
    assert.ok(done.candidates.includes("answer"), done.candidates.slice(0, 10).join(","));
  });

  it("a worker that stopped before it was warm reports it, and calls throw instead of hanging", async () => {
    const gone = new RemoteConverter({ rootDir: cwd, prelude: PRELUDE });
    gone.close();
    await gone.warmed;
    assert.match(gone.failure, /exit code/);
    assert.throws(() => gone.convert("", "1"), /TypeScript worker stopped/);
  });

  it("PEFTLAB_KERNEL_TS_WORKER turns the worker off", () => {
    const table: [string | undefined, boolean][] = [
      [undefined, true],
      ["1", true],
      ["0", false],
      ["off", false],
      [" False ", false],
    ];
    for (const [v, want] of table)
      assert.equal(tsWorkerEnabled(v === undefined ? {} : { PEFTLAB_KERNEL_TS_WORKER: v }), want, String(v));
  });
});
