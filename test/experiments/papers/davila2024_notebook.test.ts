/** Notebook 05 (Paper 5, Davila et al. 2024): settings as validated data, one tiny CI-path run, the probe reference. */
import * as assert from "node:assert/strict";
import * as aq from "arquero";
import { ConfigError } from "../../../lib/errors";
import type { HostImages, HostSplits } from "../../../lib/data/host_data";
import { MobileNetV2 } from "../../../lib/models/mobilenetv2";
import {
  DAVILA_NOTEBOOK_SETTINGS,
  DAVILA_PROBE_METHOD,
  DAVILA_STRATEGIES,
  davilaCiContext,
  davilaDataRows,
  davilaHyperparametersOf,
  davilaNotebookSettings,
  davilaProbeRuns,
  davilaScaleNote,
  davilaSpecs,
  davilaStageRows,
  davilaVersusProbe,
  runDavilaCell,
  validateDavilaSettings,
  type DavilaContext,
  type DavilaNotebookSettings,
} from "../../../lib";

const ci = DAVILA_NOTEBOOK_SETTINGS.ci;
const edit = (p: Partial<DavilaNotebookSettings>): DavilaNotebookSettings => ({ ...ci, ...p });

describe("papers/davila2024_notebook: settings as validated data", () => {
  for (const scale of ["ci", "full"] as const) {
    it(`${scale}: validates, and davilaNotebookSettings returns it with its scale`, () => {
      const s = davilaNotebookSettings(scale);
      assert.equal(s.scale, scale);
      assert.deepEqual({ ...s, scale: undefined }, { ...DAVILA_NOTEBOOK_SETTINGS[scale], scale: undefined });
      assert.ok(s.modalities.every((m) => m.kind === (scale === "ci" ? "npz" : "prepared")));
    });
  }
  it("an unknown scale is a ConfigError naming the parameter", () => {
    assert.throws(
      () => davilaNotebookSettings("CI"),
      (e: unknown) => e instanceof ConfigError && /SCALE/.test(e.message),
    );
  });
  const bad: [string, Partial<DavilaNotebookSettings>, string][] = [
    ["no seeds", { seeds: [] }, "seeds"],
    ["repeated seeds", { seeds: [1, 1] }, "seeds"],
    ["fractional seed", { seeds: [0.5] }, "seeds"],
    ["no backbones", { backbones: [] }, "backbones"],
    ["no modalities", { modalities: [] }, "modalities"],
    ["duplicate modality", { modalities: [ci.modalities[0], ci.modalities[0]] }, "modalities"],
    ["modality without file", { modalities: [{ name: "x", kind: "npz", file: "" }] }, "modalities[0]"],
    ["tiny image", { imgSize: 16 }, "imgSize"],
    ["bad tail stage", { tailStage: "blocks.3" }, "tailStage"],
    ["zero cap", { maxItems: { train: 0, val: null, test: null } }, "maxItems.train"],
    ["zero epochs", { epochs: 0 }, "epochs"],
    ["LP-FT with no FT stage", { epochs: 4, lpEpochs: 4 }, "lpEpochs"],
    ["negative lr", { lr: { ft: -1e-4, lp: 1e-3 } }, "lr"],
    ["NaN lr", { lr: { ft: 1e-4, lp: Number.NaN } }, "lr"],
    ["zero batch", { batchSize: 0 }, "batchSize"],
    ["zero probe iterations", { probe: { maxIter: 0 } }, "probe.maxIter"],
  ];
  for (const [name, p, field] of bad) {
    it(`rejects ${name} with a ConfigError at ${field}`, () => {
      assert.throws(
        () => validateDavilaSettings(edit(p)),
        (e: unknown) => e instanceof ConfigError && e.where === `DavilaNotebookSettings.${field}`,
      );
    });
  }
  it("davilaScaleNote says what ran, from the settings: CI stand-ins are never the paper's numbers", () => {
    const note = davilaScaleNote(ci);
    assert.match(note, /^CI scale — stand-ins/);
    assert.match(note, /not the paper's numbers/);
    assert.ok(note.includes(`${ci.imgSize} px`) && note.includes(String(ci.tailStage)), note);
    assert.match(davilaScaleNote(DAVILA_NOTEBOOK_SETTINGS.full), /^Full scale \(resnet50/);
  });
  it("davilaHyperparametersOf carries the scale's lrs and epochs into the recipes", () => {
    const hp = davilaHyperparametersOf(ci);
    assert.deepEqual([hp.lrFt, hp.lrLp, hp.epochs, hp.lpEpochs], [ci.lr.ft, ci.lr.lp, ci.epochs, ci.lpEpochs]);
  });
});

/** Class 1 is brighter than class 0 (plus noise): separable, so a probe that learned nothing fails the check. */
function images(n: number, seed: number): HostImages {
  const per = 32 * 32 * 3;
  const x = new Float32Array(n * per);
  const labels = new Float32Array(n);
  let s = seed + 1;
  const rnd = () => ((s = (s * 16807) % 2147483647) / 2147483647) * 2 - 1;
  for (let i = 0; i < n; i++) {
    labels[i] = i % 2;
    for (let j = 0; j < per; j++) x[i * per + j] = (labels[i] ? 0.6 : -0.6) + 0.3 * rnd();
  }
  return { x, n, itemShape: [32, 32, 3], labels, ids: Array.from({ length: n }, (_, i) => `${seed}-${i}`) };
}

describe("papers/davila2024_run: a tiny CI-path grid", function () {
  this.timeout(120000);
  const settings = edit({
    imgSize: 32,
    tailStage: "features.2",
    epochs: 2,
    lpEpochs: 1,
    batchSize: 8,
    lr: { ft: 1e-3, lp: 1e-2 },
    maxItems: { train: null, val: null, test: null },
    modalities: [{ name: "toy", kind: "npz", file: "unused.npz" }],
    backbones: ["tiny-mnv2"],
  });
  const splits: HostSplits = {
    name: "toy",
    classes: ["dark", "bright"],
    train: images(32, 1),
    val: images(16, 2),
    test: images(16, 3),
  };
  let base: MobileNetV2;
  let ctx: DavilaContext;
  before(() => {
    base = new MobileNetV2({
      invertedResidualSetting: [
        [1, 8, 1, 1],
        [2, 16, 1, 2],
        [2, 16, 1, 1],
      ],
      lastChannel: 32,
      numClasses: 2,
      seed: 0,
    });
    ctx = davilaCiContext(settings, base, [{ name: "toy", splits }], "tiny-mnv2");
  });
  after(() => base.dispose());

  it("caches the prefix outputs, lists the data and the trainable stages", () => {
    const cached = ctx.modalities[0].cached!;
    assert.deepEqual(cached.train.itemShape, [16, 16, 8]); // features.0 (stride 2) and features.1 run once
    assert.deepEqual(davilaDataRows(ctx), [
      { modality: "toy", classes: 2, train: 32, val: 16, test: 16, majority_test_accuracy: 0.5 },
    ]);
    const stages = davilaStageRows(ctx);
    assert.deepEqual(
      stages.filter((r) => r.trains).map((r) => r.stage),
      ctx.ci!.split.tail.stages().map((s) => s.name),
    );
    assert.ok(stages.some((r) => r.stage === "stem" && !r.trains));
  });
  it("specs: every strategy × seed of every modality and backbone", () => {
    const specs = davilaSpecs(ctx);
    assert.equal(specs.length, DAVILA_STRATEGIES.length * settings.seeds.length);
    assert.deepEqual([...new Set(specs.map((s) => s.strategy))], [...DAVILA_STRATEGIES]);
  });
  it("FT changes the tail; the next cell starts from the pretrained weights again (LP leaves them as loaded)", async () => {
    const key = "features.4.0.weight"; // the last 1×1 conv, in the tail
    const pretrained = Array.from(ctx.ci!.weights.get(key)!.data);
    const ft = await runDavilaCell({ modality: "toy", backbone: "tiny-mnv2", strategy: "FT", seed: 0 }, ctx);
    assert.notDeepEqual(Array.from(base.stateDict().get(key)!.data), pretrained);
    const lp = await runDavilaCell({ modality: "toy", backbone: "tiny-mnv2", strategy: "LP", seed: 0 }, ctx);
    assert.deepEqual(Array.from(base.stateDict().get(key)!.data), pretrained);
    for (const r of [ft.record, lp.record]) {
      assert.equal(r.totalParams, base.numParameters()); // the cached prefix counts as frozen
      assert.ok(r.metrics.test.accuracy >= 0 && r.metrics.test.accuracy <= 1);
      assert.equal(r.config.cut, "features.2");
    }
    assert.equal(ft.history.length, settings.epochs);
    assert.ok(lp.record.trainableParams < ft.record.trainableParams);
  });
  it("the probe reference fits the frozen features and separates the toy classes", async () => {
    const [probe] = await davilaProbeRuns(ctx);
    assert.equal(probe.method, DAVILA_PROBE_METHOD);
    assert.equal(probe.dataset, "toy");
    assert.ok(probe.metrics.test.accuracy > 0.9, String(probe.metrics.test.accuracy));
  });
  it("a context without a tail stage is a ConfigError", () => {
    assert.throws(() => davilaCiContext({ ...settings, tailStage: null }, base, []), ConfigError);
  });
});

describe("papers/davila2024_results: strategies against the probe", () => {
  const ctx: DavilaContext = {
    scale: "ci",
    settings: { ...ci, backbones: ["m"] },
    modalities: [
      { name: "A", classes: ["0", "1"], cached: null, prepared: null, testLabels: Float32Array.from([0, 0, 0, 1]) },
      { name: "B", classes: ["0", "1"], cached: null, prepared: null, testLabels: Float32Array.from([0, 1]) },
    ],
    ci: null,
    weightsDir: "",
  };
  const row = (dataset: string, method: string, acc: number) => ({
    dataset,
    modelId: "m",
    method,
    "test.accuracy": acc,
  });
  const runs = aq.from([
    row("A", DAVILA_PROBE_METHOD, 0.8),
    row("A", "FT", 0.85),
    row("A", "LP", 0.78),
    row("B", DAVILA_PROBE_METHOD, 0.7),
    row("B", "FT", 0.52),
    row("B", "LP-FT", 0.66),
  ]);
  const cases: [string, string, boolean, number][] = [
    ["A", "FT", true, 0.75],
    ["B", "LP-FT", false, 0.5],
  ];
  const { rows, best } = davilaVersusProbe(runs, ctx);
  for (const [modality, arm, beats, majority] of cases) {
    it(`${modality}: best arm ${arm}, beats the probe: ${beats}`, () => {
      const b = best.find((x) => x.modality === modality)!;
      assert.deepEqual([b.best_arm, b.beats_probe, b.majority], [arm, beats, majority]);
    });
  }
  it("the gap to the probe is set against 2 binomial standard errors of the test accuracy", () => {
    const a = best.find((x) => x.modality === "A")!; // 0.85 vs 0.8 on 4 test images: 2·SE = 0.4
    assert.equal(a.test_n, 4);
    assert.ok(Math.abs(a.two_se - 2 * Math.sqrt((0.8 * 0.2) / 4)) < 1e-12);
    assert.equal(a.within_noise, true);
  });
  it("near chance is judged against each modality's majority accuracy", () => {
    const verdict = (c: string, arm: string) => rows.find((r) => r.case === `${c} · m` && r.arm === arm)!.verdict;
    assert.match(verdict("A", "LP"), /near chance/); // 0.78 < 0.75 + 0.05
    assert.doesNotMatch(verdict("A", "FT"), /near chance/);
    assert.match(verdict("B", "FT"), /near chance/); // 0.52 < 0.5 + 0.05
    assert.doesNotMatch(verdict("B", "LP-FT"), /near chance/);
  });
});
