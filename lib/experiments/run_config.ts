/**
 * RunConfig: one experiment as validated plain data (model, data, method, training, task, seed, backend). The JSON
 * file uses the same camelCase keys as the runtime object; unknown keys warn and are dropped; every error names the
 * field. `resolveRunConfig` fills defaults and expands `${PEFTLAB_SHARED}` in paths, so the resolved object written
 * to a run folder's config.json re-runs the same experiment.
 */
import { ConfigError } from "../errors";
import type { AugmentOptions } from "../data/pipeline";
import type { NormalizeSpec } from "../data/transforms";
import type { MetricsTask } from "../metrics";
import type { LoraOptions } from "../peft/lora/config";
import { STRATEGY_NAMES, type StrategyName } from "../peft/strategies/registry";
import type { OptimizerOptions } from "../train/optim";
import type { ScheduleOptions } from "../train/schedule";
import { expandPath, int, num, obj, type Obj, oneOf, type PathOptions, req, str } from "./config_fields";

/** Where the images come from. A manifest may be a CSV/JSON manifest or a prepared folder's dataset.json. */
export type DataSourceConfig =
  { kind: "imageFolder"; path: string } | { kind: "manifest"; path: string } | { kind: "npz"; path: string };

/** How to split: stratified fractions with a seed, or the source's own split column / folders / npz keys. */
export type SplitConfig = { kind: "stratified"; fractions: Record<string, number>; seed: number } | { kind: "source" };

/** Image transform; `normalize: "model"` takes the model's own normalisation. */
export interface RunTransformConfig {
  /** Input side; default the model's. */
  size?: number;
  resize?: number;
  normalize: NormalizeSpec | "model";
  augment?: AugmentOptions;
}

export interface RunDataConfig {
  source: DataSourceConfig;
  split: SplitConfig;
  /** Subsample the training split (stratified, seeded): `perClass` images per class or a `fraction`. Val/test stay full. */
  trainSubset?: { perClass?: number; fraction?: number };
  transform: RunTransformConfig;
  /** worker_threads for decoding (0: this thread + sharp's pool). */
  workers: number;
}

export interface RunModelConfig {
  /** A model id known to `runModelIds()`: a registry id ("mobilenetv2_035_224.tfjs_keras") or "fixture:<case>". */
  id: string;
  /** Weights file or folder; default the model's own (shared weights, fixtures). */
  weights?: string;
  /** Number of classes of the new head: a number, or "data" (the dataset's class count). */
  numClasses: number | "data";
  /**
   * Architecture-argument overrides (snake_case, createModel's `args`), e.g. `{ "bn_momentum": 0.1 }`: the Keras
   * MobileNetV2 keeps Keras's 0.001, with which BatchNorm running statistics barely move during a short fine-tune.
   */
  args?: Record<string, unknown>;
}

/** What is adapted and how. */
export type MethodConfig =
  | { kind: "logreg"; C: number | "auto"; maxIter: number; tol: number }
  | { kind: "linear" }
  | { kind: "knn"; k: number }
  | { kind: "lora"; lora: Partial<LoraOptions> & { targetModules: string[] | string } }
  | { kind: "strategy"; name: StrategyName; options?: Record<string, unknown> };

/** The options fit() takes, as data, plus batch sizes. */
export interface RunTrainingConfig {
  epochs: number;
  batchSize: number;
  evalBatchSize: number;
  optimizer: OptimizerOptions;
  schedule?: ScheduleOptions | { kind: "warmup_cosine_auto"; warmupSteps: number; minLr?: number };
  loss?: { labelSmoothing?: number; classWeights?: number[]; posWeight?: number[] };
  earlyStoppingPatience?: number;
  monitor?: string;
  mode?: "min" | "max";
  gradAccumSteps: number;
  maxGradNorm?: number;
  checkpointEverySteps?: number;
}

/** One experiment, resolved: every default filled and every path expanded. */
export interface RunConfig {
  name: string;
  notes?: string;
  task: MetricsTask;
  seed: number;
  backend: "auto" | "wasm" | "cpu" | "node" | "node-gpu" | "webgpu";
  scale: "ci" | "full";
  model: RunModelConfig;
  data: RunDataConfig;
  method: MethodConfig;
  training: RunTrainingConfig;
}

/** Options of resolveRunConfig. */
export interface ResolveOptions extends PathOptions {
  /** Where unknown-key warnings go (default console.warn). Relative paths resolve against baseDir (the config
   * file's folder; default the working directory). */
  warn?: (msg: string) => void;
}

