/**
 * Notebook 05's runs of Paper 5 (seed 004; Davila et al. 2024, arXiv 2406.10050): the data of each modality, the
 * reference linear probe on the frozen backbone, and one `trainEvaluate` per cell (strategy × backbone × modality ×
 * seed), at both scales. CI scale: the shared ImageNet MobileNetV2-0.35 split at `tailStage` (lib/models/cnn_prefix);
 * the frozen prefix runs once per image and its outputs are cached, so every strategy acts on the tail stages and a
 * new head. Full scale: torchvision CNNs from `peftlab weights get`, prepared datasets through lib/data's DataLoader.
 */
import * as path from "node:path";
import { ConfigError } from "../../errors";
import { loadNpzSplits, type HostImages, type HostSplits } from "../../data/host_data";
import { loadPreparedDataset } from "../../data/prepared";
import { splitOf, type ImageDataset } from "../../data/types";
import type { StateDict } from "../../io/host_tensor";
import { splitCnnAtStage, type CnnPrefixSplit } from "../../models/cnn_prefix";
import { createModel } from "../../models/create";
import { loadSharedMobileNetV2 } from "../../models/convert/keras_mobilenet";
import type { ImageClassifier } from "../../models/types";
import type { RunBody } from "../../results/run_log";
import { freezeBatchNormStats, type TrainingCallbacks } from "../../train/callbacks";
import { trainEvaluate, type TrainEvalResult } from "../../train/train_evaluate";
import { cachedHostFeatures, hostFeatures } from "../host_features";
import { logisticProbeRun } from "../probe_runs";
import { hostTransferData, loaderTransferData, mapHostSplits, type TransferData } from "../transfer_data";
import { DAVILA_STRATEGIES, davilaRecipe, majorityAccuracy, type DavilaStrategyName } from "./davila2024";
import {
  davilaHyperparametersOf,
  validateDavilaSettings,
  type DavilaNotebookSettings,
  type DavilaScale,
} from "./davila2024_notebook";

/** The model id of the shared CI backbone. */
export const DAVILA_CI_BACKBONE = "mobilenetv2_035_224.tfjs_keras";
/** The reference row's method name in run tables. */
export const DAVILA_PROBE_METHOD = "linear probe (frozen)";

/** One modality's data. CI: outputs of the frozen prefix per split (the tail's inputs). Full: prepared splits. */
export interface DavilaModalityData {
  name: string;
  classes: string[];
  cached: HostSplits | null;
  prepared: { train: ImageDataset; val: ImageDataset; test: ImageDataset } | null;
  /** Test labels, for the majority-class (constant guess) accuracy. */
  testLabels: Float32Array;
}

/** The CI backbone: the whole CNN (its weights restored before every run) and its prefix / tail split. */
export interface DavilaCiBackbone {
  modelId: string;
  base: ImageClassifier;
  split: CnnPrefixSplit;
  weights: StateDict;
}

/** What every cell of notebook 05 shares. */
export interface DavilaContext {
  scale: DavilaScale;
  settings: DavilaNotebookSettings;
  modalities: DavilaModalityData[];
  /** CI only (null at full scale). */
  ci: DavilaCiBackbone | null;
  /** Full only: `<weightsDir>/<backbone>/model.safetensors`. */
  weightsDir: string;
}

/** One cell of the grid. */
export interface DavilaCellSpec {
  modality: string;
  backbone: string;
  strategy: DavilaStrategyName;
  seed: number;
}

/**
 * The CI context from images already in memory: splits `base` at `settings.tailStage` and caches the prefix's
 * outputs of every split ([N, H, W, 3] → [N, h, w, c]). `base` keeps its pretrained weights (a copy is kept).
 */
export function davilaCiContext(
  settings: DavilaNotebookSettings,
  base: ImageClassifier,
  images: readonly { name: string; splits: HostSplits }[],
  modelId = DAVILA_CI_BACKBONE,
): DavilaContext {
  validateDavilaSettings(settings);
  if (settings.tailStage === null) {
    throw new ConfigError("The CI path caches a frozen prefix and needs a tail stage", {
      where: "davilaCiContext(settings.tailStage)",
      expected: 'a stage name such as "features.14"',
      got: "null",
      fix: 'use DAVILA_NOTEBOOK_SETTINGS.ci or set tailStage (null is the full-scale "nothing cached")',
    });
  }
  base.eval();
  const split = splitCnnAtStage(base, settings.tailStage);
  const modalities = images.map(({ name, splits }) => ({
    name,
    classes: splits.classes,
    cached: mapHostSplits(splits, split.prefix),
    prepared: null,
    testLabels: splits.test.labels,
  }));
  return { scale: "ci", settings, modalities, ci: { modelId, base, split, weights: base.stateDict() }, weightsDir: "" };
}

