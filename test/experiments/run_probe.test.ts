import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { initBackend } from "../../lib/backend";
import { runCli } from "../../lib/cli/main";
import { ConfigError } from "../../lib/errors";
import { sharedPath } from "../../lib/paths";
import { featureMatrix, fitLogisticRegression, predictProba } from "../../lib/peft/probe";
import { runExperiment } from "../../lib/experiments/run";
import { runModelSpec } from "../../lib/experiments/run_models";
import { softmaxProbeOf, softmaxProbeProba } from "../../lib/experiments/run_probe";

/** Copies `perClass` PBC images of each listed class into root/<class>/. */
function pbcFolder(root: string, classes: string[], perClass: number): string {
  for (const c of classes) {
    const src = sharedPath("data", "pbc-jpeg", c);
    fs.mkdirSync(path.join(root, c), { recursive: true });
    for (const f of fs.readdirSync(src).sort().slice(0, perClass))
      fs.copyFileSync(path.join(src, f), path.join(root, c, f));
  }
  return root;
}

describe("run model ids resolve through lib/models", () => {
  it("a registry id takes its size, normalisation and offline weights from the registry", () => {
    const s = runModelSpec("mobilenetv2_035_224.tfjs_keras");
    assert.equal(s.size, 224);
    assert.deepEqual(s.normalize, { mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] });
    assert.equal(s.defaultWeights(), sharedPath("weights", "mobilenet_v2_035_224_tfjs"));
  });
  const bad: { name: string; run: () => unknown; match: RegExp }[] = [
    { name: "an unknown id", run: () => runModelSpec("mobilenetv2_035_224.keras"), match: /model\.id/ },
    { name: "an unknown fixture case", run: () => runModelSpec("fixture:nope"), match: /fixture:resnet_basic/ },
    {
      name: "a registry id without local weights",
      run: () => runModelSpec("resnet50.tv2_in1k").defaultWeights(),
      match: /peftlab weights get resnet50\.tv2_in1k/,
    },
  ];
  for (const b of bad) {
    it(`${b.name} is a ConfigError that says what to use`, () => {
      assert.throws(b.run, (e: unknown) => e instanceof ConfigError && b.match.test(e.message));
    });
  }
  it("a fixture case builds with a fresh head of the run's class count", () => {
    const s = runModelSpec("fixture:resnet_basic");
    const m = s.build({ weights: s.defaultWeights(), numClasses: 3, seed: 0 });
    assert.equal(m.numClasses, 3);
    m.dispose();
  });
});

describe("softmax form of scikit-learn's logistic regression", () => {
  const rows = Array.from({ length: 40 }, (_, i) => [Math.sin(i), Math.cos(3 * i), (i % 5) / 5]);
  const cases = [
    { name: "binary (one vector)", y: rows.map((_, i) => (Math.sin(i) + 0.3 * Math.cos(3 * i) > 0 ? 1 : 0)), k: 2 },
    { name: "multinomial", y: rows.map((_, i) => i % 3), k: 3 },
    { name: "a class absent from training", y: rows.map((_, i) => (i % 2) * 2), k: 3 },
  ];
  for (const c of cases) {
    it(`gives predictProba's probabilities: ${c.name}`, () => {
      const X = featureMatrix(rows);
      const m = fitLogisticRegression(X, c.y, { C: 1 });
      const want = predictProba(m, X); // [n, classes present]
      const got = softmaxProbeProba(softmaxProbeOf(m, c.k), X); // [n, K]
      for (let i = 0; i < X.n; i++) {
        for (let k = 0; k < c.k; k++) {
          const j = m.classes.indexOf(k);
          const w = j < 0 ? 0 : want[i * m.classes.length + j];
          assert.ok(Math.abs(got[i * c.k + k] - w) < 1e-6, `row ${i} class ${k}: ${got[i * c.k + k]} vs ${w}`);
        }
      }
    });
  }
});

describe("probe runs use lib/peft's feature cache", function () {
  this.timeout(300000);
  let tmp: string;
  let data: string;
  before(async () => {
    await initBackend({ prefer: "cpu", log: null, env: {} });
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "peftlab-run-probe-"));
    data = pbcFolder(path.join(tmp, "data"), ["basophil", "eosinophil", "platelet"], 6);
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it("`peftlab extract` fills the entry a logreg run then reads; a corrupt entry is rebuilt", async () => {
    const cacheDir = path.join(tmp, "cache");
    let out = "";
    const code = await runCli(
      ["extract", "--model", "fixture:resnet_basic", "--data", data, "--out", cacheDir, "--json"],
      { out: (s) => (out += s), err: () => undefined, env: {} },
    );
    assert.equal(code, 0);
    const ex = JSON.parse(out) as { file: string; extracted: number; n: number };
    assert.equal(ex.extracted, 18);
    const config = {
      name: "lp",
      seed: 0,
      backend: "cpu",
      model: { id: "fixture:resnet_basic" },
      data: {
        source: { kind: "imageFolder", path: data },
        split: { kind: "stratified", fractions: { train: 0.5, val: 0.25, test: 0.25 }, seed: 0 },
      },
      method: { kind: "logreg" },
    };
    const logs: string[] = [];
    const r = await runExperiment(config, { cacheDir, log: (l) => logs.push(l) });
    assert.equal(r.extra?.featureCache, ex.file);
    assert.match(logs.join("\n"), /features 18 × \d+: 0 extracted, 18 from the cache/);
    // Corrupt the data file: detected by its hash, re-extracted, and the run's metrics are unchanged.
    const bytes = fs.readFileSync(ex.file);
    bytes[bytes.length - 1] ^= 0xff;
    fs.writeFileSync(ex.file, bytes);
    const logs2: string[] = [];
    const r2 = await runExperiment(config, { cacheDir, log: (l) => logs2.push(l), warn: (l) => logs2.push(l) });
    assert.match(logs2.join("\n"), /corrupt/);
    assert.match(logs2.join("\n"), /18 extracted/);
    assert.deepEqual(r2.metrics, r.metrics);
  });
});
