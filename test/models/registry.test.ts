/**
 * The pretrained registry and createModel: every entry's arguments are valid, unverified fields are declared,
 * weights load through conversion, a new class count re-creates the head with a warning, and pos_embed is resampled
 * when the input size differs from the checkpoint's.
 */
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { CheckpointError, ConfigError } from "../../lib/errors";
import { writeSafetensors } from "../../lib/io/safetensors";
import { createModel, loadWeights } from "../../lib/models/create";
import { getPretrainedCfg, listPretrained, PRETRAINED } from "../../lib/models/registry";
import { VisionTransformer } from "../../lib/models/vit";
import { hiddenDim, resolveVitConfig } from "../../lib/models/vit_config";
import { vitOptionsFromJson } from "../../lib/models/vit_json";
import { describeBackends, maxAbsDiff } from "../helpers/backends";

describe("pretrained registry", () => {
  const vits = PRETRAINED.filter((c) => c.arch === "vit");
  for (const c of vits) {
    it(`${c.id}: arguments resolve to a valid ViT config`, () => {
      const warnings: string[] = [];
      const cfg = resolveVitConfig({
        ...vitOptionsFromJson(c.args, (m) => warnings.push(m)),
        numClasses: c.numClasses,
      });
      assert.deepEqual(warnings, []);
      assert.equal(cfg.imgSize, c.inputSize[1]);
      if (cfg.mlpLayer !== "mlp") assert.equal(hiddenDim(cfg) % 2, 0);
      assert.equal(c.mean.length, 3);
    });
  }
  it("covers the papers' models, with gating and unverified fields declared", () => {
    const ids = listPretrained({ arch: "vit" });
    for (const want of [
      "dinov2.lvd142m",
      "reg4_dinov2",
      "uni",
      "phikon",
      "clip",
      "hoptimus0",
      "virchow2",
      "mrm",
      "vit_tiny_ci",
    ]) {
      assert.ok(
        ids.some((i) => i.includes(want)),
        want,
      );
    }
    assert.equal(getPretrainedCfg("vit_large_patch16_224.uni_mass100k").gated, true);
    assert.ok((getPretrainedCfg("vit_huge_patch14_224.virchow2").unverified ?? []).length > 0);
    assert.throws(() => getPretrainedCfg("vit_nope"), ConfigError);
  });
});

describeBackends("createModel", () => {
  let dir: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "peftlab-create-"));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("loads weights strictly and re-creates the head for a new class count, with a warning", () => {
    const src = createModel("vit_tiny_ci", { seed: 1 }) as VisionTransformer;
    const file = path.join(dir, "tiny.safetensors");
    writeSafetensors(file, src.stateDict());
    const same = createModel("vit_tiny_ci", { weights: file, seed: 2 }).eval();
    const x = tf.randomNormal([2, 32, 32, 3], 0, 1, "float32", 1);
    assert.equal(maxAbsDiff(src.eval().apply(x), same.apply(x)), 0);
    const logs: string[] = [];
    const three = createModel("vit_tiny_ci", {
      weights: file,
      numClasses: 3,
      seed: 2,
      log: (m) => logs.push(m),
    }).eval();
    assert.equal(three.numClasses, 3);
    assert.ok(logs.some((l) => /head re-created for 3 classes/.test(l)));
    assert.equal(maxAbsDiff(src.forwardFeatures(x), three.forwardFeatures(x)), 0);
    // The re-created head keeps its fresh initialisation (the one a seed-2 model without weights has).
    const fresh = createModel("vit_tiny_ci", { numClasses: 3, seed: 2 }).eval();
    assert.equal(maxAbsDiff(fresh.forwardHead(src.forwardFeatures(x)), three.apply(x)), 0);
    [src, same, three, fresh].forEach((m) => m.dispose());
  });

  it("resamples pos_embed to a new input size, and rejects mismatches and pickles", () => {
    const src = createModel("vit_tiny_ci", { seed: 1 });
    const file = path.join(dir, "tiny32.safetensors");
    writeSafetensors(file, src.stateDict());
    const logs: string[] = [];
    const big = createModel("vit_tiny_ci", {
      weights: file,
      args: { img_size: 48 },
      log: (m) => logs.push(m),
    }) as VisionTransformer;
    assert.deepEqual(big.pos.shape, [1, 37, 64]);
    assert.ok(logs.some((l) => /pos_embed resampled bicubically from a 4×4 grid to 6×6/.test(l)));
    const other = new VisionTransformer({
      imgSize: 32,
      patchSize: 8,
      embedDim: 64,
      depth: 3,
      numHeads: 4,
      numClasses: 10,
    });
    assert.throws(
      () => loadWeights(other, file, { log: () => {} }),
      (e: unknown) => e instanceof CheckpointError && /Missing key\(s\).*blocks\.2\./.test(e.message),
    );
    assert.throws(() => createModel("vit_tiny_ci", { weights: path.join(dir, "model.bin") }), CheckpointError);
    [src, big, other].forEach((m) => m.dispose());
  });
});
