/**
 * fit(): the training loop, top to bottom. One optimiser update per `gradAccumSteps` batches; schedules per update;
 * validation, early stopping and the best checkpoint per epoch; checkpoints that resume exactly after kill -9.
 */
import { createHash } from "node:crypto";
import * as tf from "@tensorflow/tfjs";
import { addNChunked } from "../nn/add_n";
import { ConfigError, TrainingError } from "../errors";
import type { MetricsTask } from "../metrics";
import { isImageClassifier, type ImageClassifier } from "../models/types";
import type { Module, Parameter } from "../nn/module";
import type { Strategy } from "../peft/strategies/types";
import type { TrainingCallbacks } from "./callbacks";
import { loadLatestCheckpoint, saveCheckpoint, type TrainerState } from "./checkpoint";
import { evaluate, lossOf, type EvalSource } from "./evaluate";
import { interruptCount, yieldToEventLoop } from "./interrupt";
import { defaultParamGroups, Optimizer, resolvedWeightDecay, type OptimizerOptions } from "./optim";
import { applySchedule, validateSchedule, type ScheduleOptions } from "./schedule";

/** A source of training batches with an exact, resumable position (lib/data's DataLoader satisfies it). */
export interface TrainSource {
  next(): Promise<{ x: tf.Tensor; y: tf.Tensor; ids: string[]; dispose(): void } | null>;
  batchesPerEpoch(epoch?: number): number;
  state(): { epoch: number; batch: number; seed: number };
  seek(s: { epoch: number; batch: number; seed: number }): void;
}

/** Everything fit() needs, as plain data plus the strategy and callbacks. */
export interface FitOptions {
  task: MetricsTask;
  epochs: number;
  optimizer: OptimizerOptions;
  schedule?: ScheduleOptions | ((stepsPerEpoch: number, totalSteps: number) => ScheduleOptions);
  /** Batches per optimiser update (default 1). */
  gradAccumSteps?: number;
  /** Clip the global gradient norm (default off). */
  maxGradNorm?: number;
  loss?: { labelSmoothing?: number; classWeights?: number[]; posWeight?: number[] };
  /**
   * Replaces the task's training loss (torch's `criterion`), e.g. MSE for a regression toy: (outputs, y) → scalar.
   * Validation still evaluates with the task's loss and metrics.
   */
  criterion?: (outputs: tf.Tensor, y: tf.Tensor) => tf.Scalar;
  /**
   * What trains and how (lib/peft/strategies: FT, LP, LoRA, LLRD, …); the model must then be an ImageClassifier.
   * Default: every trainable parameter in defaultParamGroups.
   */
  strategy?: Strategy;
  val?: EvalSource;
  /** Metric to monitor, e.g. "val_loss", "val_accuracy", "val_roc_auc_macro" (default val_loss when val is given). */
  monitor?: string;
  mode?: "min" | "max";
  earlyStoppingPatience?: number;
  /** Checkpoint folder; enables checkpoints, the best checkpoint and resume. */
  checkpointDir?: string;
  /** Also checkpoint every N updates inside an epoch (default: only at epoch ends). */
  checkpointEverySteps?: number;
  /** Continue from checkpointDir's latest checkpoint when one exists (default true). */
  resume?: boolean;
  seed?: number;
  callbacks?: TrainingCallbacks[];
  /** Stop after this many updates (a step budget, or kill/resume tests); the state is checkpointed first. */
  stopAfterSteps?: number;
}

/** What fit() returns. */
export interface FitResult {
  history: Record<string, number>[];
  best: { value: number | null; epoch: number | null };
  stoppedEarly: boolean;
  steps: number;
  wallTimeS: number;
  resumedFrom?: string;
}