/** The CI context from $PEFTLAB_SHARED: each modality's .npz at `imgSize` (mean = std = 0.5, as the CNN expects). */
export function loadDavilaCi(settings: DavilaNotebookSettings, shared: string): DavilaContext {
  const caps = Object.fromEntries(
    Object.entries(settings.maxItems).filter((e): e is [string, number] => e[1] !== null),
  );
  const images = settings.modalities.map((m) => {
    if (m.kind !== "npz") {
      throw new ConfigError("CI-scale modalities are .npz files", {
        where: `DavilaNotebookSettings.modalities (${m.name})`,
        expected: '{ kind: "npz", file }',
        got: m.kind,
      });
    }
    const splits = loadNpzSplits(path.join(shared, "data", m.file), {
      size: settings.imgSize,
      mean: [0.5, 0.5, 0.5],
      std: [0.5, 0.5, 0.5],
      seed: 0,
      maxItems: caps,
    });
    return { name: m.name, splits };
  });
  return davilaCiContext(settings, loadSharedMobileNetV2(), images);
}

/** The full-scale context: one prepared dataset per modality under `dataRoot`; weights under `weightsDir`. */
export function loadDavilaFull(
  settings: DavilaNotebookSettings,
  o: { dataRoot: string; weightsDir: string },
): DavilaContext {
  validateDavilaSettings(settings);
  const modalities = settings.modalities.map((m): DavilaModalityData => {
    if (m.kind !== "prepared") {
      throw new ConfigError("Full-scale modalities are prepared dataset folders", {
        where: `DavilaNotebookSettings.modalities (${m.name})`,
        expected: '{ kind: "prepared", dir }',
        got: m.kind,
        fix: "prepare each dataset with `peftlab data prepare …` and list its folder",
      });
    }
    const ds = loadPreparedDataset(path.join(o.dataRoot, m.dir));
    const test = splitOf(ds, "test");
    return {
      name: m.name,
      classes: ds.classes,
      cached: null,
      prepared: { train: splitOf(ds, "train"), val: splitOf(ds, "val"), test },
      testLabels: Float32Array.from(test.items, (it) => it.label ?? 0),
    };
  });
  return { scale: "full", settings, modalities, ci: null, weightsDir: o.weightsDir };
}

/** The context of the settings' scale: loadDavilaCi (from `shared`) or loadDavilaFull (from `dataRoot`, `weightsDir`). */
export function loadDavilaContext(
  settings: DavilaNotebookSettings & { scale: DavilaScale },
  o: { shared: string; dataRoot: string; weightsDir: string },
): DavilaContext {
  return settings.scale === "ci" ? loadDavilaCi(settings, o.shared) : loadDavilaFull(settings, o);
}

/** One row per modality: classes and split sizes (CI: after the caps), and the majority-class test accuracy. */
export function davilaDataRows(
  c: DavilaContext,
): { modality: string; classes: number; train: number; val: number; test: number; majority_test_accuracy: number }[] {
  const n = (m: DavilaModalityData, k: "train" | "val" | "test") => m.cached?.[k].n ?? m.prepared![k].items.length;
  return c.modalities.map((m) => ({
    modality: m.name,
    classes: m.classes.length,
    train: n(m, "train"),
    val: n(m, "val"),
    test: n(m, "test"),
    majority_test_accuracy: +majorityAccuracy(m.testLabels).toFixed(3),
  }));
}

/** CI: the backbone's stages and which of them train (the tail); full: one row per backbone, every stage trains. */
export function davilaStageRows(c: DavilaContext): { backbone: string; stage: string; trains: boolean }[] {
  if (!c.ci) return c.settings.backbones.map((backbone) => ({ backbone, stage: "all", trains: true }));
  const tail = new Set(c.ci.split.tail.stages().map((s) => s.name));
  return c.ci.base.stages().map((s) => ({ backbone: c.ci!.modelId, stage: s.name, trains: tail.has(s.name) }));
}

/** Every cell: modality × backbone × strategy × seed, in that nesting order. */
export function davilaSpecs(c: DavilaContext): DavilaCellSpec[] {
  const st = c.settings;
  return c.modalities.flatMap((m) =>
    st.backbones.flatMap((backbone) =>
      DAVILA_STRATEGIES.flatMap((strategy) => st.seeds.map((seed) => ({ modality: m.name, backbone, strategy, seed }))),
    ),
  );
}

/** Majority-class (constant guess) test accuracy per modality: the level an arm must clear. */
export function davilaMajority(c: DavilaContext): Map<string, number> {
  return new Map(c.modalities.map((m) => [m.name, majorityAccuracy(m.testLabels)]));
}

function modalityOf(c: DavilaContext, name: string): DavilaModalityData {
  const m = c.modalities.find((x) => x.name === name);
  if (!m) {
    throw new ConfigError("Unknown modality", {
      where: "DavilaCellSpec.modality",
      expected: c.modalities.map((x) => x.name).join(", "),
      got: name,
    });
  }
  return m;
}

const FULL_TRANSFORM = { size: 224, resize: 256, normalize: "imagenet" as const };

