/** lib/experiments/notebook_scale and the per-paper set-ups that take a notebook's SCALE (02, 03, 04). */
import * as assert from "node:assert/strict";
import {
  BREAKHIS_NOTEBOOK,
  ConfigError,
  DataError,
  MEDPEFT_NOTEBOOK,
  MITOSIS_NOTEBOOK,
  breakhisNotebookAt,
  medPeftNotebookAt,
  mitosisNotebookSetup,
  notebookScale,
  pretrainedVitBackbone,
  settingsAtScale,
} from "../../lib";

const INPUTS = {
  shared: "/shared",
  dataDir: "",
  modelId: "vit_large_patch16_224.uni_mass100k",
  weights: "",
  cnnId: "resnet50.tv2_in1k",
  cnnWeights: "w.safetensors",
  mobilenetDir: "",
};

describe("notebook scales", () => {
  for (const bad of ["", "CI", "Full", "small"]) {
    it(`notebookScale(${JSON.stringify(bad)}) is a ConfigError naming SCALE`, () => {
      assert.throws(
        () => notebookScale(bad),
        (e: Error) => e instanceof ConfigError && /SCALE/.test(e.message),
      );
    });
  }
  const tables = [
    { name: "03 MED-PEFT", at: medPeftNotebookAt, table: MEDPEFT_NOTEBOOK },
    { name: "04 BreakHis", at: breakhisNotebookAt, table: BREAKHIS_NOTEBOOK },
  ] as const;
  for (const t of tables) {
    for (const scale of ["ci", "full"] as const) {
      it(`${t.name} at ${scale}: the table's row and the checked scale`, () => {
        const r = t.at(scale);
        assert.equal(r.scale, scale);
        assert.equal(r.settings, t.table[scale]);
      });
    }
    it(`${t.name}: an unknown scale is a ConfigError`, () => assert.throws(() => t.at("fulll"), ConfigError));
  }
  it("settingsAtScale reads any per-scale table", () => {
    assert.deepEqual(settingsAtScale({ ci: 1, full: 2 }, "full"), { scale: "full", settings: 2 });
  });
});

describe("02 mitosis set-up per scale", () => {
  it("ci: PBC under shared, the ViT-Ti at the settings' size, MobileNetV2 with inception scaling", () => {
    const s = mitosisNotebookSetup("ci", INPUTS);
    assert.equal(s.scale, "ci");
    assert.equal(s.settings, MITOSIS_NOTEBOOK.ci);
    assert.equal(s.dataDir, "/shared/data/pbc-jpeg");
    assert.equal(s.backbone.modelId, `vit_tiny_patch16_224.augreg_in21k_ft_in1k@${MITOSIS_NOTEBOOK.ci.vitSize}`);
    assert.equal(s.backbone.transform.size, MITOSIS_NOTEBOOK.ci.vitSize);
    assert.equal(s.cnnId, "mobilenetv2_035");
    assert.deepEqual(s.cnnTransform, { size: 96, resize: 96, normalize: "inception" });
  });
  it("full without foundation-model weights: a DataError that says how to fetch them", () => {
    assert.throws(
      () => mitosisNotebookSetup("full", INPUTS),
      (e: Error) => e instanceof DataError && /peftlab weights get/.test(e.message),
    );
  });
  it("a given data folder wins over the scale's default", () => {
    assert.equal(mitosisNotebookSetup("ci", { ...INPUTS, dataDir: "/data/x" }).dataDir, "/data/x");
  });
});

describe("pretrainedVitBackbone", () => {
  it("a registered ViT: its cfg's eval transform and model id", () => {
    const b = pretrainedVitBackbone({ modelId: "vit_base_patch16_clip_224.openai", weights: "w.safetensors" });
    assert.equal(b.modelId, "vit_base_patch16_clip_224.openai");
    assert.equal(b.transform.size, 224);
    assert.ok(typeof b.transform.normalize === "object" && b.transform.normalize.mean.length === 3);
  });
  it("no model id or weights: a DataError", () => {
    assert.throws(() => pretrainedVitBackbone({ modelId: "vit_base_patch16_clip_224.openai" }), DataError);
    assert.throws(() => pretrainedVitBackbone({ weights: "w.safetensors" }), DataError);
  });
});
