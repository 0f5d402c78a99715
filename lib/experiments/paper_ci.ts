/**
 * Experiment helpers for notebooks 00–02 (LoRA from scratch, seed 000 cytology few-shot, seed 001 mitosis data
 * scaling): the PBC image-folder splits, images decoded once into host arrays, frozen features, the L-BFGS logistic
 * probe and the trained linear head as run records. Host-array helpers (subsets, k-shot, stain shift, decoding) are
 * in lib/data; training runs go through lib/train's trainEvaluate.
 */
import { DataError } from "../errors";
import type { TransformOptions } from "../data/pipeline";
import { imageFolderDataset } from "../data/sources";
import { stratifiedSplit } from "../data/splits";
import type { ImageDataset } from "../data/types";
import { computeMetrics, type MetricsReport, type MetricsTask } from "../metrics";
import type { ImageClassifier } from "../models/types";
import { currentBackend } from "../backend";
import { sharedPath } from "../paths";
import { fitLogisticRegression, predictProba, uniC } from "../peft/probe/logreg";
import { linearHeadPredictProba, trainLinearHead, type LinearHeadOptions } from "../train/linear_head";
import type { JsonValue } from "../results/run_record";
import type { RunBody } from "../results/run_log";
import { type HostImages, mapHostImages, mapHostImagesAsync } from "../data/host_data";
import { loadPreparedDataset } from "../data/prepared";
import { splitOf } from "../data/types";
import { Conv2d } from "../nn/layers";
import { datasetFeatures } from "./run_probe";
import { createModel } from "../models/create";
import { getPretrainedCfg } from "../models/registry";
import type { TrainingCallbacks } from "../train/callbacks";
import { ciVitBackbone } from "./ci_backbone";

/** The PBC JPEG folder split stratified into train / val / test (default 70/10/20, seed 0). */
export interface PbcSplits {
  classes: string[];
  train: ImageDataset;
  val: ImageDataset;
  test: ImageDataset;
}

/** Options of pbcJpegSplits. */
export interface PbcSplitOptions {
  /** Default `$PEFTLAB_SHARED/data/pbc-jpeg`. */
  root?: string;
  seed?: number;
  fractions?: { train: number; val: number; test: number };
  /** Keep only these classes, relabelled 0..k−1 in this order (e.g. a binary stand-in). */
  classes?: string[];
}

/** The PBC image folder as one dataset, optionally only some classes, relabelled 0..k−1 in the given order. */
export function pbcJpegDataset(o: { root?: string; classes?: string[]; name?: string } = {}): ImageDataset {
  let ds = imageFolderDataset(o.root ?? sharedPath("data", "pbc-jpeg"));
  if (o.classes) {
    const idx = o.classes.map((c) => ds.classes.indexOf(c));
    const bad = o.classes.filter((_, i) => idx[i] < 0);
    if (bad.length) {
      throw new DataError("Unknown PBC class", {
        where: "pbcJpegDataset.classes",
        expected: `names from ${ds.classes.join(", ")}`,
        got: bad.join(", "),
      });
    }
    const items = ds.items
      .filter((it) => idx.includes(it.label ?? -1))
      .map((it) => ({ ...it, label: idx.indexOf(it.label!) }));
    ds = { ...ds, classes: [...o.classes], items };
  }
  return o.name ? { ...ds, name: o.name } : ds;
}

/** Loads the PBC image folder (optionally some classes) and splits it stratified by class. */
export function pbcJpegSplits(o: PbcSplitOptions = {}): PbcSplits {
  const ds = pbcJpegDataset(o);
  const s = stratifiedSplit(ds, o.fractions ?? { train: 0.7, val: 0.1, test: 0.2 }, o.seed ?? 0);
  return { classes: ds.classes, train: s.train, val: s.val, test: s.test };
}

/** The train / val / test splits of a prepared dataset (`peftlab data prepare …`): the full-scale path. */
export function preparedSplits(dir: string): PbcSplits {
  const ds = loadPreparedDataset(dir);
  return { classes: ds.classes, train: splitOf(ds, "train"), val: splitOf(ds, "val"), test: splitOf(ds, "test") };
}

/** Names of the 1×1, ungrouped Conv2d modules (a CNN's pointwise convs): LoRA targets for MobileNetV2. */
export function pointwiseConvNames(model: ImageClassifier): string[] {
  return model
    .namedModules()
    .filter(([, m]) => m instanceof Conv2d && m.kernelSize === 1 && m.groups === 1)
    .map(([n]) => n);
}

