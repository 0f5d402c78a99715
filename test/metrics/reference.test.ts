/** lib/metrics against scikit-learn 1.2: the shared reference file and the extra cases in test/fixtures. */
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";
import { hasShared, sharedPath } from "../../lib/paths";
import * as M from "../../lib/metrics";

const TOL = 1e-9;

function close(got: number, want: number, what: string): void {
  assert.ok(Math.abs(got - want) <= TOL, `${what}: got ${got}, sklearn ${want} (|diff| ${Math.abs(got - want)})`);
}

function closeArr(got: ArrayLike<number>, want: ArrayLike<number>, what: string): void {
  assert.equal(got.length, want.length, `${what}: length`);
  for (let i = 0; i < want.length; i++) close(got[i], want[i], `${what}[${i}]`);
}

/* eslint-disable @typescript-eslint/no-explicit-any */
type Case = Record<string, any>;

describe("metrics vs sklearn: shared/fixtures/reference/metrics.json", function () {
  let ref: Record<string, Case> = {};
  before(function () {
    if (!hasShared()) this.skip();
    ref = JSON.parse(fs.readFileSync(sharedPath("fixtures", "reference", "metrics.json"), "utf8"));
  });

  it("multiclass: label metrics, kappa, confusion matrix, OvR AUROC", function () {
    const c = ref.multiclass;
    const pred = M.argmaxRows(c.y_prob);
    close(M.accuracy(c.y_true, pred), c.accuracy, "accuracy");
    close(M.balancedAccuracy(c.y_true, pred), c.balanced_accuracy, "balanced_accuracy");
    close(M.f1(c.y_true, pred, { average: "macro" }), c.f1_macro, "f1_macro");
    close(M.f1(c.y_true, pred, { average: "weighted" }), c.f1_weighted, "f1_weighted");
    close(M.precision(c.y_true, pred, { average: "macro" }), c.precision_macro, "precision_macro");
    close(M.recall(c.y_true, pred, { average: "macro" }), c.recall_macro, "recall_macro");
    close(M.cohenKappa(c.y_true, pred, "quadratic"), c.cohen_kappa_quadratic, "kappa quadratic");
    assert.deepEqual(M.confusionMatrix(c.y_true, pred), c.confusion_matrix);
    close(M.rocAucOvr(c.y_true, c.y_prob), c.roc_auc_ovr_macro, "roc_auc_ovr_macro");
    const r = M.computeMetrics({ task: "multiclass", yTrue: c.y_true, scores: c.y_prob });
    for (const k of [
      "accuracy",
      "balanced_accuracy",
      "f1_macro",
      "f1_weighted",
      "precision_macro",
      "recall_macro",
      "cohen_kappa_quadratic",
    ]) {
      close(r.values[k], c[k], `computeMetrics ${k}`);
    }
    close(r.values.roc_auc_ovr, c.roc_auc_ovr_macro, "computeMetrics roc_auc_ovr");
    assert.deepEqual(r.confusionMatrix, c.confusion_matrix);
  });

  it("binary: thresholded metrics and AUROC", function () {
    const c = ref.binary;
    const pred = M.thresholdScores(c.y_score, c.threshold);
    close(M.accuracy(c.y_true, pred), c.accuracy, "accuracy");
    close(M.f1(c.y_true, pred), c.f1, "f1");
    close(M.precision(c.y_true, pred), c.precision, "precision");
    close(M.recall(c.y_true, pred), c.recall, "recall");
    close(M.balancedAccuracy(c.y_true, pred), c.balanced_accuracy, "balanced_accuracy");
    close(M.rocAuc(c.y_true, c.y_score), c.roc_auc, "roc_auc");
    const r = M.computeMetrics({ task: "binary", yTrue: c.y_true, scores: c.y_score, threshold: c.threshold });
    for (const k of ["accuracy", "f1", "precision", "recall", "balanced_accuracy", "roc_auc"])
      close(r.values[k], c[k], `computeMetrics ${k}`);
  });

  it("binary with ties: AUROC", function () {
    const c = ref.binary_ties;
    close(M.rocAuc(c.y_true, c.y_score), c.roc_auc, "roc_auc");
    close(M.rocAuc(Float64Array.from(c.y_true), Float32Array.from(c.y_score)), c.roc_auc, "roc_auc typed arrays");
  });

  it("multilabel: macro and per-label AUROC", function () {
    const c = ref.multilabel;
    close(M.rocAucMultilabel(c.y_true, c.y_score), c.roc_auc_macro, "roc_auc_macro");
    closeArr(M.rocAucPerLabel(c.y_true, c.y_score), c.roc_auc_per_label, "roc_auc_per_label");
    const r = M.computeMetrics({ task: "multilabel", yTrue: c.y_true, scores: c.y_score });
    close(r.values.roc_auc_macro, c.roc_auc_macro, "computeMetrics roc_auc_macro");
    closeArr(
      r.perClass.map((p) => p.auroc),
      c.roc_auc_per_label,
      "computeMetrics per label",
    );
  });
});

