/**
 * The display demo notebook (Plotly, Arquero table, image grid, live dashboard, tensor repr, heatmap) headless,
 * both through peftlab's runner (no Python) and through real Jupyter's nbconvert where Debian's packages exist.
 * Saved outputs must hold JSON values as objects, and the live dashboard must end as one final output.
 */
import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { runNotebook } from "../../kernel-ext";

const ROOT = path.resolve(__dirname, "..", "..");
const DEMO = path.join(ROOT, "test", "kernel", "fixtures", "display_demo.ipynb");

interface Output {
  output_type: string;
  data?: Record<string, unknown>;
}
interface Cell {
  cell_type: string;
  source: string | string[];
  outputs?: Output[];
  execution_count?: number | null;
}

const src = (c: Cell) => (Array.isArray(c.source) ? c.source.join("") : c.source);
/** nbformat may store a text MIME value as a list of lines. */
const text = (v: unknown): string | undefined =>
  Array.isArray(v) ? v.join("") : typeof v === "string" ? v : undefined;

/** The checks both ways of running must satisfy. */
function checkOutputs(cells: Cell[], how: string): void {
  const code = cells.filter((c) => c.cell_type === "code");
  const all = code.flatMap((c) => c.outputs ?? []);
  assert.equal(all.filter((o) => o.output_type === "error").length, 0, `${how}: no errors`);
  code.forEach((c, i) => assert.equal(c.execution_count, i + 1, `${how}: execution count of code cell ${i}`));
  const plotly = all.filter((o) => o.data && "application/vnd.plotly.v1+json" in o.data);
  assert.ok(plotly.length >= 2, `${how}: the line chart and the heatmap`);
  for (const o of plotly) {
    const fig = o.data!["application/vnd.plotly.v1+json"] as { data?: unknown };
    assert.equal(typeof fig, "object", `${how}: Plotly JSON is an object, not a string`);
    assert.ok(Array.isArray(fig.data), `${how}: figure has data traces`);
    assert.ok(text(o.data!["text/html"])?.includes("<script"), `${how}: offline HTML fallback with plotly.js inlined`);
  }
  assert.ok(
    all.some((o) => /<table/.test(text(o.data?.["text/html"]) ?? "")),
    `${how}: Arquero table HTML`,
  );
  assert.ok(
    all.some((o) => (text(o.data?.["image/png"]) ?? "").length > 100),
    `${how}: image grid PNG`,
  );
  const dash = code.find((c) => src(c).includes("TrainingDashboard"));
  assert.ok(dash, "dashboard cell present");
  const dashOuts = (dash.outputs ?? []).filter(
    (o) => o.output_type === "display_data" || o.output_type === "execute_result",
  );
  assert.equal(dashOuts.length, 1, `${how}: the live dashboard ends as a single output (got ${dashOuts.length})`);
}

describe("display demo notebook, headless", function () {
  this.timeout(10 * 60 * 1000);

  it("runs through peftlab run-notebook with rich outputs as JSON objects", async () => {
    const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "peftlab-demo-")), "demo.ipynb");
    const r = await runNotebook({ input: DEMO, output: out, parameters: { n: 6 } });
    assert.ok(r.ok, `cell ${r.failedCell} failed: ${r.error?.ename}: ${r.error?.evalue}`);
    const saved = JSON.parse(fs.readFileSync(out, "utf8")) as { cells: Cell[] };
    checkOutputs(saved.cells, "run-notebook");
    assert.ok(
      saved.cells.some((c) => src(c).includes("n = 6")),
      "injected parameters cell",
    );
  });

  it("runs through jupyter nbconvert --execute (Debian's Jupyter) with rich outputs as JSON objects", function () {
    const py = process.env.PEFTLAB_JUPYTER_PYTHON ?? "/usr/bin/python3";
    if (spawnSync(py, ["-c", "import nbconvert, nbclient"], { stdio: "ignore" }).status !== 0) this.skip();
    const cli = path.join(ROOT, "dist", "lib", "cli", "main.js");
    if (!fs.existsSync(cli)) this.skip(); // reason: needs `npm run build` (npm test builds first)
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "peftlab-demo-nbc-"));
    const inst = spawnSync(process.execPath, [cli, "kernel", "install", "--prefix", tmp, "--python", py], {
      encoding: "utf8",
    });
    assert.equal(inst.status, 0, inst.stderr);
    const r = spawnSync(
      py,
      [
        "-m",
        "jupyter",
        "nbconvert",
        "--to",
        "notebook",
        "--execute",
        DEMO,
        "--output-dir",
        tmp,
        "--ExecutePreprocessor.timeout=300",
        "--ExecutePreprocessor.kernel_name=peftlab",
      ],
      { encoding: "utf8", env: { ...process.env, JUPYTER_PATH: path.join(tmp, "share", "jupyter") } },
    );
    assert.equal(r.status, 0, r.stderr.slice(-2000));
    const saved = JSON.parse(fs.readFileSync(path.join(tmp, "display_demo.ipynb"), "utf8")) as { cells: Cell[] };
    checkOutputs(saved.cells, "nbconvert");
  });
});
