#!/usr/bin/env node
// Checks peftlab's layering (part of `npm run lint`): dependency-cruiser with the rules in .dependency-cruiser.cjs over
// lib/ and kernel-ext/, plus the notebooks' imports (code cells of notebooks/*.ipynb and notebooks/src/*.nbsrc may
// import "peftlab", packages and node: builtins, never a path). Prints one line per violation, naming the rule, and
// exits 1 when there is any.
//
//   node scripts/lint-deps.mjs [ROOT]     # ROOT defaults to the repository (the lint test passes a temp copy)
//
// dependency-cruiser's own CLI refuses Node 20 (its engines field says ^22); its API, used here, runs on Node 20.
import * as fs from "node:fs";
import { createRequire } from "node:module";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { cruise } from "dependency-cruiser";
import extractTSConfig from "dependency-cruiser/config-utl/extract-ts-config";

const here = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const root = path.resolve(process.argv[2] ?? here);
const config = createRequire(path.join(root, "package.json"))(path.join(root, ".dependency-cruiser.cjs"));

const problems = [];

// 1. lib/ and kernel-ext/ through dependency-cruiser (paths relative to root, as the rules expect).
process.chdir(root);
const result = await cruise(
  ["lib", "kernel-ext"],
  { ...config.options, validate: true, ruleSet: { forbidden: config.forbidden } },
  undefined,
  { tsConfig: extractTSConfig(path.join(root, "tsconfig.json")) },
);
const byName = new Map(config.forbidden.map((r) => [r.name, r]));
for (const v of result.output.summary.violations) {
  const r = byName.get(v.rule.name);
  problems.push(`${v.rule.severity} ${v.rule.name}: ${v.from} → ${v.to}${r?.comment ? `\n    (${r.comment})` : ""}`);
}

// 2. Notebooks: dependency-cruiser cannot read .ipynb, so their imports are listed here.
const NOTEBOOK_RULE = "notebooks-import-only-the-public-entry";
const specifiers = (code) =>
  [...code.matchAll(/\bfrom\s+["']([^"']+)["']|\bimport\s*\(?\s*["']([^"']+)["']|\brequire\(\s*["']([^"']+)["']/g)].map(
    (m) => m[1] ?? m[2] ?? m[3],
  );
const notebookSources = [];
for (const dir of ["notebooks", "notebooks/src"]) {
  if (!fs.existsSync(dir)) continue;
  for (const f of fs.readdirSync(dir).sort()) {
    const file = path.join(dir, f);
    if (f.endsWith(".ipynb")) {
      const nb = JSON.parse(fs.readFileSync(file, "utf8"));
      const code = (nb.cells ?? []).filter((c) => c.cell_type === "code");
      notebookSources.push([file, code.map((c) => [c.source].flat().join("")).join("\n")]);
    } else if (f.endsWith(".nbsrc")) notebookSources.push([file, fs.readFileSync(file, "utf8")]);
  }
}
for (const [file, code] of notebookSources) {
  for (const s of specifiers(code)) {
    if (s.startsWith(".") || s.startsWith("/") || s.startsWith("peftlab/"))
      problems.push(
        `error ${NOTEBOOK_RULE}: ${file} → ${s}\n    (notebooks import lib only as "peftlab", the public entry lib/index.ts)`,
      );
  }
}

if (problems.length > 0) {
  console.error(problems.join("\n"));
  console.error(`\nlint-deps: ${problems.length} layering violation(s); see docs/ARCHITECTURE.md and .dependency-cruiser.cjs`);
  process.exit(1);
}
console.log(
  `lint-deps: ${result.output.summary.totalCruised} modules and ${notebookSources.length} notebook sources keep the layering`,
);
