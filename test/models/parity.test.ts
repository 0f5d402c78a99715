/**
 * Every ViT case of the shared reference manifest through the same battery, on cpu and wasm: parity at 1e-4,
 * save → load → save gives byte-identical safetensors, strict loading rejects a missing key and a wrong shape, and
 * the parameter count equals the fixture's tensor sizes. Table-driven: a new manifest case needs no code.
 */
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";
import { CheckpointError } from "../../lib/errors";
import { hostTensor } from "../../lib/io/host_tensor";
import { readSafetensors, writeSafetensors } from "../../lib/io/safetensors";
import { buildFromJson } from "../../lib/models/builders";
import { readWeightsFile, stateDictSize } from "../../lib/models/create";
import {
  checkParity,
  LORA_PLACEHOLDER_HANDLER,
  MODEL_CASE_HANDLER,
  readManifest,
  type ManifestCase,
} from "../../lib/models/parity";
import { convertStateDict, detectNaming } from "../../lib/models/convert";
import { hasShared, sharedPath } from "../../lib/paths";
import { runCli } from "../../lib/cli/main";
import { describeBackends } from "../helpers/backends";
import { tmpDir } from "../helpers/tmp";

const MANIFEST = sharedPath("fixtures", "reference", "manifest.json");
const DIR = path.dirname(MANIFEST);
const VIT_CASES: ManifestCase[] = hasShared()
  ? readManifest(MANIFEST).cases.filter((c) => c.arch === "vit" && !LORA_PLACEHOLDER_HANDLER.matches(c))
  : [];

/** The case's weights in timm names (what the model's stateDict must reproduce). */
function canonicalWeights(c: ManifestCase) {
  return convertStateDict(readWeightsFile(path.join(DIR, c.weights))).stateDict;
}

describe("ViT reference cases", () => {
  it("the shared manifest has the five ViT cases", function () {
    if (!hasShared()) this.skip();
    assert.deepEqual(VIT_CASES.map((c) => c.name).sort(), [
      "vit_dinov2_reg",
      "vit_dinov2_timm",
      "vit_gap_fcnorm",
      "vit_hf",
      "vit_timm",
    ]);
  });
});

describeBackends("ViT parity battery", () => {
  for (const c of VIT_CASES) {
    describe(c.name, () => {
      it("logits and features within 1e-4 of PyTorch", async () => {
        const row = await MODEL_CASE_HANDLER.run(c, { dir: DIR, tol: 1e-4 });
        assert.equal(row.status, "ok", row.detail);
        assert.ok(row.logitsErr !== null && row.logitsErr <= 1e-4, `logits ${row.logitsErr}`);
        assert.ok(row.featuresErr !== null && row.featuresErr <= 1e-4, `features ${row.featuresErr}`);
      });

      it("save → load → save gives byte-identical files, equal to the converted fixture", () => {
        const dir = tmpDir("peftlab-parity-");
        const a = buildFromJson(c, 1);
        const b = buildFromJson(c, 2);
        try {
          const ref = canonicalWeights(c);
          a.loadStateDict(ref);
          writeSafetensors(path.join(dir, "a.safetensors"), a.stateDict());
          b.loadStateDict(readSafetensors(path.join(dir, "a.safetensors")).tensors);
          writeSafetensors(path.join(dir, "b.safetensors"), b.stateDict());
          const bytesA = fs.readFileSync(path.join(dir, "a.safetensors"));
          assert.ok(bytesA.equals(fs.readFileSync(path.join(dir, "b.safetensors"))));
          writeSafetensors(path.join(dir, "ref.safetensors"), ref);
          assert.ok(
            bytesA.equals(fs.readFileSync(path.join(dir, "ref.safetensors"))),
            "stateDict differs from the fixture",
          );
          const fixture = path.join(DIR, c.weights);
          if (detectNaming(readWeightsFile(fixture)) === "timm") {
            assert.ok(bytesA.equals(fs.readFileSync(fixture)), "saved file differs from PyTorch's file byte for byte");
          }
        } finally {
          a.dispose();
          b.dispose();
          fs.rmSync(dir, { recursive: true, force: true });
        }
      });

      it("strict loading rejects a missing key and a wrong shape", () => {
        const m = buildFromJson(c, 0);
        try {
          const sd = canonicalWeights(c);
          const missing = new Map(sd);
          missing.delete("blocks.0.attn.qkv.weight");
          assert.throws(
            () => m.loadStateDict(missing),
            (e: unknown) =>
              e instanceof CheckpointError && /Missing key\(s\).*blocks\.0\.attn\.qkv\.weight/.test(e.message),
          );
          const wrong = new Map(sd);
          const w = sd.get("head.weight")!;
          wrong.set(
            "head.weight",
            hostTensor(new Float32Array((w.shape[0] + 1) * w.shape[1]), [w.shape[0] + 1, w.shape[1]]),
          );
          assert.throws(
            () => m.loadStateDict(wrong),
            (e: unknown) => e instanceof CheckpointError && /size mismatch for head\.weight/.test(e.message),
          );
        } finally {
          m.dispose();
        }
      });

      it("parameter count equals the sum of the fixture's tensor sizes", () => {
        const m = buildFromJson(c, 0);
        try {
          assert.equal(m.numParameters(), stateDictSize(readWeightsFile(path.join(DIR, c.weights))));
        } finally {
          m.dispose();
        }
      });
    });
  }
});

describe("check-parity", () => {
  it("reports LoRA cases as skipped and every ViT case ok (cpu)", async function () {
    if (!hasShared()) this.skip();
    const out: string[] = [];
    const code = await runCli(["check-parity", MANIFEST, "--backend", "cpu", "--json"], {
      out: (s) => out.push(s),
      err: () => {},
    });
    const report = JSON.parse(out.join("")) as { rows: { case: string; status: string; detail?: string }[] };
    for (const c of VIT_CASES) assert.equal(report.rows.find((r) => r.case === c.name)?.status, "ok", c.name);
    const lora = report.rows.filter((r) => r.case === "vit_lora");
    if (lora.length && lora[0].status === "skipped") assert.match(lora[0].detail ?? "", /lib\/peft/);
    const bad = report.rows.filter((r) => r.status === "fail" || r.status === "error");
    assert.equal(code, bad.length ? 1 : 0);
  });

  it("exits 1 when a case is over tolerance or cannot run, and prints one row per case", async function () {
    if (!hasShared()) this.skip();
    const dir = tmpDir("peftlab-parity-");
    try {
      const c = VIT_CASES[0];
      const cases = [
        { ...c, weights: path.join(DIR, c.weights), io: path.join(DIR, c.io) },
        { ...c, name: "broken", weights: path.join(DIR, "does_not_exist.safetensors"), io: path.join(DIR, c.io) },
      ];
      const file = path.join(dir, "manifest.json");
      fs.writeFileSync(file, JSON.stringify({ cases }));
      const report = await checkParity(file, { tol: 0 });
      assert.equal(report.rows[0].status, "fail");
      assert.equal(report.rows[1].status, "error");
      assert.equal(report.ok, false);
      const out: string[] = [];
      const code = await runCli(["check-parity", file, "--tol", "0", "--backend", "cpu"], {
        out: (s) => out.push(s),
        err: () => {},
      });
      assert.equal(code, 1);
      const text = out.join("");
      assert.match(text, new RegExp(`${c.name}\\s+vit\\s+\\d\\.\\d+e-\\d+\\s+\\d\\.\\d+e-\\d+\\s+fail`));
      assert.match(text, /broken\s+vit\s+-\s+-\s+error/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
