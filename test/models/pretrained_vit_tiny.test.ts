/**
 * The real ImageNet ViT-Ti/16 of $PEFTLAB_SHARED/weights against real timm 1.0.29 (fixtures/pretrained), on every
 * test backend: the manifest's cases within 1e-4 (the check-parity CLI exits 0), the one-call loader and the registry
 * give the same model, its eval transform comes from the pretrained cfg (bicubic, crop 0.9, mean = std = 0.5) and
 * reproduces timm's preprocessing of the fixture's JPEGs, and a smaller input resamples pos_embed.
 */
import { strict as assert } from "node:assert";
import * as path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { runCli } from "../../lib/cli/main";
import { DataLoader } from "../../lib/data/loader";
import type { ImageDataset } from "../../lib/data/types";
import { ConfigError } from "../../lib/errors";
import { MODEL_CASE_HANDLER, nchwToTensor, readCaseIo, readManifest } from "../../lib/models/parity";
import {
  createPretrained,
  loadSharedVitTiny,
  pretrainedWeightsPath,
  VIT_TINY_ID,
} from "../../lib/models/pretrained_load";
import { getPretrainedCfg } from "../../lib/models/registry";
import { hasShared, sharedPath } from "../../lib/paths";
import { resolveRunConfig } from "../../lib/experiments/run_config";
import { runTransform } from "../../lib/experiments/run_data";
import { runModelSpec } from "../../lib/experiments/run_models";
import { describeBackends, maxAbsDiff } from "../helpers/backends";

const MANIFEST = sharedPath("fixtures", "pretrained", "manifest.json");
const DIR = path.dirname(MANIFEST);
const CASES = hasShared() ? readManifest(MANIFEST).cases : [];

describe("ViT-Ti/16 registry entry", () => {
  it("names the hub original, its licence, the inferred origin and the timm eval transform", () => {
    const c = getPretrainedCfg(VIT_TINY_ID);
    assert.equal(c.hubId, "timm/vit_tiny_patch16_224.augreg_in21k_ft_in1k");
    assert.equal(c.file, "model.safetensors");
    assert.equal(c.license, "apache-2.0");
    assert.match(c.notes ?? "", /inferred, not proven/);
    assert.deepEqual([c.interpolation, c.cropPct, c.mean, c.std], ["bicubic", 0.9, [0.5, 0.5, 0.5], [0.5, 0.5, 0.5]]);
    const spec = runModelSpec(VIT_TINY_ID);
    const cfg = resolveRunConfig(
      {
        model: { id: VIT_TINY_ID },
        data: { source: { kind: "imageFolder", path: "/x" }, transform: { normalize: "model" } },
        method: { kind: "logreg", C: "auto" },
      },
      { warn: () => undefined },
    );
    // timm: Resize(floor(224 / 0.9) = 248, bicubic) → CenterCrop(224) → Normalize(0.5, 0.5).
    assert.deepEqual(runTransform(cfg, spec, false), {
      size: 224,
      resize: 248,
      normalize: { mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] },
      augment: undefined,
    });
  });

  it("without a shared copy or a download, loading is a ConfigError naming `weights get`", () => {
    assert.throws(
      () =>
        pretrainedWeightsPath(VIT_TINY_ID, { env: { PEFTLAB_SHARED: "/nonexistent" }, downloadRoot: "/nonexistent" }),
      (e: unknown) =>
        e instanceof ConfigError && /peftlab weights get vit_tiny_patch16_224\.augreg_in21k_ft_in1k/.test(e.message),
    );
  });
});

describeBackends("real pretrained ViT-Ti/16 vs timm", (backend) => {
  before(function () {
    if (!hasShared()) this.skip();
  });

  it("the pretrained manifest has the ViT-Ti case, within 1e-4 on logits and features", async () => {
    assert.deepEqual(
      CASES.map((c) => c.name),
      ["vit_tiny_augreg"],
    );
    for (const c of CASES) {
      const row = await MODEL_CASE_HANDLER.run(c, { dir: DIR, tol: 1e-4 });
      assert.equal(row.status, "ok", row.detail);
      assert.ok(row.logitsErr !== null && row.logitsErr <= 1e-4, `logits ${row.logitsErr}`);
      assert.ok(row.featuresErr !== null && row.featuresErr <= 1e-4, `features ${row.featuresErr}`);
    }
  });

  it("`peftlab check-parity` on the pretrained manifest exits 0", async () => {
    const out: string[] = [];
    const code = await runCli(["check-parity", MANIFEST, "--backend", backend, "--json"], {
      out: (s) => out.push(s),
      err: () => undefined,
    });
    const report = JSON.parse(out.join("")) as { rows: { case: string; status: string }[] };
    assert.deepEqual(
      report.rows.map((r) => [r.case, r.status]),
      [["vit_tiny_augreg", "ok"]],
    );
    assert.equal(code, 0);
  });

  it("loadSharedVitTiny() is the manifest's model in one call; its eval transform reproduces timm's input", async () => {
    const c = CASES[0];
    const io = readCaseIo(c, DIR);
    const model = loadSharedVitTiny();
    const x = nchwToTensor(io.input); // [4, 224, 224, 3]
    const logits = model.forward(x); // [4, 1000]
    assert.ok(maxAbsDiff(logits, io.logits.data as Float32Array) <= 1e-4);
    // Our own decode → resize 248 (bicubic) → crop 224 → normalise, of the same JPEGs.
    const spec = runModelSpec(VIT_TINY_ID);
    const inputs = (c.inputs as string[]).map((p) => sharedPath(p));
    const ds: ImageDataset = {
      name: "fixture",
      classes: ["x"],
      task: "multiclass",
      items: inputs.map((p, i) => ({ id: String(i), path: p, label: 0 })),
    };
    const cfg = resolveRunConfig(
      {
        model: { id: VIT_TINY_ID },
        data: { source: { kind: "imageFolder", path: "/x" }, transform: { normalize: "model" } },
        method: { kind: "logreg", C: "auto" },
      },
      { warn: () => undefined },
    );
    const dl = new DataLoader(ds, { batchSize: 4, transform: runTransform(cfg, spec, false), augment: false });
    try {
      const b = (await dl.next())!;
      const ours = b.x as tf.Tensor; // [4, 224, 224, 3]
      const ref = x;
      // sharp's Catmull-Rom vs PIL's bicubic: the same filter, different rounding: small pixel differences.
      const meanErr = tf.tidy(() => tf.mean(tf.abs(tf.sub(ours, ref))).dataSync()[0]);
      assert.ok(meanErr < 0.02, `mean |Δ| ${meanErr} in normalised units`);
      const top = tf.tidy(() => tf.argMax(model.forward(ours), 1).dataSync());
      const refTop = tf.tidy(() => tf.argMax(logits, 1).dataSync());
      assert.deepEqual(Array.from(top), Array.from(refTop));
      b.dispose();
    } finally {
      await dl.close();
      tf.dispose([x, logits]);
      model.dispose();
    }
  });

  it("a 112-px ViT-Ti resamples pos_embed bicubically and takes a new head", () => {
    const m = createPretrained(VIT_TINY_ID, { imgSize: 112, numClasses: 8, log: () => undefined });
    try {
      assert.deepEqual(m.stateDict().get("pos_embed")!.shape, [1, 1 + 7 * 7, 192]);
      const y = tf.tidy(() => m.forward(tf.zeros([2, 112, 112, 3])));
      assert.deepEqual(y.shape, [2, 8]);
      y.dispose();
    } finally {
      m.dispose();
    }
  });
});
