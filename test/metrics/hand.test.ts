/** lib/metrics on tiny hand-checkable cases, error cases, calibration bins, the PRNG and bootstrap intervals. */
import { strict as assert } from "node:assert";
import { DataError, ShapeError, ConfigError } from "../../lib/errors";
import * as M from "../../lib/metrics";

describe("metrics: hand-checked values", function () {
  const cases: { name: string; got: () => number; want: number }[] = [
    // y = [0,0,1,1], p = [0,1,1,1]: tp=2 fp=1 fn=0 → precision 2/3, recall 1, f1 0.8.
    { name: "accuracy", got: () => M.accuracy([0, 0, 1, 1], [0, 1, 1, 1]), want: 0.75 },
    { name: "precision binary", got: () => M.precision([0, 0, 1, 1], [0, 1, 1, 1]), want: 2 / 3 },
    { name: "recall binary", got: () => M.recall([0, 0, 1, 1], [0, 1, 1, 1]), want: 1 },
    { name: "f1 binary", got: () => M.f1([0, 0, 1, 1], [0, 1, 1, 1]), want: 0.8 },
    // class recalls 0.5 and 1 → 0.75; class 2 never predicted adds recall 0 in the 3-class case.
    { name: "balanced accuracy", got: () => M.balancedAccuracy([0, 0, 1, 1], [0, 1, 1, 1]), want: 0.75 },
    {
      name: "balanced accuracy, class absent from y_pred",
      got: () => M.balancedAccuracy([0, 1, 2], [0, 1, 1]),
      want: 2 / 3,
    },
    // y_pred class 3 is absent from y_true: its NaN recall is skipped, not counted as 0.
    { name: "balanced accuracy, class absent from y_true", got: () => M.balancedAccuracy([0, 1], [0, 3]), want: 0.5 },
    // zero_division = 0: nothing predicted positive → precision 0, f1 0.
    { name: "precision, no positive predictions", got: () => M.precision([0, 1, 1], [0, 0, 0]), want: 0 },
    {
      name: "f1 macro with an unpredicted class",
      got: () => M.f1([0, 1, 2], [0, 1, 1], { average: "macro" }),
      want: (1 + 2 / 3 + 0) / 3,
    },
    {
      name: "micro precision = accuracy",
      got: () => M.precision([0, 1, 2, 2], [0, 2, 2, 1], { average: "micro" }),
      want: 0.5,
    },
    // perfect ranking, then one swapped pair of 4 (1 - 1/4), then ties between a positive and a negative (half credit).
    { name: "auroc perfect", got: () => M.rocAuc([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9]), want: 1 },
    { name: "auroc one swap", got: () => M.rocAuc([0, 0, 1, 1], [0.1, 0.8, 0.2, 0.9]), want: 0.75 },
    { name: "auroc all tied", got: () => M.rocAuc([0, 1, 0, 1], [0.5, 0.5, 0.5, 0.5]), want: 0.5 },
    { name: "auroc one tie", got: () => M.rocAuc([0, 1], [0.3, 0.3]), want: 0.5 },
    // po = 0.5, pe = 0.5 → κ = 0; perfect agreement κ = 1.
    { name: "kappa chance", got: () => M.cohenKappa([0, 0, 1, 1], [0, 1, 0, 1]), want: 0 },
    { name: "kappa perfect", got: () => M.cohenKappa([0, 1, 2], [0, 1, 2], "quadratic"), want: 1 },
    // one confident correct (0.9) and one confident wrong (0.9) in the same bin: |0.5 - 0.9| = 0.4.
    { name: "ece", got: () => M.expectedCalibrationError([1, 0], [0.9, 0.9]), want: 0.4 },
    {
      name: "ece multiclass",
      got: () =>
        M.expectedCalibrationError(
          [0, 1],
          [
            [0.6, 0.4],
            [0.6, 0.4],
          ],
          10,
        ),
      want: 0.1,
    },
  ];
  for (const c of cases) {
    it(c.name, function () {
      assert.ok(Math.abs(c.got() - c.want) < 1e-12, `${c.name}: got ${c.got()}, want ${c.want}`);
    });
  }

  it("confusion matrix: rows true, columns predicted; labels choose and order classes", function () {
    assert.deepEqual(M.confusionMatrix([0, 0, 1, 2], [0, 1, 1, 0]), [
      [1, 1, 0],
      [0, 1, 0],
      [1, 0, 0],
    ]);
    assert.deepEqual(M.confusionMatrix([0, 0, 1, 2], [0, 1, 1, 0], { labels: [1, 0] }), [
      [1, 0],
      [1, 1],
    ]);
    assert.deepEqual(M.confusionMatrix([0, 1], [0, 0], { labels: [0, 1, 2] }), [
      [1, 0, 0],
      [1, 0, 0],
      [0, 0, 0],
    ]);
  });

  it("roc curve: starts at (0,0) with +Infinity and drops collinear points", function () {
    const c = M.rocCurve([0, 0, 1, 1, 1], [0.1, 0.2, 0.7, 0.8, 0.9]);
    // distinct thresholds give fps [0,0,0,1,2], tps [1,2,3,3,3]; the first point is always kept (as sklearn does).
    assert.deepEqual(c.fpr, [0, 0, 0, 1]);
    assert.deepEqual(c.tpr, [0, 1 / 3, 1, 1]);
    assert.deepEqual(c.thresholds, [Infinity, 0.9, 0.7, 0.1]);
    assert.equal(M.rocCurve([0, 0, 1, 1, 1], [0.1, 0.2, 0.7, 0.8, 0.9], false).fpr.length, 6);
  });

  it("reliability bins: edges, counts, accuracy and confidence per bin", function () {
    const bins = M.reliabilityBins([1, 1, 0, 0], [0.95, 0.55, 0.45, 0.2], 5);
    assert.deepEqual(
      bins.map((b) => b.count),
      [0, 0, 2, 1, 1],
    );
    assert.deepEqual([bins[2].accuracy, bins[2].confidence], [1, 0.55]);
    assert.ok(Number.isNaN(bins[0].accuracy));
    // an edge value belongs to the bin it closes: 0.6 is in (0.4, 0.6].
    assert.equal(M.reliabilityBins([1], [0.6], 5)[2].count, 1);
  });

  it("predictions: argmax takes the first maximum; threshold is score >= t", function () {
    assert.deepEqual(
      Array.from(
        M.argmaxRows([
          [0.2, 0.4, 0.4],
          [0.5, 0.1, 0.4],
        ]),
      ),
      [1, 0],
    );
    assert.deepEqual(Array.from(M.thresholdScores([0.49, 0.5, 0.7])), [0, 1, 1]);
    assert.deepEqual(Array.from(M.thresholdScores([0.49, 0.5, 0.7], 0.6)), [0, 0, 1]);
    const sm = M.softmaxRows([[0, Math.log(3)]]);
    assert.ok(Math.abs(sm.data[1] - 0.75) < 1e-15);
  });
});

