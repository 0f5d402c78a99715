#!/usr/bin/env node
// Builds notebooks/NN-*.ipynb from notebooks/src/NN-*.nbsrc (cells separated by `%% md`, `%% code` or
// `%% code parameters` lines). The .ipynb files are what users open and what CI runs; they are written with outputs
// cleared (execution_count null) and stable cell ids; language_info is what the kernel (kernel-ext/server.ts)
// reports. Usage: node notebooks/src/build.mjs [--check] [NAME ...]; --check writes nothing and exits 1 naming
// every notebook that differs from what its source builds (the tests run it).
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const check = process.argv.includes("--check");
const want = process.argv.slice(2).filter((a) => a !== "--check");
const stale = [];
const files = fs.readdirSync(here).filter((f) => f.endsWith(".nbsrc") && (want.length === 0 || want.some((w) => f.startsWith(w))));
for (const f of files) {
  const name = f.replace(/\.nbsrc$/, "");
  const lines = fs.readFileSync(path.join(here, f), "utf8").split("\n");
  const cells = [];
  let cur = null;
  const flush = () => {
    if (!cur) return;
    while (cur.lines.length && cur.lines[cur.lines.length - 1].trim() === "") cur.lines.pop();
    while (cur.lines.length && cur.lines[0].trim() === "") cur.lines.shift();
    const source = cur.lines.map((l, i) => (i < cur.lines.length - 1 ? `${l}\n` : l));
    const id = createHash("sha1").update(`${name}:${cells.length}`).digest("hex").slice(0, 8);
    const cell = { cell_type: cur.type, id, metadata: cur.tags.length ? { tags: cur.tags } : {}, source };
    if (cur.type === "code") Object.assign(cell, { execution_count: null, outputs: [] });
    cells.push(cell);
  };
  for (const l of lines) {
    const m = /^%% (md|code)(?: (.*))?$/.exec(l);
    if (m) {
      flush();
      cur = { type: m[1] === "md" ? "markdown" : "code", tags: m[2] ? m[2].split(/\s+/) : [], lines: [] };
    } else if (cur) cur.lines.push(l);
  }
  flush();
  const nb = {
    cells,
    metadata: {
      kernelspec: { name: "peftlab", display_name: "TypeScript (peftlab)", language: "typescript" },
      language_info: { name: "typescript", file_extension: ".ts", mimetype: "text/typescript" },
    },
    nbformat: 4,
    nbformat_minor: 5,
  };
  const out = path.join(here, "..", `${name}.ipynb`);
  const text = `${JSON.stringify(nb, null, 1)}\n`;
  if (check) {
    if (!fs.existsSync(out) || fs.readFileSync(out, "utf8") !== text) stale.push(`${name}.ipynb`);
    continue;
  }
  fs.writeFileSync(out, text);
  console.log(`wrote notebooks/${name}.ipynb (${cells.length} cells)`);
}
if (check && want.length === 0) {
  const sources = new Set(files.map((f) => f.replace(/\.nbsrc$/, ".ipynb")));
  for (const nb of fs.readdirSync(path.join(here, ".."))) {
    if (nb.endsWith(".ipynb") && !sources.has(nb)) stale.push(`${nb} (no source)`);
  }
}
if (check && stale.length) {
  console.error(`out of date with notebooks/src: ${stale.join(", ")}; run node notebooks/src/build.mjs`);
  process.exit(1);
}
