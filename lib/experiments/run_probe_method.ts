/**
 * runExperiment's probe methods on frozen features (lib/peft's cache): scikit-learn's logistic regression, DINO's
 * weighted kNN, or a Linear head trained by fit() on the cached features (checkpoints, resume, metrics.jsonl); each
 * evaluated on val and test, its weights written to the run folder.
 */
import * as path from "node:path";
import { writeSafetensors } from "../io/safetensors";
import type { ImageDataset } from "../data/types";
import { HostBatches } from "../data/host_batches";
import { Linear } from "../nn/layers";
import { SeedSequence } from "../nn/init";
import type { ImageClassifier } from "../models/types";
import { fitLogisticRegression, knnPredictProba, uniC } from "../peft/probe";
import type { JsonValue } from "../results/run_record";
import { fit, type FitResult } from "../train/fit";
import type { RunConfig } from "./run_config";
import { runTransform, type RunSplits } from "./run_data";
import { fitOptionsFrom, metricsJsonlWriter, type MethodResult, type RunExperimentOptions } from "./run_methods";
import type { RunModelSpec } from "./run_models";
import { scoresReport } from "./run_predict";
import {
  datasetFeatures,
  padColumns,
  saveSoftmaxProbe,
  selectRows,
  softmaxProbeOf,
  softmaxProbeProba,
  type DatasetFeatures,
  type SoftmaxProbe,
} from "./run_probe";

/** logreg / kNN / linear head: frozen features (lib/peft's cache), then a probe; evaluated on val and test. */
export async function runProbe(
  cfg: RunConfig,
  spec: RunModelSpec,
  model: ImageClassifier,
  s: RunSplits,
  K: number,
  o: RunExperimentOptions,
  log: (l: string) => void,
): Promise<MethodResult> {
  const feats = await datasetFeatures(model, s.all, {
    transform: runTransform(cfg, spec, false),
    batchSize: cfg.training.evalBatchSize,
    workers: cfg.data.workers,
    cacheDir: o.cacheDir,
    log,
  });
  const tr = selectRows(feats, s.train);
  const labels = (ds: ImageDataset) => Float32Array.from(ds.items, (it) => it.label ?? 0);
  const m = cfg.method;
  const backboneParams = model.numParameters() - K * (model.numFeatures + 1);
  let predict: (x: DatasetFeatures) => Float32Array;
  let trainable = K * (feats.d + 1);
  let fitRes: FitResult | undefined;
  const extra: { [k: string]: JsonValue } = { featureCache: path.join(feats.cacheDir, `${feats.key}.safetensors`) };
  if (m.kind === "logreg") {
    const C = m.C === "auto" ? uniC(feats.d, K) : m.C;
    const lr = fitLogisticRegression(tr, labels(s.train), { C, maxIter: m.maxIter, tol: m.tol });
    log(`logreg: C=${C}, ${lr.fit.iterations} L-BFGS iterations (${lr.fit.reason})`);
    Object.assign(extra, { C, iterations: lr.fit.iterations, converged: lr.fit.converged });
    const p = softmaxProbeOf(lr, K);
    if (o.out) saveSoftmaxProbe(o.out, p, { method: "logreg", C: String(C), binary: String(lr.binary) });
    predict = (x) => softmaxProbeProba(p, x);
  } else if (m.kind === "knn") {
    trainable = 0;
    const train = { features: tr.data, n: tr.n, d: tr.d, labels: labels(s.train) };
    if (o.out)
      writeSafetensors(
        path.join(o.out, "knn.safetensors"),
        new Map([
          ["features", { dtype: "float32", shape: [tr.n, tr.d], data: tr.data }],
          ["labels", { dtype: "float32", shape: [tr.n], data: train.labels }],
        ]),
      );
    predict = (x) => {
      const r = knnPredictProba(train, { features: x.data, n: x.n, d: x.d }, { k: m.k });
      return padColumns(r.proba, x.n, r.numClasses, K);
    };
  } else {
    const r = await trainHeadOnFeatures(cfg, feats, tr, labels, s, K, o);
    fitRes = r.fit;
    predict = (x) => softmaxProbeProba(r.probe, x);
  }
  const metrics: MethodResult["metrics"] = {};
  let testEval: MethodResult["testEval"];
  for (const [name, ds] of [
    ["val", s.val],
    ["test", s.test],
  ] as const) {
    if (!ds) continue;
    const x = selectRows(feats, ds);
    const scores = predict(x);
    const y = labels(ds);
    metrics[name] = scoresReport(cfg.task, scores, K, y).values;
    if (name === "test") testEval = { scores, labels: y, ids: x.ids, numOutputs: K };
  }
  return {
    metrics,
    trainable,
    total: backboneParams + trainable,
    testEval,
    fit: fitRes,
    stopped: fitRes !== undefined && o.stopAfterSteps !== undefined && fitRes.history.length < cfg.training.epochs,
    extra,
  };
}

/** The `linear` method: a Linear head trained by fit() on cached features (checkpoints, resume, metrics.jsonl). */
async function trainHeadOnFeatures(
  cfg: RunConfig,
  feats: DatasetFeatures,
  tr: DatasetFeatures,
  labels: (ds: ImageDataset) => Float32Array,
  s: RunSplits,
  K: number,
  o: RunExperimentOptions,
): Promise<{ fit: FitResult; probe: SoftmaxProbe }> {
  const head = new Linear(feats.d, K, { seeds: new SeedSequence(cfg.seed) });
  try {
    // Cached features as host items [n, d] with int32 class labels.
    const rows = (f: DatasetFeatures, ds: ImageDataset, batchSize: number, shuffle: boolean) =>
      new HostBatches(
        { x: f.data, n: f.n, itemShape: [f.d], labels: labels(ds), ids: f.ids },
        { batchSize, shuffle, seed: cfg.seed, labelDtype: "int32" },
      );
    const src = rows(tr, s.train, cfg.training.batchSize, true);
    const val = s.val ? rows(selectRows(feats, s.val), s.val, cfg.training.evalBatchSize, false) : undefined;
    const fr = await fit(
      head,
      src,
      fitOptionsFrom(cfg, {
        val,
        checkpointDir: o.out && path.join(o.out, "checkpoints"),
        resume: o.resume,
        callbacks: [...(o.callbacks ?? []), ...(o.out ? [metricsJsonlWriter(path.join(o.out, "metrics.jsonl"))] : [])],
        stopAfterSteps: o.stopAfterSteps,
      }),
    );
    const sd = await head.stateDictAsync(); // torch layout: weight [K, d]
    const probe = {
      weight: Float32Array.from(sd.get("weight")!.data as Float32Array),
      bias: Float32Array.from(sd.get("bias")!.data as Float32Array),
      k: K,
      d: feats.d,
    };
    if (o.out) saveSoftmaxProbe(o.out, probe, { method: "linear" });
    return { fit: fr, probe };
  } finally {
    head.dispose();
  }
}
