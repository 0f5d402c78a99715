import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { cli } from "../helpers/cli";
import { hasShared, sharedPath } from "../../lib/paths";

/** The tensor names and shapes in a safetensors header, read straight from the bytes. */
function headerOf(file: string): Record<string, { dtype: string; shape: number[] }> {
  const b = fs.readFileSync(file);
  const h = JSON.parse(b.subarray(8, 8 + Number(b.readBigUInt64LE(0))).toString("utf8"));
  delete h.__metadata__;
  return h;
}

describe("cli", () => {
  let tmp: string;
  before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "peftlab-cli-"));
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  describe("inspect on shared files", function () {
    before(function () {
      if (!hasShared()) this.skip();
    });
    const fixtures = [
      "vit_timm.weights.safetensors",
      "resnet_basic.weights.safetensors",
      "vit_lora.adapter_model.safetensors",
    ];
    for (const name of fixtures) {
      it(`${name}: every tensor with its PyTorch shape, human and --json`, async () => {
        const file = sharedPath("fixtures", "reference", name);
        const header = headerOf(file);
        const human = await cli("inspect", file);
        assert.equal(human.code, 0, human.err);
        for (const [k, h] of Object.entries(header)) {
          const line = human.out.split("\n").find((l) => l.startsWith(`${k} `));
          assert.ok(line, `no row for ${k}`);
          assert.ok(line.includes(`[${h.shape.join(", ")}]`) && line.includes(h.dtype), line);
        }
        const json = await cli("inspect", file, "--json");
        const r = JSON.parse(json.out);
        assert.equal(r.format, "safetensors");
        assert.deepEqual(
          r.entries.map((e: { name: string; shape: number[] }) => [e.name, e.shape]),
          Object.entries(header).map(([k, h]) => [k, h.shape]),
        );
        const params = Object.values(header).reduce((a, h) => a + h.shape.reduce((x, y) => x * y, 1), 0);
        assert.equal(r.totals.numel, params);
        assert.ok(human.out.includes(`${params.toLocaleString("en-US")} params`));
      });
    }

    it("pbc_28.npz: images, labels, file names and classes, with string previews", async () => {
      const file = sharedPath("data", "pbc_28.npz");
      const human = await cli("inspect", file);
      assert.equal(human.code, 0, human.err);
      for (const k of ["train_images", "val_labels", "test_files", "classes"])
        assert.match(human.out, new RegExp(`^${k} `, "m"));
      assert.match(human.out, /^train_images\s+uint8\s+\[11685, 28, 28, 3\]/m);
      assert.match(human.out, /^classes\s+<U12\s+\[8\].*"basophil", "eosinophil"/m);
      const r = JSON.parse((await cli("inspect", file, "--json")).out);
      const byName = Object.fromEntries(r.entries.map((e: { name: string }) => [e.name, e]));
      assert.deepEqual(byName.val_images.shape, [1669, 28, 28, 3]);
      assert.equal(byName.val_images.bytes, 1669 * 28 * 28 * 3);
      assert.deepEqual(byName.test_labels.shape, [3338, 1]);
      assert.equal(byName.train_files.descr, "<U32");
      assert.equal(byName.train_files.preview.length, 3);
    });
  });

  describe("errors", () => {
    it("a corrupt checkpoint prints one clean error line and exits 2", async () => {
      const bad = path.join(tmp, "bad.safetensors");
      fs.writeFileSync(bad, "hello");
      const r = await cli("inspect", bad);
      assert.equal(r.code, 2);
      assert.equal(r.out, "");
      assert.equal(r.err.trimEnd().split("\n").length, 1, r.err);
      assert.match(r.err, /^error: safetensors file is shorter than its 8-byte header length; at .*bad\.safetensors:0/);
    });

    it("an unknown extension is a DataError listing the supported ones", async () => {
      const r = await cli("inspect", path.join(tmp, "x.bin"));
      assert.equal(r.code, 2);
      assert.match(r.err, /error: Unknown file type for inspect.*\.safetensors, \.npz or \.npy/);
    });

    it("an unknown command is a usage error from commander", async () => {
      const r = await cli("frobnicate");
      assert.notEqual(r.code, 0);
      assert.notEqual(r.code, 2);
      assert.match(r.err, /unknown command 'frobnicate'/);
    });
  });

  describe("info", () => {
    it("--json names the backend, threads/SIMD and package versions", async () => {
      const r = await cli("info", "--json", "--backend", "cpu");
      assert.equal(r.code, 0, r.err);
      const j = JSON.parse(r.out);
      assert.equal(j.backend.name, "cpu");
      assert.equal(typeof j.backend.threads, "number");
      assert.equal(typeof j.backend.simd, "boolean");
      assert.equal(j.node, process.version);
      const tfjs = JSON.parse(fs.readFileSync(require.resolve("@tensorflow/tfjs/package.json"), "utf8")).version;
      assert.equal(j.packages["@tensorflow/tfjs"], tfjs);
      for (const p of ["@tensorflow/tfjs-backend-wasm", "tslab", "sharp", "arquero"])
        assert.match(j.packages[p], /^\d+\.\d+\.\d+/);
    });

    it("an invalid --backend is a clean error", async () => {
      const r = await cli("info", "--backend", "cuda9");
      assert.equal(r.code, 2);
      assert.match(r.err, /error: Unknown backend "cuda9"; at --backend/);
    });
  });

  describe("the built binary", function () {
    const main = path.resolve("dist/lib/cli/main.js");
    before(function () {
      this.timeout(300000);
      // `npm test` builds first; when run alone, build so the binary is the current source.
      if (!fs.existsSync(main)) spawnSync("npx", ["tsc", "-p", "tsconfig.json"], { stdio: "inherit" });
    });

    it("has a node shebang, inspects a file, and exits 2 with a clean message on a bad one", function () {
      if (!hasShared()) this.skip();
      assert.ok(fs.readFileSync(main, "utf8").startsWith("#!/usr/bin/env node\n"));
      const ok = spawnSync(process.execPath, [main, "inspect", sharedPath("data", "breastmnist.npz"), "--json"], {
        encoding: "utf8",
      });
      assert.equal(ok.status, 0, ok.stderr);
      assert.deepEqual(
        JSON.parse(ok.stdout).entries.map((e: { name: string }) => e.name),
        ["train_images", "train_labels", "val_images", "val_labels", "test_images", "test_labels"],
      );
      const bad = path.join(tmp, "bad.npz");
      fs.writeFileSync(bad, "not a zip");
      const r = spawnSync(process.execPath, [main, "inspect", bad], {
        encoding: "utf8",
        env: { ...process.env, PEFTLAB_DEBUG: "" },
      });
      assert.equal(r.status, 2);
      assert.match(r.stderr, /^error: Not a zip archive/);
      assert.ok(!r.stderr.includes("    at "), "no stack trace without PEFTLAB_DEBUG=1");
    });
  });
});