/** Trains `model` on `train` (see FitOptions); returns per-epoch history and the best monitored value. */
export async function fit(model: Module, train: TrainSource, o: FitOptions): Promise<FitResult> {
  const t0 = Date.now();
  validate(o);
  const accum = o.gradAccumSteps ?? 1;
  const monitor = o.monitor ?? (o.val ? "val_loss" : "loss");
  const mode = o.mode ?? (/loss/.test(monitor) ? "min" : "max");
  const stepsPerEpoch = Math.ceil(train.batchesPerEpoch(0) / accum);
  const totalSteps = stepsPerEpoch * o.epochs;
  const schedule = typeof o.schedule === "function" ? o.schedule(stepsPerEpoch, totalSteps) : o.schedule;
  if (schedule) validateSchedule(schedule);
  seedStochasticModules(model, o.seed ?? 0);

  // 1. Strategy decides what trains; the optimiser gets its groups (by reference: a strategy may rescale them later).
  const strategy = o.strategy;
  const clf = strategy && strategyModel(model, strategy);
  const groups =
    strategy && clf
      ? strategy.setup(clf, { lr: o.optimizer.lr, weightDecay: resolvedWeightDecay(o.optimizer) })
      : defaultParamGroups(model, o.optimizer);
  const opt = new Optimizer(groups, o.optimizer);
  const params = new Map<string, Parameter>(model.namedParameters());
  const nameOf = new Map<string, string>(model.namedParameters().map(([n, p]) => [p.variable.name, n]));

  // 2. Resume when a checkpoint exists.
  const configHash = hashConfig(o);
  let st: TrainerState = {
    version: 1,
    step: 0,
    loader: train.state(),
    rng: {},
    best: { value: null, epoch: null, badEpochs: 0 },
    history: [],
    configHash,
    optimizer: { step: 0, groupLrs: opt.groupLrs },
  };
  let resumedFrom: string | undefined;
  let epochAcc = { lossSum: 0, n: 0 };
  if (o.checkpointDir && (o.resume ?? true)) {
    const ck = loadLatestCheckpoint(o.checkpointDir);
    if (ck) {
      if (ck.trainer.configHash !== configHash) {
        throw new TrainingError("Checkpoint was written by a different configuration", {
          where: ck.dir,
          expected: `config hash ${configHash}`,
          got: ck.trainer.configHash,
          fix: "use a new checkpoint folder, or pass resume: false to start over",
        });
      }
      model.loadStateDict(ck.weights);
      opt.setState(ck.optimizer);
      st = ck.trainer;
      epochAcc = (st as TrainerState & { epochAcc?: typeof epochAcc }).epochAcc ?? epochAcc;
      restoreRng(model, st.rng);
      strategy?.setState?.(st.strategy);
      train.seek(st.loader);
      resumedFrom = ck.dir;
    }
  }

  const interrupts0 = interruptCount();
  const cbs = o.callbacks ?? [];
  await each(cbs, (c) => c.onTrainBegin?.({ epochs: o.epochs, stepsPerEpoch: train.batchesPerEpoch(0) }));
  const checkpoint = async (best = false) => {
    if (!o.checkpointDir) return;
    st.step = opt.step;
    st.loader = train.state();
    st.rng = collectRng(model);
    st.strategy = strategy?.getState?.();
    st.optimizer = { step: opt.step, groupLrs: [...opt.groupLrs], beta1: opt.beta1 };
    (st as TrainerState & { epochAcc?: typeof epochAcc }).epochAcc = epochAcc;
    const os = await opt.getStateAsync();
    saveCheckpoint(o.checkpointDir, await model.stateDictAsync(), os, st, { best });
  };

  let stoppedEarly = false;
  model.train();
  for (let epoch = train.state().epoch; epoch < o.epochs; epoch++) {
    // 3. One epoch: batches → accumulated gradients → one update.
    if (strategy && clf) strategy.onEpochStart(epoch, clf);
    await each(cbs, (c) => c.onEpochBegin?.({ epoch }));
    let micro = 0;
    let acc: Map<string, tf.Tensor> | undefined;
    let tBatch = Date.now();
    for (;;) {
      const b = await train.next();
      if (b === null) break;
      if (schedule) applySchedule(opt, schedule, opt.step);
      const vars = model.trainableVariables();
      const { value, grads } = tf.variableGrads(() => {
        const logits = model.apply(b.x); // [B, K]
        let loss = o.criterion ? o.criterion(logits, b.y) : lossOf(o.task, logits, b.y, o.loss ?? {});
        const pen = strategy && clf ? strategy.penalty(clf) : null;
        if (pen) loss = tf.add(loss, pen) as tf.Scalar;
        return accum > 1 ? (tf.div(loss, accum) as tf.Scalar) : loss;
      }, vars);
      const lossValue = (await value.data())[0] * accum;
      value.dispose();
      if (!Number.isFinite(lossValue)) {
        tf.dispose(grads);
        b.dispose();
        throw new TrainingError("Loss is not finite; training stopped", {
          where: `epoch ${epoch + 1}, update ${opt.step + 1}`,
          expected: "a finite loss",
          got: String(lossValue),
          fix: `lower the learning rate (now ${opt.groupLrs[0]}) or check the inputs for NaN; the last good checkpoint${o.checkpointDir ? ` in ${o.checkpointDir}` : ""} is kept`,
        });
      }
      acc = accumulate(acc, grads, nameOf);
      micro++;
      epochAcc.lossSum += lossValue * b.x.shape[0];
      epochAcc.n += b.x.shape[0];
      const bs = b.x.shape[0];
      b.dispose();
      if (micro % accum !== 0 && train.state().batch < train.batchesPerEpoch(epoch)) continue;
      if (o.maxGradNorm) await clipGlobalNorm(acc, o.maxGradNorm);
      const mult = (await strategy?.lrMultipliers(acc, params)) ?? undefined;
      opt.apply(acc, mult);
      tf.dispose([...acc.values()]);
      acc = undefined;
      const now = Date.now();
      await each(cbs, (c) =>
        c.onBatchEnd?.({
          epoch,
          step: train.state().batch,
          loss: lossValue,
          imgPerSec: (bs * accum * 1000) / Math.max(1, now - tBatch),
          lr: opt.groupLrs[0],
        }),
      );
      tBatch = now;
      if (o.checkpointEverySteps && opt.step % o.checkpointEverySteps === 0) await checkpoint();
      await yieldToEventLoop(); // a front end's interrupt (SIGINT, interrupt_request) is handled here
      if (interruptCount() !== interrupts0) {
        throw new TrainingError("Training interrupted", {
          where: `epoch ${epoch + 1}, update ${opt.step}`,
          fix: o.checkpointDir
            ? `run fit() again with the same checkpointDir to resume from the last checkpoint in ${o.checkpointDir}`
            : "pass checkpointDir to make an interrupted run resumable",
        });
      }
      if (o.stopAfterSteps !== undefined && opt.step >= o.stopAfterSteps) {
        await checkpoint();
        const steps = opt.step;
        opt.dispose();
        // A step budget ends the run: callbacks (a live dashboard) see its end, as after the last epoch.
        await each(cbs, (c) => c.onTrainEnd?.({}));
        return {
          history: st.history,
          best: st.best,
          stoppedEarly: false,
          steps,
          wallTimeS: (Date.now() - t0) / 1000,
          resumedFrom,
        };
      }
    }
    // 4. Epoch end: validation, history, best checkpoint, early stopping.
    const logs: Record<string, number> = {
      epoch: epoch + 1,
      loss: epochAcc.lossSum / Math.max(1, epochAcc.n),
      lr: opt.groupLrs[0],
    };
    epochAcc = { lossSum: 0, n: 0 };
    if (o.val) {
      const r = await evaluate(model, o.val, o.task);
      logs.val_loss = r.loss;
      for (const [k, v] of Object.entries(r.report.values)) logs[`val_${k}`] = v;
      model.train();
    }
    st.history.push(logs);
    const v = logs[monitor];
    if (v === undefined) {
      throw new ConfigError("Monitored metric is not in the epoch logs", {
        where: "fit.monitor",
        expected: `one of ${Object.keys(logs).join(", ")}`,
        got: monitor,
      });
    }
    const improved = st.best.value === null || (mode === "min" ? v < st.best.value : v > st.best.value);
    if (improved) st.best = { value: v, epoch: epoch + 1, badEpochs: 0 };
    else st.best.badEpochs += 1;
    await checkpoint(improved);
    await each(cbs, (c) => c.onEpochEnd?.({ epoch, logs }));
    if (o.earlyStoppingPatience !== undefined && st.best.badEpochs >= o.earlyStoppingPatience) {
      stoppedEarly = true;
      break;
    }
  }
  opt.dispose();
  const last = st.history[st.history.length - 1];
  await each(cbs, (c) => c.onTrainEnd?.({ logs: last }));
  return {
    history: st.history,
    best: { value: st.best.value, epoch: st.best.epoch },
    stoppedEarly,
    steps: st.step > opt.step ? st.step : opt.step,
    wallTimeS: (Date.now() - t0) / 1000,
    resumedFrom,
  };
}

