import { strict as assert } from "node:assert";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../../lib/backend";
import {
  effectiveRank,
  JUPYTER_DISPLAY,
  loraLayerSpectra,
  loraParamBreakdown,
  loraParamSummary,
  loraSpectrumChart,
  parameterInfo,
  PLOTLY_MIME,
} from "../../lib/display";
import * as pub from "../../lib/index";
import { createModel } from "../../lib/models/create";
import { getPeftModel, type LoraModel } from "../../lib/peft/lora/model";
import type { Module } from "../../lib/nn/module";

/** A 2-block CI ViT with LoRA (r 4) on qkv and a new 3-class head; B filled with seeded noise so ΔW ≠ 0. */
function loraVit(fillB: boolean): LoraModel<Module> {
  const m = createModel("vit_tiny_ci", { numClasses: 3, seed: 0, log: () => undefined });
  const lm = getPeftModel(m, { r: 4, loraAlpha: 8, targetModules: ["qkv"], modulesToSave: m.headNames });
  if (fillB) {
    let i = 0;
    for (const l of lm.layers.values()) {
      const w = l.loraB.weight;
      w.assign(tf.randomNormal(w.variable.shape, 0, 0.1, "float32", 17 + i++));
    }
  }
  return lm;
}

describe("LoRA displays: ΔW spectrum and trainable-parameter summary", () => {
  before(async () => {
    await initBackend({ prefer: "cpu", log: null, env: {} });
  });

  const ranks: { name: string; sv: number[]; want: number }[] = [
    { name: "rank one", sv: [2, 0, 0], want: 1 },
    { name: "four equal directions", sv: [1, 1, 1, 1], want: 4 },
    { name: "ΔW = 0", sv: [0, 0], want: 0 },
    { name: "no values", sv: [], want: 0 },
  ];
  for (const r of ranks) {
    it(`effective rank: ${r.name}`, () => assert.ok(Math.abs(effectiveRank(r.sv) - r.want) < 1e-12));
  }

  it("the spectrum of each layer is ΔW's: Σσ² equals ‖B·A·scaling‖²_F, σ₁ and effective rank are reported", () => {
    const lm = loraVit(true);
    try {
      const spectra = loraLayerSpectra(lm);
      assert.deepEqual(
        spectra.map((s) => s.name),
        ["blocks.0.attn.qkv", "blocks.1.attn.qkv"],
      );
      for (const s of spectra) {
        const l = lm.layers.get(s.name)!;
        // ΔW in tfjs layout: A [in, r] · B [r, out] · scaling → [in, out].
        const fro2 = tf.tidy(
          () =>
            tf
              .sum(tf.square(tf.mul(tf.matMul(l.loraA.weight.variable, l.loraB.weight.variable), l.scaling)))
              .dataSync()[0],
        );
        const sum2 = s.singularValues.reduce((a, v) => a + v * v, 0);
        assert.ok(Math.abs(sum2 - fro2) / fro2 < 1e-4, `${s.name}: Σσ² ${sum2} vs ‖ΔW‖² ${fro2}`);
        assert.equal(s.sigmaMax, s.singularValues[0]);
        assert.ok(s.singularValues.length <= 4 && s.effectiveRank > 1 && s.effectiveRank <= 4, String(s.effectiveRank));
      }
      const fig = loraSpectrumChart(lm, { maxLayers: 1 });
      assert.equal(fig.data.length, 1);
      assert.match(String(fig.data[0].name), /^blocks\.1\.attn\.qkv \(σ₁ [\d.e+-]+, eff\. rank [\d.]+\)$/);
      assert.deepEqual(fig.data[0].y, spectra[1].singularValues);
      assert.ok(PLOTLY_MIME in fig[JUPYTER_DISPLAY]());
      assert.equal(loraSpectrumChart(lm, { layers: /blocks\.0\./ }).data.length, 1);
      assert.equal(loraSpectrumChart(lm, { layers: "nothing" }).data.length, 0);
    } finally {
      lm.model.dispose();
    }
  });

  it("a fresh adapter (B = 0) plots at the floor of the log axis while its data stay exact zeros", () => {
    const lm = loraVit(false);
    try {
      const s = loraLayerSpectra(lm);
      assert.ok(s.every((l) => l.sigmaMax === 0 && l.effectiveRank === 0));
      const fig = loraSpectrumChart(lm, { floor: 1e-6 });
      assert.ok(fig.data.every((t) => (t.y as number[]).every((v) => v === 1e-6)));
    } finally {
      lm.model.dispose();
    }
  });

  it("the parameter summary splits LoRA A/B, modules_to_save and the frozen base, counted as peft does", () => {
    const lm = loraVit(false);
    try {
      const b = loraParamBreakdown(lm);
      const loraWant = [...lm.layers.values()].reduce((a, l) => a + l.loraA.weight.numel + l.loraB.weight.numel, 0);
      assert.equal(b.lora, 2 * 4 * (64 + 192));
      assert.equal(b.lora, loraWant);
      assert.equal(b.saved, 3 * 64 + 3);
      assert.equal(b.otherTrainable, 0);
      const c = lm.trainableParameterCounts();
      assert.equal(b.trainable, c.trainable);
      assert.equal(b.total + b.saved, c.all, "peft counts the head's original copy too");
      assert.equal(
        b.total,
        parameterInfo(lm.model).reduce((a, p) => a + p.numel, 0),
      );
      assert.equal(
        b.peftLine,
        lm.printTrainableParameters(() => undefined),
      );
      const bundle = loraParamSummary(lm)[JUPYTER_DISPLAY]();
      assert.match(String(bundle["text/plain"]), /^LoRA r=4 on 2 layers: 2,048 parameters; modules_to_save 195;/);
      assert.match(String(bundle["text/plain"]), /trainable params: 2,243 \|\| all params: /);
    } finally {
      lm.model.dispose();
    }
  });

  it("is exported from the public entry", () => {
    for (const f of ["loraSpectrumChart", "loraParamSummary", "loraLayerSpectra", "loraParamBreakdown"]) {
      assert.equal(typeof (pub as Record<string, unknown>)[f], "function", f);
    }
  });
});
