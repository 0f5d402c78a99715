import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";
import { resolveRunConfig } from "../../lib/experiments/run_config";
import { runModelSpec } from "../../lib/experiments/run_models";

/** Every docs/examples run config is valid as written: no unknown keys, a known model id, a held-out test split. */
const DIR = path.join(__dirname, "..", "..", "docs", "examples");

describe("docs/examples run configs", () => {
  // sweep-*.json are sweep files (a base run config + a grid); test/experiments/sweep plans and runs them.
  const files = fs.readdirSync(DIR).filter((f) => f.endsWith(".json") && !f.startsWith("sweep-"));
  it("there are examples", () => assert.ok(files.length >= 5, files.join(", ")));
  for (const f of files) {
    it(`${f} resolves without warnings, names a registry model and holds out a test split`, () => {
      const warnings: string[] = [];
      const cfg = resolveRunConfig(JSON.parse(fs.readFileSync(path.join(DIR, f), "utf8")), {
        warn: (m) => warnings.push(m),
      });
      assert.deepEqual(warnings, []);
      assert.equal(cfg.name, path.basename(f, ".json"));
      assert.ok(runModelSpec(cfg.model.id).size > 0);
      assert.equal(cfg.data.split.kind, "stratified");
      if (cfg.data.split.kind === "stratified") assert.ok(cfg.data.split.fractions.test > 0);
    });
  }
});