/** The model a strategy acts on: strategies read stages and head names, so it must be an ImageClassifier. */
function strategyModel(model: Module, strategy: Strategy): ImageClassifier {
  if (isImageClassifier(model)) return model;
  throw new ConfigError("A fine-tuning strategy needs an image classifier", {
    where: `fit(strategy: ${strategy.name})`,
    expected: "a model with stages(), headNames and forwardFeatures() (lib/models' ImageClassifier)",
    got: model.constructor.name,
    fix: "pass no strategy (every trainable parameter trains), or wrap the model as an ImageClassifier",
  });
}

function accumulate(acc: Map<string, tf.Tensor> | undefined, grads: tf.NamedTensorMap, nameOf: Map<string, string>) {
  const out = acc ?? new Map<string, tf.Tensor>();
  for (const [vn, g] of Object.entries(grads)) {
    const name = nameOf.get(vn) ?? vn;
    const prev = out.get(name);
    if (prev) {
      out.set(name, tf.add(prev, g));
      prev.dispose();
      g.dispose();
    } else out.set(name, g);
  }
  return out;
}

async function clipGlobalNorm(grads: Map<string, tf.Tensor>, maxNorm: number): Promise<void> {
  const norm = tf.tidy(() => tf.sqrt(addNChunked([...grads.values()].map((g) => tf.sum(tf.square(g)))))); // []
  const total = (await norm.data())[0];
  norm.dispose();
  const coef = maxNorm / (total + 1e-6);
  if (coef >= 1) return;
  for (const [k, g] of grads) {
    grads.set(k, tf.mul(g, coef));
    g.dispose();
  }
}

