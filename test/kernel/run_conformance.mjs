#!/usr/bin/env node
// Kernel conformance: installs the peftlab kernelspec into a temporary JUPYTER_PATH, runs test/kernel/test_kernel.py
// from a temporary folder outside the repository
// (jupyter_kernel_test's KernelTests plus peftlab's own protocol checks) with Debian's python, and writes
// dist/.kernel-stats.json = {passed, failed, skipped} for scripts/run-tests.mjs. Without Jupyter it prints
// "skipped: …" and writes zeros.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const statsFile = path.join(root, "dist", ".kernel-stats.json");
const argv = process.argv.slice(2);
const pyIdx = argv.indexOf("--python");
const python = pyIdx >= 0 ? argv[pyIdx + 1] : process.env.PEFTLAB_JUPYTER_PYTHON || "/usr/bin/python3";
const only = argv.filter((a, i) => !a.startsWith("--") && argv[i - 1] !== "--python");

function write(stats) {
  mkdirSync(path.dirname(statsFile), { recursive: true });
  writeFileSync(statsFile, JSON.stringify(stats));
}
function skip(why) {
  console.log(`kernel conformance skipped: ${why}`);
  write({ passed: 0, failed: 0, skipped: 0 });
  process.exit(0);
}

const probe = spawnSync(python, ["-c", "import jupyter_client, jupyter_kernel_test"], { encoding: "utf8" });
if (probe.error) skip(`${python} not found (${probe.error.code})`);
if (probe.status !== 0) {
  skip(
    `${python} lacks jupyter_client or jupyter_kernel_test; install them with ` +
      "apt-get install jupyter-client python3-jupyter-client python3-jupyter-kernel-test",
  );
}
const entry = path.join(root, "dist/kernel-ext/main.js");
if (!existsSync(entry)) {
  console.error(`kernel conformance: ${entry} missing - run npm run build first`);
  write({ passed: 0, failed: 1, skipped: 0 });
  process.exit(1);
}

// The kernelspec goes into a throwaway data dir that only this run's JUPYTER_PATH sees.
const tmp = mkdtempSync(path.join(os.tmpdir(), "peftlab-conformance-"));
const kdir = path.join(tmp, "kernels", "peftlab");
mkdirSync(kdir, { recursive: true });
const { buildKernelSpec } = await import(path.join(root, "dist/lib/jupyter/kernelspec.js"));
writeFileSync(path.join(kdir, "kernel.json"), JSON.stringify(buildKernelSpec({ entry }), null, 2));
// Python imports the tests from test/kernel, but runs in a folder outside the repository: the kernel starts there, as
// for a user's own notebook, so `import "peftlab"` and the prelude must resolve without the repository's node_modules.
const work = path.join(tmp, "work");
mkdirSync(work);
const env = {
  ...process.env,
  JUPYTER_PATH: tmp,
  JUPYTER_RUNTIME_DIR: path.join(tmp, "runtime"),
  PYTHONDONTWRITEBYTECODE: "1",
  PYTHONPATH: [path.join(root, "test/kernel"), process.env.PYTHONPATH].filter(Boolean).join(path.delimiter),
};

const t0 = Date.now();
const r = spawnSync(python, ["-m", "unittest", "-v", ...(only.length ? only : ["test_kernel"])], {
  cwd: work,
  env,
  encoding: "utf8",
  timeout: 600_000,
});
rmSync(tmp, { recursive: true, force: true });
const out = `${r.stdout ?? ""}${r.stderr ?? ""}`;
process.stdout.write(
  out
    .split("\n")
    .filter((l) => / \.\.\. |^(FAIL|ERROR):|^Ran |^OK|^FAILED|Error|assert/.test(l))
    .join("\n") + "\n",
);

// unittest's summary: "Ran N tests", then "OK (skipped=S)" or "FAILED (failures=F, errors=E, skipped=S)".
const ran = Number(/Ran (\d+) tests?/.exec(out)?.[1] ?? NaN);
const num = (k) => Number(new RegExp(`${k}=(\\d+)`).exec(out.slice(out.lastIndexOf("Ran ")))?.[1] ?? 0);
if (!Number.isFinite(ran)) {
  console.error(`kernel conformance: could not parse unittest output (exit ${r.status})\n${out.slice(-3000)}`);
  write({ passed: 0, failed: 1, skipped: 0 });
  process.exit(1);
}
// Failing subtests are counted by unittest as failures on top of their test: clamp so passed never goes negative.
const failed = num("failures") + num("errors") + num("unexpected successes");
const skipped = num("skipped");
const passed = Math.max(
  0,
  ran -
    skipped -
    (/^FAIL: |^ERROR: /m.test(out)
      ? new Set(out.match(/^(?:FAIL|ERROR): (\w+)/gm).map((s) => s.split(" ")[1])).size
      : 0),
);
write({ passed, failed, skipped });
console.log(
  `kernel conformance: ${passed} passed, ${failed} failed, ${skipped} skipped (${((Date.now() - t0) / 1000).toFixed(1)} s)`,
);
process.exit(failed === 0 && r.status === 0 ? 0 : 1);
