#!/usr/bin/env node
// `npm run demo`: the quickstart notebook (00-lora-from-scratch) headless at CI scale on the embedded default
// (real PBC cytology + the pretrained MobileNetV2-0.35). Uses $PEFTLAB_SHARED or ../shared when present; otherwise
// fetches the same real data and weights first (`peftlab data quickstart`). Writes the executed notebook and an HTML
// report under notebooks/.executed/ and prints the results table.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const cli = path.join(root, "dist/lib/cli/main.js");
const run = (args, env = process.env) => {
  const r = spawnSync(process.execPath, [cli, ...args], { stdio: "inherit", env, cwd: root });
  if (r.status !== 0) process.exit(r.status ?? 1);
};

const hasAssets = (dir) =>
  dir && existsSync(path.join(dir, "data/pbc-jpeg")) && existsSync(path.join(dir, "weights/mobilenet_v2_035_224_tfjs/model.json"));
let shared = process.env.PEFTLAB_SHARED || path.resolve(root, "../shared");
if (!hasAssets(shared)) {
  shared = path.join(root, ".peftlab-cache/quickstart");
  console.log(`[demo] no shared data found; fetching the quickstart's real data and weights into ${shared}`);
  run(["data", "quickstart", "--dest", shared]);
}
const env = { ...process.env, PEFTLAB_SHARED: shared };
const nb = "00-lora-from-scratch";
const outDir = path.join(root, "notebooks/.executed");
mkdirSync(outDir, { recursive: true });
const out = path.join(outDir, `${nb}.ipynb`);
const html = path.join(outDir, `${nb}.html`);
console.log(`[demo] running notebooks/${nb}.ipynb at SCALE=ci (PEFTLAB_SHARED=${shared})`);
run(["run-notebook", path.join(root, "notebooks", `${nb}.ipynb`), "-p", "SCALE=ci", "--out", out, "--html", html, "-q"], env);

// The notebook's last cell prints its results table as Markdown; show it here.
const cells = JSON.parse(readFileSync(out, "utf8")).cells.filter((c) => c.cell_type === "code");
const last = cells[cells.length - 1];
const text = (last?.outputs ?? [])
  .filter((o) => o.output_type === "stream" && o.name === "stdout")
  .map((o) => (Array.isArray(o.text) ? o.text.join("") : o.text))
  .join("");
console.log(`\n${text.trim()}\n`);
console.log(`[demo] executed notebook: ${path.relative(root, out)}`);
console.log(`[demo] HTML report:       ${path.relative(root, html)}`);
