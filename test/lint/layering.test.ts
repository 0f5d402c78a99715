/**
 * `npm run lint`'s layering check (scripts/lint-deps.mjs with .dependency-cruiser.cjs): passes on the tree, and on a
 * temp copy with wrong-way imports injected it fails with one line per import naming the rule it breaks. The real
 * tree is never modified.
 */
import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

const ROOT = path.resolve(__dirname, "../..");
const SCRIPT = path.join(ROOT, "scripts/lint-deps.mjs");

function lintDeps(root: string): { status: number | null; out: string } {
  const r = spawnSync(process.execPath, [SCRIPT, root], { encoding: "utf8" });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

/** file (relative to the root), the line appended to it, the rule that must reject it, and the resolved target. */
const INJECTED: [string, string, string, string][] = [
  ["lib/io/npy.ts", 'import "../train";', "io-is-a-leaf", "lib/train/index.ts"],
  ["lib/nn/module.ts", 'import "../peft";', "nn-and-models-never-import-peft-or-train", "lib/peft/index.ts"],
  ["lib/models/vit.ts", 'import "../train";', "nn-and-models-never-import-peft-or-train", "lib/train/index.ts"],
  ["lib/metrics/compute.ts", 'import "../models";', "metrics-is-a-leaf", "lib/models/index.ts"],
  [
    "kernel-ext/kernel.ts",
    'import "../lib/io/atomic";',
    "kernel-ext-imports-only-the-public-entry",
    "lib/io/atomic.ts",
  ],
  [
    "lib/cli/commands/run_notebook.ts",
    'import "../../../kernel-ext/main";',
    "lib-never-imports-kernel-ext",
    "kernel-ext/main.ts",
  ],
  ["lib/peft/index.ts", 'import "../train";', "peft-never-imports-train", "lib/train/index.ts"],
  [
    "notebooks/src/00-lora-from-scratch.nbsrc",
    'import { ConfigError } from "../../lib/errors";',
    "notebooks-import-only-the-public-entry",
    "../../lib/errors",
  ],
];

describe("layering lint (scripts/lint-deps.mjs, dependency-cruiser)", function () {
  this.timeout(300000);

  it("passes on the repository", () => {
    const r = lintDeps(ROOT);
    assert.equal(r.status, 0, r.out);
    assert.match(r.out, /keep the layering/);
  });

  it("fails on each injected wrong-way import, naming its rule (on a temp copy)", () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "peftlab-lint-"));
    try {
      for (const p of ["lib", "kernel-ext", "notebooks"])
        fs.cpSync(path.join(ROOT, p), path.join(tmp, p), { recursive: true });
      for (const f of ["package.json", "tsconfig.json", ".dependency-cruiser.cjs"])
        fs.copyFileSync(path.join(ROOT, f), path.join(tmp, f));
      for (const [file, line] of INJECTED) fs.appendFileSync(path.join(tmp, file), `\n${line}\n`);
      const r = lintDeps(tmp);
      assert.equal(r.status, 1, r.out);
      for (const [file, , rule, to] of INJECTED) {
        const want = `error ${rule}: ${file} → ${to}`;
        assert.ok(r.out.includes(want), `expected "${want}" in:\n${r.out}`);
      }
      const count = (r.out.match(/^error /gm) ?? []).length;
      assert.equal(count, INJECTED.length, `one violation per injected import:\n${r.out}`);
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });
});