/** Frozen features of a dataset through lib/peft's on-disk feature cache (via lib/train), as host items ([N, d]). */
export async function cachedHostFeatures(
  model: ImageClassifier,
  modelKey: string,
  ds: ImageDataset,
  transform: TransformOptions,
  o: { batchSize?: number; cacheDir?: string } = {},
): Promise<HostImages & { cached: boolean }> {
  // lib/peft's cache keys entries by the backbone's weights hash, so `modelKey` only names the model in logs.
  void modelKey;
  const f = await datasetFeatures(model, ds, { transform, batchSize: o.batchSize ?? 32, cacheDir: o.cacheDir });
  const labels = Float32Array.from(ds.items, (it) => it.label ?? 0);
  return { x: f.data, n: f.n, itemShape: [f.d], labels, ids: f.ids, cached: f.computed === 0 };
}

/** hostFeatures with asynchronous reads (works on webgpu, where synchronous reads fail). */
export async function hostFeaturesAsync(model: ImageClassifier, h: HostImages, batchSize = 64): Promise<HostImages> {
  const was = model.training;
  model.eval();
  try {
    return await mapHostImagesAsync(h, (x) => model.forwardFeatures(x), batchSize); // [N, d]
  } finally {
    model.train(was);
  }
}

/** Pre-logits features of host images (model in eval mode, no augmentation). */
export function hostFeatures(model: ImageClassifier, h: HostImages, batchSize = 64): HostImages {
  const was = model.training;
  model.eval();
  try {
    return mapHostImages(h, (x) => model.forwardFeatures(x), batchSize); // [N, d]
  } finally {
    model.train(was);
  }
}

/** Record fields every probe run needs. */
export interface ProbeRecordFields {
  modelId: string;
  method: string;
  dataset: string;
  seed: number;
  scale: "ci" | "full";
  dataFraction?: number;
  shots?: number;
  config: { [key: string]: JsonValue };
  /** Backbone parameters (frozen), for the trainable fraction. */
  backboneParams: number;
}

/** A probe's evaluation on one named test set. */
export interface ProbeEval {
  report: MetricsReport;
  scores: Float32Array;
  labels: Float32Array;
}

function evalScores(task: MetricsTask, labels: Float32Array, probs: ArrayLike<number>, k: number): ProbeEval {
  const n = labels.length;
  const s = Float32Array.from(probs);
  const scores = task === "binary" && k === 1 ? s : { data: s, rows: n, cols: k };
  const report = computeMetrics({
    task,
    yTrue: labels,
    scores: task === "binary" && k === 2 ? { data: s, rows: n, cols: 2 } : scores,
  });
  return { report, scores: s, labels };
}

/**
 * The UNI / seed-001 linear probe: scikit-learn-equivalent L-BFGS logistic regression on frozen features, C = d·K/100
 * unless given, evaluated on every named test set (e.g. in-domain and shifted).
 */
export function logisticProbeRun(
  train: HostImages,
  tests: Record<string, HostImages>,
  numClasses: number,
  f: ProbeRecordFields,
  o: { C?: number; maxIter?: number } = {},
): { record: RunBody; evals: Record<string, ProbeEval> } {
  const t0 = new Date();
  const d = train.itemShape[0];
  const C = o.C ?? uniC(d, numClasses);
  const fm = (h: HostImages) => ({ data: h.x, n: h.n, d });
  const model = fitLogisticRegression(fm(train), train.labels, { C, maxIter: o.maxIter ?? 1000 });
  const task: MetricsTask = numClasses === 2 ? "binary" : "multiclass";
  const evals: Record<string, ProbeEval> = {};
  for (const [name, h] of Object.entries(tests)) {
    const p = predictProba(model, fm(h)); // [n, K]
    evals[name] = evalScores(task, h.labels, p, numClasses);
  }
  const trainable = model.W.length + model.b.length;
  return { record: probeRecord(f, evals, trainable, t0, { C, iterations: model.fit.iterations }), evals };
}