const extra: { meta: Case; cases: Record<string, Case> } = JSON.parse(
  fs.readFileSync(path.join(__dirname, "..", "fixtures", "metrics_extra.json"), "utf8"),
);

/** Checks every label metric the fixture generator writes for (y_true, y_pred). */
function checkLabelMetrics(name: string, c: Case): void {
  const y = c.y_true as number[];
  const p = c.y_pred as number[];
  close(M.accuracy(y, p), c.accuracy, `${name} accuracy`);
  close(M.balancedAccuracy(y, p), c.balanced_accuracy, `${name} balanced_accuracy`);
  if (c.balanced_accuracy_adjusted !== null)
    close(M.balancedAccuracy(y, p, true), c.balanced_accuracy_adjusted, `${name} bacc adjusted`);
  assert.deepEqual(M.confusionMatrix(y, p), c.confusion_matrix, `${name} confusion matrix`);
  close(M.cohenKappa(y, p), c.cohen_kappa, `${name} kappa`);
  close(M.cohenKappa(y, p, "linear"), c.cohen_kappa_linear, `${name} kappa linear`);
  close(M.cohenKappa(y, p, "quadratic"), c.cohen_kappa_quadratic, `${name} kappa quadratic`);
  for (const avg of ["macro", "weighted", "micro"] as const) {
    const r = M.precisionRecallF(y, p, { average: avg });
    close(r.precision, c[`precision_${avg}`], `${name} precision_${avg}`);
    close(r.recall, c[`recall_${avg}`], `${name} recall_${avg}`);
    close(r.fscore, c[`f1_${avg}`], `${name} f1_${avg}`);
  }
  const pc = M.perClassPrf(y, p);
  assert.deepEqual(pc.labels, c.labels, `${name} labels`);
  closeArr(pc.precision, c.per_class.precision, `${name} per-class precision`);
  closeArr(pc.recall, c.per_class.recall, `${name} per-class recall`);
  closeArr(pc.fscore, c.per_class.f1, `${name} per-class f1`);
  assert.deepEqual(pc.support, c.per_class.support, `${name} support`);
  close(M.precisionRecallF(y, p, { average: "macro", beta: 2 }).fscore, c.f2_macro, `${name} f2_macro`);
}

