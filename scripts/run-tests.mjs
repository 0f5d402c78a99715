#!/usr/bin/env node
// Runs every mocha test (TypeScript through tsx) and, where Debian's Jupyter is installed, the kernel conformance
// suite; prints `tests: N passed, N failed` as the last line and exits non-zero on any failure.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
process.chdir(root);
if (!process.env.PEFTLAB_SHARED && existsSync(path.resolve(root, "../shared"))) {
  process.env.PEFTLAB_SHARED = path.resolve(root, "../shared");
}
const extra = process.argv.slice(2);
let passed = 0;
let failed = 0;

// 1. mocha, with a JSON summary written beside the human spec output.
const statsFile = path.join(root, "dist", ".mocha-stats.json");
const mocha = spawnSync(
  process.execPath,
  [path.join(root, "node_modules/mocha/bin/mocha.js"), "--config", path.join(root, ".mocharc.cjs"), ...extra],
  { stdio: "inherit", env: { ...process.env, PEFTLAB_MOCHA_STATS: statsFile } },
);
try {
  const { readFileSync } = await import("node:fs");
  const s = JSON.parse(readFileSync(statsFile, "utf8"));
  passed += s.passes;
  failed += s.failures;
} catch {
  failed += 1;
  console.error("mocha did not write its summary (crashed?) - counted as one failure");
}
if (mocha.status !== 0 && failed === 0) failed += 1;

// 2. The Jupyter kernel conformance suite (test/kernel/test_kernel.py), where Debian's packages are installed.
const py = process.env.PEFTLAB_JUPYTER_PYTHON || "/usr/bin/python3";
const kernelTest = path.join(root, "test/kernel/run_conformance.mjs");
if (extra.length === 0 && existsSync(kernelTest)) {
  const r = spawnSync(process.execPath, [kernelTest, "--python", py], { stdio: ["ignore", "inherit", "inherit"] });
  try {
    const { readFileSync } = await import("node:fs");
    const k = JSON.parse(readFileSync(path.join(root, "dist", ".kernel-stats.json"), "utf8"));
    passed += k.passed;
    failed += k.failed;
  } catch {
    if (r.status !== 0) failed += 1;
  }
}

console.log(`tests: ${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
