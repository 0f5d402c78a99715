/**
 * The notebook experience in a real browser: Debian's Jupyter Notebook 6 with the peftlab kernel (installed into a
 * temporary JUPYTER_PATH), driven by puppeteer-core in Debian's chromium. Runs test/browser/fixtures/browser_demo.ipynb
 * (every display kind, a live progress display, a compile error, a runtime error) and asserts on the DOM. A screenshot
 * is saved to ci-artifacts/browser-notebook.png. Skipped (with the reason) where chromium or Jupyter Notebook is missing.
 */
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { Browser, Page } from "puppeteer-core";
import { buildKernelSpec, kernelEntry } from "../../lib/jupyter/kernelspec";
import { freePort, jupyterAvailable, startNotebookServer, type NotebookServer } from "./jupyter_server";

const ROOT = path.resolve(__dirname, "../..");
const CHROMIUM = process.env.PEFTLAB_CHROMIUM ?? "/usr/bin/chromium";
const PYTHON = process.env.PEFTLAB_JUPYTER_PYTHON ?? "/usr/bin/python3";
const FIXTURE = path.join(__dirname, "fixtures", "browser_demo.ipynb");
const ARTIFACTS = path.join(ROOT, "ci-artifacts");

/** Index of each fixture cell, by id. */
const CELLS = (JSON.parse(fs.readFileSync(FIXTURE, "utf8")) as { cells: { id: string }[] }).cells.map((c) => c.id);
const cellIndex = (id: string): number => CELLS.indexOf(id);

interface CellState {
  prompt: string;
  running: boolean;
  outputs: number;
  text: string;
  html: string;
}

/** What the DOM shows for one cell (prompt text with non-breaking spaces normalised). */
async function cellState(page: Page, i: number): Promise<CellState> {
  return page.evaluate((idx: number) => {
    const el = document.querySelectorAll(".cell")[idx] as HTMLElement;
    const area = el.querySelector(".output");
    return {
      prompt: (el.querySelector(".input_prompt")?.textContent ?? "").replace(/\u00a0/g, " ").trim(),
      running: el.classList.contains("running"),
      outputs: area ? area.querySelectorAll(":scope > .output_area").length : 0,
      text: (area?.textContent ?? "").trim(),
      html: area?.innerHTML ?? "",
    };
  }, i);
}

async function waitFor(what: string, timeoutMs: number, check: () => Promise<boolean>): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

