import { strict as assert } from "node:assert";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { readNotebook } from "../../lib/jupyter/runner/run";
import { readConfigFile } from "../../lib/cli/commands/train";
import { decodeItem } from "../../lib/data/decode";
import { CheckpointError, ConfigError, DataError } from "../../lib/errors";
import { configFromJson } from "../../lib/peft/lora/config_json";
import { readAdapter } from "../../lib/peft/lora/save";
import { bmpHeaderOnly } from "./regression_inputs";

/**
 * Every failure the fuzz campaign found, as a fixed test (seed 1, 300 cases, before the fixes): the JSON, notebook
 * and image readers hung on a FIFO (7 targets: a blocking read never returned), and an adapter_config.json key named
 * "constructor" reached Object.prototype (TypeError: defaults.some is not a function).
 */
describe("fuzz regressions", function () {
  this.timeout(60_000);
  let tmp: string;
  before(() => (tmp = fs.mkdtempSync(path.join(os.tmpdir(), "peftlab-fuzzreg-"))));
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));
  const fifo = (name: string) => {
    const p = path.join(tmp, name);
    execFileSync("mkfifo", [p]);
    return p;
  };

  it("a FIFO given as a run config, notebook or adapter_config.json is a typed error, not a blocked read", () => {
    const cfg = fifo("run.json");
    assert.throws(
      () => readConfigFile(cfg),
      (e: unknown) => e instanceof ConfigError && e.where === cfg && e.got === "a FIFO (named pipe)",
    );
    const nb = fifo("nb.ipynb");
    assert.throws(
      () => readNotebook(nb),
      (e: unknown) => e instanceof ConfigError && e.where === nb,
    );
    const ac = fifo("adapter_config.json");
    assert.throws(
      () => readAdapter({ config: ac, weights: ac }),
      (e: unknown) => e instanceof CheckpointError && e.where === ac,
    );
  });

  for (const ext of [".jpg", ".png", ".bmp", ".dcm"]) {
    it(`a FIFO or a directory given as a ${ext} image is a DataError naming it`, async () => {
      for (const p of [fifo(`img${ext}`), path.join(tmp, `dir${ext}`)]) {
        if (!fs.existsSync(p)) fs.mkdirSync(p);
        await assert.rejects(decodeItem({ id: "x", path: p }), (e: unknown) => e instanceof DataError && e.where === p);
      }
    });
  }

  it('an adapter_config.json key "constructor" (or "__proto__", "toString") is dropped with a warning', () => {
    const warnings: string[] = [];
    const json = JSON.parse('{"r": 4, "lora_alpha": 8, "target_modules": ["qkv"], "constructor": 1, "toString": 2}');
    const o = configFromJson(json, "adapter_config.json", (m) => warnings.push(m));
    assert.equal(o.r, 4);
    assert.match(warnings.join("\n"), /constructor/);
  });

  it("a BMP header asking for 2**31 pixels is refused before bmp-js allocates them", async () => {
    const f = path.join(tmp, "huge.bmp");
    fs.writeFileSync(f, bmpHeaderOnly(65536, 32768));
    await assert.rejects(
      decodeItem({ id: "x", path: f }),
      /Cannot decode BMP image.*at most 268435456 pixels, got 65536 × 32768/,
    );
  });
});
