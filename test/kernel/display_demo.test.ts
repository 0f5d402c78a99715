/**
 * Runs test/kernel/fixtures/display_demo.ipynb headless through the peftlab kernel: with `peftlab run-notebook` always,
 * and with Debian's `jupyter nbconvert --execute` when /usr/bin/python3 has nbconvert. Needs `npm run build` (the
 * kernel runs from dist/, as Jupyter starts it).
 */
import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { buildKernelSpec } from "../../lib/jupyter/kernelspec";
import type { Notebook, NotebookOutput } from "../../lib/jupyter/runner/notebook";
import { runNotebook } from "../../lib/jupyter/runner/run";
import { PLOTLY_MIME } from "../../lib/display";

const root = path.resolve(__dirname, "../..");
const fixture = path.join(root, "test/kernel/fixtures/display_demo.ipynb");
const PY = process.env.PEFTLAB_JUPYTER_PYTHON ?? "/usr/bin/python3";

const byId = (nb: Notebook, id: string) => {
  const c = nb.cells.find((x) => x.id === id);
  assert.ok(c, `cell ${id}`);
  return c.outputs ?? [];
};
const rich = (outs: NotebookOutput[]) =>
  outs.filter((o) => o.output_type === "display_data" || o.output_type === "execute_result") as Extract<
    NotebookOutput,
    { data: unknown }
  >[];

/** The checks both ways must pass: JSON objects (not strings) and a single final dashboard output. */
function checkDemo(nb: Notebook): void {
  const plot = rich(byId(nb, "plot"))[0];
  assert.equal(typeof plot.data[PLOTLY_MIME], "object", "plotly JSON stored as an object");
  assert.equal((plot.data[PLOTLY_MIME] as { data: unknown[] }).data.length, 1);
  const html = (v: unknown) => (Array.isArray(v) ? v.join("") : String(v));
  assert.match(html(plot.data["text/html"]), /<script type="text\/javascript">/, "plotly.js inline for offline HTML");
  assert.match(html(rich(byId(nb, "table"))[0].data["text/html"]), /45 rows × 2 columns/);
  assert.ok(typeof rich(byId(nb, "grid"))[0].data["image/png"] === "string");
  const dash = rich(byId(nb, "dashboard"));
  assert.equal(dash.length, 1, "the live display ends as one output");
  const state = dash[0].data["application/json"] as { finished: boolean; done: number; total: number };
  assert.equal(typeof state, "object");
  assert.deepEqual([state.finished, state.done, state.total], [true, 20, 20]);
  assert.match(html(rich(byId(nb, "tensor"))[0].data["text/plain"]), /Tensor \[2, 2\] float32 min=1 max=4 mean=2\.5/);
  assert.ok(nb.cells.filter((c) => c.cell_type === "code").every((c) => typeof c.execution_count === "number"));
  // tslab's display API goes through the kernel's sink: one HTML output, and a newDisplay() updated in place.
  const tslab = rich(byId(nb, "tslab"));
  assert.equal(tslab.length, 2);
  assert.equal(html(tslab[0].data["text/html"]), "<b>tslab html</b>");
  assert.equal(html(tslab[1].data["text/plain"]), "step 2");
  // The first cell carries the prelude's backend choice as a quiet display, and nothing on stderr.
  const first = byId(nb, "params");
  assert.match(html(rich(first)[0]?.data["text/plain"]), /^\[peftlab\] backend \w+/);
  assert.ok(!first.some((o) => o.output_type === "stream"), "no stderr (no red backend line, no tfjs banner)");
}

describe("display demo notebook, headless", function () {
  this.timeout(300_000);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "peftlab-demo-"));
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it("runs with peftlab run-notebook (no Python), parameters injected, HTML report offline", async () => {
    const out = path.join(tmp, "run.ipynb");
    const html = path.join(tmp, "run.html");
    const r = await runNotebook({ input: fixture, output: out, html, parameters: { n: 6 } });
    assert.ok(r.ok, JSON.stringify(r.error));
    const nb = JSON.parse(fs.readFileSync(out, "utf8")) as Notebook;
    assert.equal(nb.nbformat_minor, 5);
    const injected = nb.cells.findIndex((c) => c.metadata.tags?.includes("injected-parameters"));
    assert.equal(nb.cells[injected - 1].metadata.tags?.[0], "parameters");
    assert.match(String(nb.cells[injected].source), /const n = 6;/);
    checkDemo(nb);
    assert.match(String(rich(byId(nb, "grid"))[0].data["text/plain"]), /6 of 6 images/);
    const report = fs.readFileSync(html, "utf8");
    assert.equal(report.split("plotly.js v").length - 1, 1, "plotly.js inlined exactly once");
    assert.ok(!/<script[^>]*\ssrc=/.test(report), "no external scripts");
  });

  it("exits non-zero at the first failing cell, naming it", () => {
    const r = spawnSync(
      process.execPath,
      [
        path.join(root, "dist/lib/cli/main.js"),
        "run-notebook",
        path.join(root, "test/kernel/fixtures/failing.ipynb"),
        "--out",
        path.join(tmp, "fail.ipynb"),
        "-q",
      ],
      { encoding: "utf8" },
    );
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /cell 1 failed: RangeError: planned failure/);
    assert.match(r.stderr, /--> 2 \|   throw new RangeError/);
    const nb = JSON.parse(fs.readFileSync(path.join(tmp, "fail.ipynb"), "utf8")) as Notebook;
    assert.equal(nb.cells[1].outputs?.[0].output_type, "error");
    assert.equal(nb.cells[2].execution_count, null, "later cells do not run");
  });

  it("runs with jupyter nbconvert --execute (Debian Jupyter)", function () {
    const probe = spawnSync(PY, ["-c", "import nbconvert, nbclient"], { encoding: "utf8" });
    if (probe.error || probe.status !== 0) {
      console.log(
        `      skipped: ${PY} has no nbconvert/nbclient (apt-get install jupyter-nbconvert python3-nbclient)`,
      );
      this.skip();
    }
    const kdir = path.join(tmp, "jupyter", "kernels", "peftlab");
    fs.mkdirSync(kdir, { recursive: true });
    fs.writeFileSync(path.join(kdir, "kernel.json"), JSON.stringify(buildKernelSpec()));
    fs.copyFileSync(fixture, path.join(tmp, "demo.ipynb"));
    const r = spawnSync(
      PY,
      [
        "-m",
        "nbconvert",
        "--to",
        "notebook",
        "--execute",
        "demo.ipynb",
        "--output",
        "nbc.ipynb",
        "--ExecutePreprocessor.timeout=600",
        "--ExecutePreprocessor.kernel_name=peftlab",
      ],
      {
        cwd: tmp,
        encoding: "utf8",
        env: { ...process.env, JUPYTER_PATH: path.join(tmp, "jupyter") },
      },
    );
    assert.equal(r.status, 0, r.stderr.slice(-3000));
    checkDemo(JSON.parse(fs.readFileSync(path.join(tmp, "nbc.ipynb"), "utf8")) as Notebook);
  });
});