describe(`metrics vs sklearn ${extra.meta.sklearn}: test/fixtures/metrics_extra.json`, function () {
  for (const [name, c] of Object.entries(extra.cases)) {
    it(`${name} (${c.task})`, function () {
      if (c.task !== "multilabel") checkLabelMetrics(name, c);
      if (c.task === "binary") {
        assert.deepEqual(Array.from(M.thresholdScores(c.y_score, c.threshold)), c.y_pred, "thresholded predictions");
        const b = M.precisionRecallF(c.y_true, c.y_pred, { average: "binary" });
        close(b.precision, c.precision, "precision");
        close(b.recall, c.recall, "recall");
        close(b.fscore, c.f1, "f1");
        close(M.rocAuc(c.y_true, c.y_score), c.roc_auc, "roc_auc");
        for (const [key, drop] of [
          ["roc_curve", true],
          ["roc_curve_all", false],
        ] as const) {
          const curve = M.rocCurve(c.y_true, c.y_score, drop);
          closeArr(curve.fpr, c[key].fpr, `${key} fpr`);
          closeArr(curve.tpr, c[key].tpr, `${key} tpr`);
          // sklearn 1.2 writes max+1 as the first threshold; we write +Infinity like sklearn >= 1.3.
          assert.equal(curve.thresholds[0], Infinity);
          closeArr(curve.thresholds.slice(1), c[key].thresholds.slice(1), `${key} thresholds`);
        }
        close(M.expectedCalibrationError(c.y_true, c.y_score), c.ece_15, "ece 15 bins");
        close(M.expectedCalibrationError(c.y_true, c.y_score, 10), c.ece_10, "ece 10 bins");
        const r = M.computeMetrics({ task: "binary", yTrue: c.y_true, scores: c.y_score, threshold: c.threshold });
        for (const k of ["accuracy", "balanced_accuracy", "f1_macro", "f1_weighted", "cohen_kappa", "roc_auc"])
          close(r.values[k], c[k], `computeMetrics ${k}`);
        close(r.values.ece, c.ece_15, "computeMetrics ece");
      }
      if (c.task === "multiclass") {
        if (c.pred_is_argmax) {
          assert.deepEqual(Array.from(M.argmaxRows(c.y_prob)), c.y_pred, "argmax predictions");
          const r = M.computeMetrics({ task: "multiclass", yTrue: c.y_true, scores: c.y_prob });
          for (const k of [
            "accuracy",
            "balanced_accuracy",
            "f1_macro",
            "f1_weighted",
            "cohen_kappa_quadratic",
            "ece",
          ]) {
            close(r.values[k], k === "ece" ? c.ece_15 : c[k], `computeMetrics ${k}`);
          }
          close(r.values.roc_auc_ovr_weighted, c.roc_auc_ovr_weighted, "computeMetrics roc_auc_ovr_weighted");
        }
        close(M.rocAucOvr(c.y_true, c.y_prob), c.roc_auc_ovr_macro, "roc_auc_ovr_macro");
        close(M.rocAucOvr(c.y_true, c.y_prob, "weighted"), c.roc_auc_ovr_weighted, "roc_auc_ovr_weighted");
        close(M.expectedCalibrationError(c.y_true, c.y_prob), c.ece_15, "ece");
        const flat = {
          data: Float64Array.from((c.y_prob as number[][]).flat()),
          rows: c.y_prob.length,
          cols: c.y_prob[0].length,
        };
        close(M.rocAucOvr(c.y_true, flat), c.roc_auc_ovr_macro, "roc_auc_ovr_macro (flat matrix)");
      }
      if (c.task === "multilabel") {
        close(M.rocAucMultilabel(c.y_true, c.y_score), c.roc_auc_macro, "roc_auc_macro");
        close(M.rocAucMultilabel(c.y_true, c.y_score, "weighted"), c.roc_auc_weighted, "roc_auc_weighted");
        closeArr(M.rocAucPerLabel(c.y_true, c.y_score), c.roc_auc_per_label, "roc_auc_per_label");
        close(M.subsetAccuracy(c.y_true, c.y_pred), c.subset_accuracy, "subset_accuracy");
        close(M.hammingLoss(c.y_true, c.y_pred), c.hamming_loss, "hamming_loss");
        const r = M.computeMetrics({ task: "multilabel", yTrue: c.y_true, scores: c.y_score });
        for (const avg of ["macro", "weighted", "micro"]) {
          for (const m of ["precision", "recall", "f1"])
            close(r.values[`${m}_${avg}`], c[`${m}_${avg}`], `${m}_${avg}`);
        }
        close(r.values.subset_accuracy, c.subset_accuracy, "computeMetrics subset_accuracy");
      }
    });
  }
});