/** Validates raw config data (parsed JSON or a notebook object), fills defaults and expands paths. */
export function resolveRunConfig(raw: unknown, opts: ResolveOptions = {}): RunConfig {
  const warn = opts.warn ?? ((m: string) => console.warn(m));
  const p = (s: string, where: string) => expandPath(s, where, opts);
  const r = obj(
    raw,
    "config",
    ["name", "notes", "task", "seed", "backend", "scale", "model", "data", "method", "training"],
    warn,
  );
  const seed = int(r.seed ?? 0, "seed", 0);
  const model = obj(req(r.model, "model"), "model", ["id", "weights", "numClasses", "args"], warn);
  const data = obj(req(r.data, "data"), "data", ["source", "split", "trainSubset", "transform", "workers"], warn);
  const cfg: RunConfig = {
    name: str(r.name ?? "run", "name"),
    notes: r.notes === undefined ? undefined : str(r.notes, "notes"),
    task: oneOf(r.task ?? "multiclass", "task", ["binary", "multiclass", "multilabel"] as const),
    seed,
    backend: oneOf(r.backend ?? "auto", "backend", ["auto", "wasm", "cpu", "node", "node-gpu", "webgpu"] as const),
    scale: oneOf(r.scale ?? "ci", "scale", ["ci", "full"] as const),
    model: {
      id: str(req(model.id, "model.id"), "model.id"),
      weights: model.weights === undefined ? undefined : p(str(model.weights, "model.weights"), "model.weights"),
      numClasses:
        model.numClasses === undefined || model.numClasses === "data"
          ? "data"
          : int(model.numClasses, "model.numClasses", 1),
      ...(model.args === undefined ? {} : { args: obj(model.args, "model.args", null, warn) }),
    },
    data: resolveData(data, seed, p, warn),
    method: resolveMethod(req(r.method, "method"), warn),
    training: resolveTraining(r.training ?? {}, warn),
  };
  if (cfg.method.kind === "lora" || cfg.method.kind === "strategy") {
    if (r.training === undefined)
      throw new ConfigError("Missing field", {
        where: "training",
        expected: `training options for method ${cfg.method.kind}`,
        got: "undefined",
        fix: 'add "training": { "epochs": ..., "batchSize": ..., "optimizer": { "name": "adamw", "lr": ... } }',
      });
  }
  return cfg;
}

function resolveData(
  d: Obj,
  seed: number,
  p: (s: string, w: string) => string,
  warn: (m: string) => void,
): RunDataConfig {
  const src = obj(req(d.source, "data.source"), "data.source", ["kind", "path"], warn);
  const kind = oneOf(req(src.kind, "data.source.kind"), "data.source.kind", [
    "imageFolder",
    "manifest",
    "npz",
  ] as const);
  const source: DataSourceConfig = {
    kind,
    path: p(str(req(src.path, "data.source.path"), "data.source.path"), "data.source.path"),
  };
  const sp = obj(
    d.split ?? { kind: kind === "npz" ? "source" : "stratified" },
    "data.split",
    ["kind", "fractions", "seed"],
    warn,
  );
  const skind = oneOf(sp.kind ?? "stratified", "data.split.kind", ["stratified", "source"] as const);
  let split: SplitConfig = { kind: "source" };
  if (skind === "stratified") {
    const fr = obj(sp.fractions ?? { train: 0.7, val: 0.1, test: 0.2 }, "data.split.fractions", null, warn);
    const fractions: Record<string, number> = {};
    for (const [k, v] of Object.entries(fr)) fractions[k] = num(v, `data.split.fractions.${k}`, 0, 1);
    const sum = Object.values(fractions).reduce((a, b) => a + b, 0);
    if (Math.abs(sum - 1) > 1e-6)
      throw new ConfigError("Split fractions must sum to 1", {
        where: "data.split.fractions",
        expected: "sum 1",
        got: JSON.stringify(fractions),
      });
    if (!("train" in fractions) || !("test" in fractions))
      throw new ConfigError("Split needs train and test", {
        where: "data.split.fractions",
        expected: "keys train, test (and usually val)",
        got: Object.keys(fractions).join(", "),
      });
    split = { kind: "stratified", fractions, seed: int(sp.seed ?? seed, "data.split.seed", 0) };
  }
  let trainSubset: RunDataConfig["trainSubset"];
  if (d.trainSubset !== undefined) {
    const t = obj(d.trainSubset, "data.trainSubset", ["perClass", "fraction"], warn);
    trainSubset = {
      perClass: t.perClass === undefined ? undefined : int(t.perClass, "data.trainSubset.perClass", 1),
      fraction: t.fraction === undefined ? undefined : num(t.fraction, "data.trainSubset.fraction", 0, 1),
    };
    if ((trainSubset.perClass === undefined) === (trainSubset.fraction === undefined)) {
      throw new ConfigError("trainSubset needs exactly one of perClass or fraction", {
        where: "data.trainSubset",
        expected: "{ perClass } or { fraction }",
        got: JSON.stringify(d.trainSubset),
      });
    }
  }
  const t = obj(d.transform ?? {}, "data.transform", ["size", "resize", "normalize", "augment"], warn);
  const transform: RunTransformConfig = {
    size: t.size === undefined ? undefined : int(t.size, "data.transform.size", 1),
    resize: t.resize === undefined ? undefined : int(t.resize, "data.transform.resize", 1),
    normalize: t.normalize === undefined ? "model" : (t.normalize as NormalizeSpec),
    augment:
      t.augment === undefined
        ? undefined
        : (obj(
            t.augment,
            "data.transform.augment",
            ["randomResizedCrop", "hflip", "vflip", "rot90", "rotate", "colorJitter", "gaussianBlur", "regionJitter"],
            warn,
          ) as AugmentOptions),
  };
  if (
    typeof transform.normalize !== "string" &&
    (typeof transform.normalize !== "object" || transform.normalize === null)
  ) {
    throw new ConfigError("Invalid normalisation", {
      where: "data.transform.normalize",
      expected: '"model", a preset name or { mean, std }',
      got: JSON.stringify(t.normalize),
    });
  }
  return { source, split, trainSubset, transform, workers: int(d.workers ?? 0, "data.workers", 0) };
}