/** The seed-000 head-only baseline: a linear head trained with AdamW + warm-up/cosine on cached features. */
export async function linearHeadRun(
  train: HostImages,
  tests: Record<string, HostImages>,
  numClasses: number,
  f: ProbeRecordFields,
  o: LinearHeadOptions,
): Promise<{ record: RunBody; evals: Record<string, ProbeEval> }> {
  const t0 = new Date();
  const d = train.itemShape[0];
  const head = await trainLinearHead({ features: train.x, n: train.n, d, labels: train.labels }, numClasses, o);
  const evals: Record<string, ProbeEval> = {};
  for (const [name, h] of Object.entries(tests)) {
    evals[name] = evalScores("multiclass", h.labels, await linearHeadPredictProba(head, h.x, h.n, d), numClasses);
  }
  const trainable = head.W.size + head.b.size;
  head.W.dispose();
  head.b.dispose();
  return { record: probeRecord(f, evals, trainable, t0, { ...o } as { [k: string]: JsonValue }), evals };
}

function probeRecord(
  f: ProbeRecordFields,
  evals: Record<string, ProbeEval>,
  trainable: number,
  t0: Date,
  extra: { [k: string]: JsonValue },
): RunBody {
  const t1 = new Date();
  return {
    config: f.config,
    modelId: f.modelId,
    method: f.method,
    dataset: f.dataset,
    seed: f.seed,
    dataFraction: f.dataFraction,
    shots: f.shots,
    metrics: Object.fromEntries(Object.entries(evals).map(([k, e]) => [k, { ...e.report.values }])),
    trainableParams: trainable,
    totalParams: trainable + f.backboneParams,
    wallTimeS: (t1.getTime() - t0.getTime()) / 1000,
    backend: currentBackend()?.name ?? "unknown",
    scale: f.scale,
    startedAt: t0.toISOString(),
    finishedAt: t1.toISOString(),
    extra,
  };
}

/** A ViT backbone for a paper notebook: a factory of fresh copies (LoRA injects in place) plus its input pipeline. */
export interface NotebookBackbone {
  modelId: string;
  /** A fresh model with a new `numClasses` head (0 = features only), pretrained weights loaded. */
  make(numClasses: number, seed?: number): Promise<ImageClassifier>;
  /** Eval transform for image files (resize, centre crop, normalisation). */
  transform: TransformOptions;
  /** One line on what the backbone is, for the notebook. */
  description: string;
}

/**
 * `ci`: the CI stand-in ViT (ciVitBackbone, pretrained on PBC-28, cached). `full`: a registered pretrained ViT
 * (`createModel(modelId, { weights })`, e.g. CLIP ViT-B/16 or UNI fetched with `peftlab weights get`).
 */
export async function notebookVitBackbone(
  scale: "ci" | "full",
  o: {
    modelId?: string;
    weights?: string;
    cacheDir?: string;
    dataFile?: string;
    log?: ((s: string) => void) | null;
    /** Live progress of the CI stand-in's one-time pretraining (e.g. a notebook's `dashboard()`). */
    callbacks?: TrainingCallbacks[];
  },
): Promise<NotebookBackbone> {
  if (scale === "ci") {
    const first = await ciVitBackbone({
      cacheDir: o.cacheDir,
      dataFile: o.dataFile,
      log: o.log,
      callbacks: o.callbacks,
    });
    return {
      modelId: first.modelId,
      transform: first.jpegTransform,
      description:
        `${first.modelId}: CI stand-in ViT (patch ${first.arch.patchSize}, dim ${first.arch.embedDim}, depth ${first.arch.depth}), ` +
        `pretrained supervised on PBC-28 train (val accuracy ${first.report.valAccuracy.toFixed(3)}); ${first.cached ? "loaded from cache" : "pretrained now"}`,
      make: async (numClasses, seed = 0) =>
        (await ciVitBackbone({ cacheDir: o.cacheDir, dataFile: o.dataFile, numClasses, headSeed: seed, log: null }))
          .model,
    };
  }
  if (!o.modelId || !o.weights) {
    throw new DataError("The full-scale backbone needs a model id and a weights file", {
      where: "notebookVitBackbone(full)",
      expected: "modelId (see listPretrained()) and weights (a safetensors file)",
      got: `modelId ${o.modelId ?? "(none)"}, weights ${o.weights ?? "(none)"}`,
      fix: "fetch the weights with `peftlab weights get <repo>` and set MODEL_ID / WEIGHTS in the parameters cell",
    });
  }
  const cfg = getPretrainedCfg(o.modelId);
  const size = cfg.inputSize[1];
  return {
    modelId: o.modelId,
    transform: { size, resize: Math.round(size / cfg.cropPct), normalize: { mean: [...cfg.mean], std: [...cfg.std] } },
    description: `${o.modelId} (${cfg.source})`,
    make: async (numClasses, seed = 0) => createModel(o.modelId!, { weights: o.weights, numClasses, seed }),
  };
}