describe("metrics: invalid input is an error with where/expected/got/fix", function () {
  const cases: { name: string; fn: () => unknown; type: new (...a: never[]) => Error; match: RegExp }[] = [
    { name: "length mismatch", fn: () => M.accuracy([0, 1, 1], [0, 1]), type: ShapeError, match: /3 samples.*got 2/ },
    { name: "negative label", fn: () => M.accuracy([0, -1], [0, 1]), type: DataError, match: /yTrue\[1\]/ },
    { name: "fractional label", fn: () => M.f1([0, 0.5], [0, 1]), type: DataError, match: /non-negative integer/ },
    { name: "binary label 2 for AUROC", fn: () => M.rocAuc([0, 2], [0.1, 0.2]), type: DataError, match: /\[0, 1\]/ },
    { name: "NaN score", fn: () => M.rocAuc([0, 1], [0.1, NaN]), type: DataError, match: /scores\[1\].*NaN/ },
    {
      name: "one class for AUROC",
      fn: () => M.rocAuc([1, 1, 1], [0.1, 0.2, 0.3]),
      type: DataError,
      match: /Only one class present/,
    },
    {
      name: "one class in a multilabel column",
      fn: () =>
        M.rocAucMultilabel(
          [
            [0, 1],
            [1, 1],
          ],
          [
            [0.2, 0.3],
            [0.4, 0.5],
          ],
        ),
      type: DataError,
      match: /label 1/,
    },
    {
      name: "OvR class missing",
      fn: () =>
        M.rocAucOvr(
          [0, 1, 1],
          [
            [0.5, 0.3, 0.2],
            [0.2, 0.5, 0.3],
            [0.1, 0.6, 0.3],
          ],
        ),
      type: DataError,
      match: /3 classes/,
    },
    {
      name: "OvR not probabilities",
      fn: () =>
        M.rocAucOvr(
          [0, 1, 2],
          [
            [1, 2, 3],
            [1, 2, 3],
            [1, 2, 3],
          ],
        ),
      type: DataError,
      match: /sum to 1/,
    },
    {
      name: "label >= K",
      fn: () =>
        M.rocAucOvr(
          [0, 1, 3],
          [
            [0.5, 0.3, 0.2],
            [0.2, 0.5, 0.3],
            [0.1, 0.6, 0.3],
          ],
        ),
      type: DataError,
      match: /\[0, 2\]/,
    },
    { name: "ragged matrix", fn: () => M.argmaxRows([[0.1, 0.9], [1]]), type: ShapeError, match: /different lengths/ },
    {
      name: "binary average on 3 classes",
      fn: () => M.f1([0, 1, 2], [0, 1, 2]),
      type: DataError,
      match: /multiclass but average is 'binary'/,
    },
    { name: "empty input", fn: () => M.accuracy([], []), type: DataError, match: /Empty input/ },
    {
      name: "unknown task",
      fn: () => M.computeMetrics({ task: "regression" as "binary", yTrue: [0], scores: [0] }),
      type: ConfigError,
      match: /task/,
    },
    {
      name: "probability > 1 for ECE",
      fn: () => M.expectedCalibrationError([0, 1], [0.2, 1.5]),
      type: DataError,
      match: /\[0, 1\]/,
    },
  ];
  for (const c of cases) {
    it(c.name, function () {
      assert.throws(c.fn, (e: unknown) => {
        assert.ok(e instanceof c.type, `expected ${c.type.name}, got ${String(e)}`);
        assert.match((e as Error).message, c.match);
        assert.match((e as Error).message, /Fix: /);
        return true;
      });
    });
  }

  it("computeMetrics reports an undefined AUROC as NaN with a warning instead of throwing", function () {
    const r = M.computeMetrics({ task: "binary", yTrue: [1, 1, 1], scores: [0.2, 0.7, 0.9] });
    assert.ok(Number.isNaN(r.values.roc_auc));
    assert.match(r.warnings.join("\n"), /roc_auc: Only one class/);
    assert.ok(Math.abs(r.values.accuracy - 2 / 3) < 1e-15);
  });
});

