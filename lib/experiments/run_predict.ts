/**
 * Using a finished run folder: rebuild its model from config.json, put the trained result back (probe, kNN memory,
 * LoRA adapter or full weights), and predict on new data whose classes are mapped to the run's by name.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { CheckpointError } from "../errors";
import { readSafetensors } from "../io/safetensors";
import { DataLoader } from "../data/loader";
import type { ImageDataset } from "../data/types";
import { computeMetrics, type MetricsReport, type MetricsTask } from "../metrics";
import { loadAdapterAsync } from "../peft/lora/save";
import type { RunRecord } from "../results/run_record";
import { evaluate, type EvalResult } from "../train/evaluate";
import type { Predictions } from "./preds_csv";
import { knnPredictProba } from "../peft/probe";
import { datasetFeatures, loadSoftmaxProbe, padColumns, softmaxProbeProba } from "./run_probe";
import { resolveRunConfig, type RunConfig } from "./run_config";
import { mapClassesByName, runTransform } from "./run_data";
import { runModelSpec } from "./run_models";
import { currentBackend, initBackend } from "../backend";

/** Metrics from probabilities [N, K] and labels (binary with K = 2 uses the class-1 column). */
export function scoresReport(task: MetricsTask, scores: Float32Array, k: number, labels: Float32Array): MetricsReport {
  const n = labels.length / (task === "multilabel" ? k : 1);
  return computeMetrics({
    task,
    yTrue: task === "multilabel" ? { data: labels, rows: n, cols: k } : labels,
    scores: { data: scores, rows: n, cols: k },
  });
}

/** Predictions (for preds.csv) from an evaluation; binary tasks write the probability of class 1 as `score`. */
export function predictionsOf(
  task: MetricsTask,
  r: Pick<EvalResult, "scores" | "labels" | "ids" | "numOutputs">,
): Predictions {
  const n = r.ids.length;
  const k = r.numOutputs;
  let scores = Float64Array.from(r.scores);
  let cols = k;
  if (task === "binary" && k === 2) {
    scores = Float64Array.from({ length: n }, (_, i) => r.scores[i * 2 + 1]);
    cols = 1;
  }
  return {
    task,
    ids: r.ids,
    labels: Float64Array.from(r.labels),
    labelCols: task === "multilabel" ? k : 1,
    scores,
    scoreCols: cols,
  };
}

/** A run folder, loaded. */
export interface LoadedRun {
  dir: string;
  config: RunConfig;
  summary: RunRecord;
  classes: string[];
}

/** Reads a run folder's config.json and summary.json. */
export function loadRun(dir: string): LoadedRun {
  for (const f of ["config.json", "summary.json"]) {
    if (!fs.existsSync(path.join(dir, f))) {
      throw new CheckpointError("Not a finished run folder", {
        where: dir,
        expected: "config.json and summary.json (written by peftlab train)",
        got: `no ${f}`,
        fix: "pass the --out folder of a finished `peftlab train` (resume it if it was interrupted)",
      });
    }
  }
  const config = resolveRunConfig(JSON.parse(fs.readFileSync(path.join(dir, "config.json"), "utf8")));
  const summary = JSON.parse(fs.readFileSync(path.join(dir, "summary.json"), "utf8")) as RunRecord;
  const classes = (summary.extra?.classes as string[] | undefined) ?? [];
  return { dir, config, summary, classes };
}

/** Predicts on `data` with a finished run; the data's classes are mapped to the run's by name. */
export async function predictWithRun(
  run: LoadedRun,
  data: ImageDataset,
  o: { batchSize?: number } = {},
): Promise<Pick<EvalResult, "scores" | "labels" | "ids" | "numOutputs"> & { report: MetricsReport }> {
  const cfg = run.config;
  const cur = currentBackend();
  if (!cur || (cfg.backend !== "auto" && cur.name !== cfg.backend))
    await initBackend({ prefer: cfg.backend, log: null });
  const ds = mapClassesByName(data, run.classes, "--data");
  const spec = runModelSpec(cfg.model.id);
  const K = run.classes.length;
  const weights = cfg.model.weights ?? spec.defaultWeights();
  const model = spec.build({ weights, numClasses: K, seed: cfg.seed, args: cfg.model.args });
  const bs = o.batchSize ?? cfg.training.evalBatchSize;
  const transform = runTransform(cfg, spec, false);
  const labels = Float32Array.from(ds.items, (it) => it.label ?? 0);
  try {
    const m = cfg.method;
    if (m.kind === "logreg" || m.kind === "linear" || m.kind === "knn") {
      const feats = await datasetFeatures(model, ds, { transform, batchSize: bs, workers: cfg.data.workers });
      let scores: Float32Array;
      if (m.kind === "knn") {
        const t = readSafetensors(path.join(run.dir, "knn.safetensors")).tensors;
        const f = t.get("features")!;
        const train = {
          features: f.data as Float32Array,
          n: f.shape[0],
          d: f.shape[1],
          labels: t.get("labels")!.data as Float32Array,
        };
        const r = knnPredictProba(train, { features: feats.data, n: feats.n, d: feats.d }, { k: m.k });
        scores = padColumns(r.proba, feats.n, r.numClasses, K);
      } else {
        scores = softmaxProbeProba(loadSoftmaxProbe(run.dir), feats);
      }
      return { scores, labels, ids: feats.ids, numOutputs: K, report: scoresReport(cfg.task, scores, K, labels) };
    }
    if (m.kind === "lora") await loadAdapterAsync(model, path.join(run.dir, "adapter"));
    else model.loadStateDict(readSafetensors(path.join(run.dir, "model.safetensors")).tensors, { strict: true });
    const dl = new DataLoader(ds, {
      batchSize: bs,
      transform,
      augment: false,
      shuffle: false,
      workers: cfg.data.workers,
    });
    try {
      const r = await evaluate(model, dl, cfg.task);
      return { scores: r.scores, labels: r.labels, ids: r.ids, numOutputs: r.numOutputs, report: r.report };
    } finally {
      await dl.close();
    }
  } finally {
    model.dispose();
  }
}