function resolveMethod(raw: unknown, warn: (m: string) => void): MethodConfig {
  const m0 = obj(raw, "method", null, warn);
  const kind = oneOf(req(m0.kind, "method.kind"), "method.kind", [
    "logreg",
    "linear",
    "knn",
    "lora",
    "strategy",
  ] as const);
  const keys: Record<string, string[]> = {
    logreg: ["C", "maxIter", "tol"],
    linear: [],
    knn: ["k"],
    lora: ["lora"],
    strategy: ["name", "options"],
  };
  const m = obj(raw, "method", ["kind", ...keys[kind]], warn);
  switch (kind) {
    case "logreg":
      return {
        kind,
        C: m.C === undefined || m.C === "auto" ? "auto" : num(m.C, "method.C", 0, Infinity),
        maxIter: int(m.maxIter ?? 1000, "method.maxIter", 1),
        tol: num(m.tol ?? 1e-4, "method.tol", 0, 1),
      };
    case "linear":
      return { kind };
    case "knn":
      return { kind, k: int(m.k ?? 20, "method.k", 1) };
    case "lora": {
      const l = obj(req(m.lora, "method.lora"), "method.lora", null, warn);
      if (l.targetModules === undefined)
        throw new ConfigError("Missing field", {
          where: "method.lora.targetModules",
          expected: "a list of module names or a regex",
          got: "undefined",
          fix: 'e.g. "targetModules": "features\\\\.\\\\d+\\\\.conv\\\\.(0\\\\.0|2|1)" for 1×1 convs',
        });
      return { kind, lora: l as Partial<LoraOptions> & { targetModules: string[] | string } };
    }
    case "strategy":
      return {
        kind,
        name: oneOf(req(m.name, "method.name"), "method.name", STRATEGY_NAMES),
        options: m.options === undefined ? undefined : obj(m.options, "method.options", null, warn),
      };
  }
}

function resolveTraining(raw: unknown, warn: (m: string) => void): RunTrainingConfig {
  const t = obj(
    raw,
    "training",
    [
      "epochs",
      "batchSize",
      "evalBatchSize",
      "optimizer",
      "schedule",
      "loss",
      "earlyStoppingPatience",
      "monitor",
      "mode",
      "gradAccumSteps",
      "maxGradNorm",
      "checkpointEverySteps",
    ],
    warn,
  );
  const o = obj(
    t.optimizer ?? { name: "adamw", lr: 1e-3 },
    "training.optimizer",
    ["name", "lr", "weightDecay", "momentum", "dampening", "nesterov", "betas", "eps", "noDecayNormsAndBiases"],
    warn,
  );
  const optimizer = {
    ...o,
    name: oneOf(o.name ?? "adamw", "training.optimizer.name", ["sgd", "adam", "adamw"] as const),
    lr: num(req(o.lr, "training.optimizer.lr"), "training.optimizer.lr", 0, Infinity),
  } as OptimizerOptions;
  const batchSize = int(t.batchSize ?? 32, "training.batchSize", 1);
  return {
    epochs: int(t.epochs ?? 10, "training.epochs", 1),
    batchSize,
    evalBatchSize: int(t.evalBatchSize ?? batchSize, "training.evalBatchSize", 1),
    optimizer,
    schedule:
      t.schedule === undefined
        ? undefined
        : (obj(t.schedule, "training.schedule", null, warn) as RunTrainingConfig["schedule"]),
    loss:
      t.loss === undefined
        ? undefined
        : (obj(
            t.loss,
            "training.loss",
            ["labelSmoothing", "classWeights", "posWeight"],
            warn,
          ) as RunTrainingConfig["loss"]),
    earlyStoppingPatience:
      t.earlyStoppingPatience === undefined
        ? undefined
        : int(t.earlyStoppingPatience, "training.earlyStoppingPatience", 1),
    monitor: t.monitor === undefined ? undefined : str(t.monitor, "training.monitor"),
    mode: t.mode === undefined ? undefined : oneOf(t.mode, "training.mode", ["min", "max"] as const),
    gradAccumSteps: int(t.gradAccumSteps ?? 1, "training.gradAccumSteps", 1),
    maxGradNorm: t.maxGradNorm === undefined ? undefined : num(t.maxGradNorm, "training.maxGradNorm", 0, Infinity),
    checkpointEverySteps:
      t.checkpointEverySteps === undefined
        ? undefined
        : int(t.checkpointEverySteps, "training.checkpointEverySteps", 1),
  };
}
