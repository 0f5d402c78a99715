#!/usr/bin/env node
// `npm run notebooks`: executes every curated notebook at SCALE=ci with the headless runner (no Python needed),
// writing executed copies and HTML reports under notebooks/.executed/. Stops at the first failing cell.
import { spawnSync } from "node:child_process";
import { mkdirSync, readdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const dir = path.join(root, "notebooks");
const out = path.join(dir, ".executed");
mkdirSync(out, { recursive: true });
const only = process.argv.slice(2);
const books = readdirSync(dir)
  .filter((f) => /^\d\d-.*\.ipynb$/.test(f))
  .filter((f) => only.length === 0 || only.some((o) => f.startsWith(o)))
  .sort();
let failed = 0;
for (const f of books) {
  const t0 = Date.now();
  const base = f.replace(/\.ipynb$/, "");
  const r = spawnSync(
    process.execPath,
    [path.join(root, "dist/lib/cli/main.js"), "run-notebook", path.join(dir, f), "-p", "SCALE=ci", "--out", path.join(out, f), "--html", path.join(out, `${base}.html`), "-q"],
    { stdio: "inherit", cwd: root },
  );
  const s = ((Date.now() - t0) / 1000).toFixed(1);
  console.log(`${r.status === 0 ? "ok  " : "FAIL"} ${f} (${s} s)`);
  if (r.status !== 0) failed++;
}
console.log(`notebooks: ${books.length - failed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