describe("metrics: PRNG and bootstrap", function () {
  it("mulberry32 is deterministic per seed, in [0, 1), and seeds differ", function () {
    const a = M.mulberry32(42);
    const b = M.mulberry32(42);
    const xs = Array.from({ length: 1000 }, () => a.next());
    assert.deepEqual(
      xs,
      Array.from({ length: 1000 }, () => b.next()),
    );
    assert.ok(xs.every((x) => x >= 0 && x < 1));
    assert.notEqual(M.mulberry32(43).next(), xs[0]);
    const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
    assert.ok(Math.abs(mean - 0.5) < 0.05, `mean ${mean}`);
    const r = M.mulberry32(1);
    assert.ok(Array.from({ length: 500 }, () => r.nextInt(7)).every((k) => Number.isInteger(k) && k >= 0 && k < 7));
  });

  it("percentile matches numpy's linear interpolation", function () {
    // np.percentile([1, 2, 3, 4], [2.5, 50, 97.5]) = [1.075, 2.5, 3.925]
    const v = [1, 2, 3, 4];
    assert.ok(Math.abs(M.percentileSorted(v, 0.025) - 1.075) < 1e-12);
    assert.equal(M.percentileSorted(v, 0.5), 2.5);
    assert.ok(Math.abs(M.percentileSorted(v, 0.975) - 3.925) < 1e-12);
  });

  it("bootstrap CI of the mean brackets the estimate, is seeded, and narrows with more data", function () {
    const rng = M.mulberry32(7);
    const x = Array.from({ length: 400 }, () => rng.next());
    const meanOf = (idx: Int32Array): number => idx.reduce((s, i) => s + x[i], 0) / idx.length;
    const r1 = M.bootstrapCI(x.length, meanOf, { seed: 3, nResamples: 300 });
    const r2 = M.bootstrapCI(x.length, meanOf, { seed: 3, nResamples: 300 });
    assert.deepEqual(r1, r2);
    assert.ok(r1.lower < r1.estimate && r1.estimate < r1.upper);
    // standard error of a U(0,1) mean over 400 samples is about 0.0144: a 95% interval is about 4 SE wide.
    assert.ok(Math.abs(r1.upper - r1.lower - 4 * 0.0144) < 0.015, `width ${r1.upper - r1.lower}`);
    assert.ok(Math.abs(r1.std - 0.0144) < 0.004, `std ${r1.std}`);
    const small = M.bootstrapCI(40, meanOf, { seed: 3, nResamples: 300 });
    assert.ok(small.upper - small.lower > r1.upper - r1.lower);
  });

  it("stratified bootstrap keeps class counts, so AUROC never fails on a one-class resample", function () {
    const y = [1, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    const s = [0.9, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.95];
    const plain = M.bootstrapMetric(y, s, M.rocAuc, { seed: 1, nResamples: 200 });
    assert.ok(plain.nFailed > 0, "a 1-positive set must give some one-class resamples");
    const strat = M.bootstrapMetric(y, s, M.rocAuc, { seed: 1, nResamples: 200, stratified: true });
    assert.equal(strat.nFailed, 0);
    assert.ok(Math.abs(strat.estimate - 8 / 9) < 1e-12);
    const seen: number[] = [];
    M.bootstrapCI(y.length, (idx) => (seen.push(idx.reduce((a, i) => a + y[i], 0)), 0), { strata: y, nResamples: 20 });
    assert.ok(seen.every((k) => k === 1));
  });

  it("bootstrap over matrices resamples rows (multi-class AUROC)", function () {
    const y = [0, 1, 2, 0, 1, 2, 0, 1, 2];
    const p = y.map((c, i) => [0, 1, 2].map((k) => (k === c ? 0.5 + (i % 3) * 0.1 : (0.5 - (i % 3) * 0.1) / 2)));
    const r = M.bootstrapMetric(y, p, (t, s) => M.rocAucOvr(t, s), { nResamples: 50, stratified: true, seed: 2 });
    assert.equal(r.estimate, 1);
    assert.equal(r.lower, 1);
    assert.equal(r.nFailed, 0);
  });
});