/** A fresh model of one cell, its data sources and the frozen parameters outside it. */
function cellModel(
  spec: DavilaCellSpec,
  c: DavilaContext,
  m: DavilaModalityData,
): { model: ImageClassifier; data: TransferData; outside: number; owned: boolean } {
  const st = c.settings;
  const K = m.classes.length;
  const opts = { batchSize: st.batchSize, evalBatchSize: 128, seed: spec.seed, labelDtype: "int32" as const };
  if (c.ci && m.cached) {
    const { base, split, weights } = c.ci;
    base.loadStateDict(weights, { strict: false }); // pretrained weights back; the head is re-created below
    base.resetClassifier(K, spec.seed);
    const model = split.tail;
    return {
      model,
      data: hostTransferData(m.cached, opts),
      outside: base.numParameters() - model.numParameters(),
      owned: false,
    };
  }
  const model = createModel(spec.backbone, {
    weights: path.join(c.weightsDir, spec.backbone, "model.safetensors"),
    numClasses: K,
    seed: spec.seed,
  });
  const data = loaderTransferData(m.prepared!, {
    ...opts,
    evalBatchSize: 64,
    transform: { ...FULL_TRANSFORM, size: st.imgSize, augment: { hflip: 0.5 } },
  });
  return { model, data, outside: 0, owned: true };
}

/** One cell: the strategy sets the trainable set every epoch; the best validation-accuracy epoch is tested. */
export async function runDavilaCell(
  spec: DavilaCellSpec,
  c: DavilaContext,
  callbacks: TrainingCallbacks[] = [],
): Promise<TrainEvalResult> {
  const st = c.settings;
  const m = modalityOf(c, spec.modality);
  const recipe = davilaRecipe(spec.strategy, davilaHyperparametersOf(st));
  const { model, data, outside, owned } = cellModel(spec, c, m);
  const K = m.classes.length;
  try {
    return await trainEvaluate({
      model,
      strategy: recipe.strategy,
      train: data.train,
      val: data.val,
      test: data.test,
      callbacks: [...(st.freezeBatchNorm ? [freezeBatchNormStats(model)] : []), ...callbacks],
      fit: {
        task: K === 2 ? "binary" : "multiclass",
        epochs: st.epochs,
        seed: spec.seed,
        optimizer: { name: "adam", lr: recipe.lr },
      },
      monitor: "val_accuracy",
      modelId: spec.backbone,
      method: spec.strategy,
      dataset: spec.modality,
      seed: spec.seed,
      scale: c.scale,
      frozenParamsOutside: outside,
      config: {
        ...spec,
        lr: recipe.lr,
        epochs: st.epochs,
        imgSize: st.imgSize,
        cut: st.tailStage ?? "none",
        freezeBatchNorm: st.freezeBatchNorm,
      },
    });
  } finally {
    if (owned) model.dispose();
    await data.close();
  }
}

/**
 * The reference of every modality × backbone: L-BFGS logistic regression (C = d·K/100) on the frozen backbone's
 * pooled pre-logits features, trained on the same training split. CI: the tail with its pretrained weights, on the
 * cached prefix outputs; full: the whole backbone through lib/peft's feature cache.
 */
export async function davilaProbeRuns(c: DavilaContext): Promise<RunBody[]> {
  const out: RunBody[] = [];
  for (const m of c.modalities) {
    for (const backbone of c.settings.backbones) {
      const K = m.classes.length;
      let feats: Record<"train" | "val" | "test", HostImages>;
      let backboneParams: number;
      if (c.ci && m.cached) {
        const { base, split, weights } = c.ci;
        base.loadStateDict(weights, { strict: false });
        const f = (h: HostImages) => hostFeatures(split.tail, h); // [N, d]
        feats = { train: f(m.cached.train), val: f(m.cached.val), test: f(m.cached.test) };
        backboneParams = base.numParameters();
      } else {
        const model = createModel(backbone, {
          weights: path.join(c.weightsDir, backbone, "model.safetensors"),
          numClasses: 0,
        });
        try {
          const t = { ...FULL_TRANSFORM, size: c.settings.imgSize };
          const p = m.prepared!;
          feats = {
            train: await cachedHostFeatures(model, backbone, p.train, t),
            val: await cachedHostFeatures(model, backbone, p.val, t),
            test: await cachedHostFeatures(model, backbone, p.test, t),
          };
          backboneParams = model.numParameters();
        } finally {
          model.dispose();
        }
      }
      const { record } = logisticProbeRun(
        feats.train,
        { val: feats.val, test: feats.test },
        K,
        {
          modelId: backbone,
          method: DAVILA_PROBE_METHOD,
          dataset: m.name,
          seed: 0,
          scale: c.scale,
          config: { modality: m.name, backbone, imgSize: c.settings.imgSize, cut: c.settings.tailStage ?? "none" },
          backboneParams,
        },
        { maxIter: c.settings.probe.maxIter },
      );
      out.push(record);
    }
  }
  return out;
}