describe("Jupyter Notebook in chromium with the peftlab kernel", function () {
  this.timeout(240_000);
  let tmp = "";
  let kernelLog = "";
  let server: NotebookServer | undefined;
  let browser: Browser | undefined;
  let page: Page;
  const pageErrors: string[] = [];
  const t0 = Date.now();

  before(async function () {
    const missing = !fs.existsSync(CHROMIUM)
      ? `${CHROMIUM} missing (apt-get install chromium; .ci/run does)`
      : !jupyterAvailable(PYTHON)
        ? `${PYTHON} cannot import notebook (apt-get install jupyter-notebook)`
        : "";
    if (missing) {
      console.log(`      browser test skipped: ${missing}`);
      return this.skip();
    }
    if (!fs.existsSync(kernelEntry(ROOT))) throw new Error("dist/kernel-ext/main.js missing: npm run build");
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "peftlab-browser-"));
    const kdir = path.join(tmp, "share", "kernels", "peftlab");
    fs.mkdirSync(kdir, { recursive: true });
    fs.writeFileSync(path.join(kdir, "kernel.json"), JSON.stringify(buildKernelSpec({ entry: kernelEntry(ROOT) })));
    const work = path.join(tmp, "work");
    fs.mkdirSync(work);
    fs.copyFileSync(FIXTURE, path.join(work, "browser_demo.ipynb"));
    kernelLog = path.join(tmp, "kernel-debug.log");
    server = await startNotebookServer({
      python: PYTHON,
      tmp,
      notebookDir: work,
      port: await freePort(),
      env: { PEFTLAB_KERNEL_DEBUG: kernelLog },
    });
    const puppeteer = await import("puppeteer-core");
    browser = await puppeteer.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"],
      // Tall: Notebook scrolls inside #site, so the screenshot shows what fits the viewport.
      defaultViewport: { width: 1280, height: 3000 },
    });
    page = await browser.newPage();
    page.on("pageerror", (e) => pageErrors.push(String(e)));
    await page.goto(`${server.url}/notebooks/browser_demo.ipynb?token=${server.token}`, { waitUntil: "load" });
    // Notebook 6 globals: the kernel is connected once kernel_info came back.
    await page.waitForFunction(
      () => {
        const J = (window as unknown as { Jupyter?: { notebook?: { kernel?: { info_reply?: { status?: string } } } } })
          .Jupyter;
        return J?.notebook?.kernel?.info_reply?.status === "ok";
      },
      { timeout: 120_000 },
    );
  });

  after(async () => {
    try {
      if (page && ARTIFACTS) {
        fs.mkdirSync(ARTIFACTS, { recursive: true });
        await page.screenshot({ path: path.join(ARTIFACTS, "browser-notebook.png"), fullPage: true }).catch(() => {});
      }
    } finally {
      await browser?.close().catch(() => {});
      await server?.stop();
      if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
      if (server) console.log(`      (browser test: ${((Date.now() - t0) / 1000).toFixed(1)} s in all)`);
    }
  });

  it("the notebook connects once the kernel is warm (kernel_info after the prelude and warm-up cell)", () => {
    const lines = fs.readFileSync(kernelLog, "utf8").split("\n");
    const warm = lines.findIndex((l) => /^first cell warm at \d+ ms/.test(l));
    const answered = lines.findIndex((l) => /^kernel_info answered at \d+ ms/.test(l));
    assert.ok(warm >= 0 && answered > warm, lines.join("\n"));
  });

  it("Shift+Tab inside `fn(` right after start shows the signature", async () => {
    // A new cell at the bottom, cursor after the parenthesis, Shift+Tab: Notebook's tooltip asks inspect_request.
    await page.evaluate(() => {
      const nb = (window as unknown as { Jupyter: { notebook: NotebookApi } }).Jupyter.notebook;
      const cell = nb.insert_cell_at_bottom("code");
      cell.set_text("peftlab.loraScaling(");
      nb.select(nb.ncells() - 1);
      nb.edit_mode();
      cell.code_mirror.setCursor({ line: 0, ch: 20 });
      cell.code_mirror.focus();
    });
    await page.keyboard.down("Shift");
    await page.keyboard.press("Tab");
    await page.keyboard.up("Shift");
    await waitFor("the tooltip", 90_000, async () =>
      page.evaluate(() => (document.querySelector("#tooltip .tooltiptext")?.textContent ?? "").includes("loraScaling")),
    );
    const tip = await page.evaluate(() => document.querySelector("#tooltip .tooltiptext")?.textContent ?? "");
    assert.match(tip, /loraScaling\(/);
    assert.doesNotMatch(tip.trim(), /^any$/);
    await page.keyboard.press("Escape");
    await page.evaluate(() => {
      const nb = (window as unknown as { Jupyter: { notebook: NotebookApi } }).Jupyter.notebook;
      nb.delete_cells([nb.ncells() - 1]);
      nb.command_mode();
    });
  });

  it("Run All: displays render, the live display updates in place, errors stop the rest unnumbered", async () => {
    const live = cellIndex("live");
    // Record, inside the page, every state the live cell's output passes through (a MutationObserver sees each one,
    // however slowly this test polls on a busy machine).
    await page.evaluate((idx: number) => {
      const el = document.querySelectorAll(".cell")[idx] as HTMLElement;
      const log: { running: boolean; outputs: number; text: string }[] = [];
      (window as unknown as { __liveLog: typeof log }).__liveLog = log;
      const area = el.querySelector(".output") as HTMLElement;
      new MutationObserver(() =>
        log.push({
          running: el.classList.contains("running"),
          outputs: area.querySelectorAll(":scope > .output_area").length,
          text: (area.textContent ?? "").trim(),
        }),
      ).observe(area, { childList: true, subtree: true, characterData: true });
    }, live);
    await page.evaluate(() =>
      (window as unknown as { Jupyter: { notebook: NotebookApi } }).Jupyter.notebook.execute_all_cells(),
    );
    const compile = cellIndex("compile_error");
    await waitFor("the compile error", 150_000, async () =>
      (await cellState(page, compile)).text.includes("CompileError"),
    );
    await waitFor("the kernel to go idle", 60_000, async () =>
      page.evaluate(() => document.querySelectorAll(".cell.running").length === 0),
    );

    const backend = await cellState(page, cellIndex("backend"));
    assert.match(backend.text, /\[peftlab\] backend/, "the prelude's backend note shows in the first cell");
    assert.doesNotMatch(backend.text, /'cpu'/, "tf.getBackend() is not cpu");
    assert.doesNotMatch(backend.html, /output_stderr/, "nothing on stderr (no banner, no red backend line)");

    const plotOk = await page.evaluate((i: number) => {
      const el = document.querySelectorAll(".cell")[i];
      return !!el.querySelector(".js-plotly-plot svg.main-svg");
    }, cellIndex("plot"));
    assert.ok(plotOk, "the Plotly chart rendered (.js-plotly-plot with an SVG)");

    const rows = await page.evaluate(
      (i: number) => document.querySelectorAll(".cell")[i].querySelectorAll(".output table tbody tr").length,
      cellIndex("table"),
    );
    assert.equal(rows, 5, "the Arquero table has its 5 rows");

    const grid = await page.evaluate(
      (i: number) => document.querySelectorAll(".cell")[i].querySelectorAll(".output img, .output svg").length,
      cellIndex("grid"),
    );
    assert.ok(grid >= 1, "the image grid shows");

    const liveEnd = await cellState(page, live);
    const liveLog = await page.evaluate(
      () => (window as unknown as { __liveLog: { running: boolean; outputs: number; text: string }[] }).__liveLog,
    );
    const whileRunning = new Set(liveLog.filter((e) => e.running && e.text !== "").map((e) => e.text));
    assert.ok(whileRunning.size >= 2, `the live display updated while running (saw ${whileRunning.size} states)`);
    assert.ok(
      liveLog.every((e) => e.outputs <= 1),
      "the live display never showed more than one output",
    );
    assert.equal(liveEnd.outputs, 1, "the live display ended as one output");
    assert.match(liveEnd.text, /done in/);

    const c = await cellState(page, compile);
    assert.match(c.prompt, /^In \[\d+\]:$/);
    for (const id of ["runtime_error", "after"]) {
      const s = await cellState(page, cellIndex(id));
      assert.equal(s.prompt, "In [ ]:", `skipped cell ${id} stays unnumbered`);
      assert.equal(s.outputs, 0);
    }
  });

  it("a runtime error run on its own shows its traceback; no page errors", async () => {
    const i = cellIndex("runtime_error");
    await page.evaluate((idx: number) => {
      const nb = (window as unknown as { Jupyter: { notebook: NotebookApi } }).Jupyter.notebook;
      nb.get_cell(idx).execute();
    }, i);
    await waitFor("the runtime error", 60_000, async () => {
      const st = await cellState(page, i);
      return st.text.includes("RangeError") && !st.running;
    });
    const s = await cellState(page, i);
    assert.match(s.text, /boom at runtime/);
    assert.match(s.prompt, /^In \[\d+\]:$/);
    await page.evaluate(() => window.scrollTo(0, 0));
    assert.deepEqual(pageErrors, []);
  });
});

/** The parts of Notebook 6's JS API the test calls. */
interface NotebookApi {
  insert_cell_at_bottom(type: string): {
    set_text(s: string): void;
    code_mirror: { setCursor(p: { line: number; ch: number }): void; focus(): void };
  };
  ncells(): number;
  select(i: number): void;
  edit_mode(): void;
  command_mode(): void;
  delete_cells(i: number[]): void;
  execute_all_cells(): void;
  get_cell(i: number): { execute(): void };
}