interface Stochastic {
  seed: number;
  calls: number;
}
function stochasticModules(model: Module): [string, Stochastic][] {
  return model
    .namedModules()
    .filter(
      ([, m]) =>
        typeof (m as unknown as Stochastic).calls === "number" && typeof (m as unknown as Stochastic).seed === "number",
    )
    .map(([n, m]) => [n, m as unknown as Stochastic]);
}
function seedStochasticModules(model: Module, seed: number): void {
  stochasticModules(model).forEach(([, m], i) => {
    m.seed = seed * 7919 + i + 1;
    m.calls = 0;
  });
}
function collectRng(model: Module): Record<string, number> {
  return Object.fromEntries(stochasticModules(model).map(([n, m]) => [n, m.calls]));
}
function restoreRng(model: Module, rng: Record<string, number>): void {
  for (const [n, m] of stochasticModules(model)) if (rng[n] !== undefined) m.calls = rng[n];
}

function hashConfig(o: FitOptions): string {
  const plain = {
    ...o,
    callbacks: undefined,
    criterion: o.criterion ? "fn" : undefined,
    val: undefined,
    strategy: o.strategy?.name,
    stopAfterSteps: undefined,
    resume: undefined,
    schedule: typeof o.schedule === "function" ? "fn" : o.schedule,
  };
  return createHash("sha256").update(JSON.stringify(plain)).digest("hex").slice(0, 16);
}

async function each(cbs: TrainingCallbacks[], f: (c: TrainingCallbacks) => void | Promise<void>): Promise<void> {
  for (const c of cbs) await f(c);
}

function validate(o: FitOptions): void {
  if (!Number.isInteger(o.epochs) || o.epochs < 1) {
    throw new ConfigError("epochs must be a positive integer", {
      where: "fit.epochs",
      expected: "≥ 1",
      got: String(o.epochs),
    });
  }
  if (o.gradAccumSteps !== undefined && (!Number.isInteger(o.gradAccumSteps) || o.gradAccumSteps < 1)) {
    throw new ConfigError("gradAccumSteps must be a positive integer", {
      where: "fit.gradAccumSteps",
      expected: "≥ 1",
      got: String(o.gradAccumSteps),
    });
  }
  if (!["binary", "multiclass", "multilabel"].includes(o.task)) {
    throw new ConfigError("Unknown task", {
      where: "fit.task",
      expected: "binary, multiclass or multilabel",
      got: String(o.task),
    });
  }
}
