/**
 * runExperiment: one RunConfig → one run folder and a RunRecord. The notebook API and `peftlab train` share it.
 *
 * Run folder: config.json (resolved), checkpoints/ (fit's), metrics.jsonl (per-epoch logs), the result — adapter/
 * (peft format, LoRA), model.safetensors (PyTorch names, full fine-tuning), probe.safetensors (logreg / linear head,
 * weight [K, d] and bias [K]) or knn.safetensors — then preds_test.csv and summary.json (the RunRecord), written last.
 * Every file is written atomically.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { currentBackend, initBackend } from "../backend";
import { ConfigError } from "../errors";
import { writeFileAtomic } from "../io/atomic";
import { writeSafetensors } from "../io/safetensors";
import { DataLoader } from "../data/loader";
import type { ImageDataset } from "../data/types";
import type { ImageClassifier } from "../models/types";
import { getPeftModel } from "../peft/lora/model";
import { saveAdapter } from "../peft/lora/save";
import type { JsonValue, RunRecord } from "../results/run_record";
import { runKey } from "../results/run_record";
import { freezeBatchNormStats, type TrainingCallbacks } from "../train/callbacks";
import { evaluate } from "../train/evaluate";
import { fit, type FitResult } from "../train/fit";
import { makeStrategy } from "../peft/strategies/registry";
import type { Strategy, StrategyParamGroup } from "../peft/strategies/types";
import { loadCheckpointDir } from "../train/checkpoint";
import { writePredsCsv } from "./preds_csv";
import { resolveRunConfig, type RunConfig } from "./run_config";
import { defaultResize, runSplits, runTransform, type RunSplits } from "./run_data";
import { fitOptionsFrom, metricsJsonlWriter, type MethodResult, type RunExperimentOptions } from "./run_methods";
import { runModelSpec, type RunModelSpec } from "./run_models";
import { runProbe } from "./run_probe_method";
import { predictionsOf } from "./run_predict";

/** What a run produced, in memory (the RunRecord plus the fit history when there was training). */
export interface RunOutcome extends RunRecord {
  fit?: FitResult;
}

/** Runs one experiment end to end and returns its RunRecord (also written to `out`/summary.json). */
export async function runExperiment(config: unknown, o: RunExperimentOptions = {}): Promise<RunOutcome> {
  const log = o.log ?? ((l: string) => process.stderr.write(l + "\n"));
  const startedAt = new Date();
  const cfg = resolveRunConfig(config, { warn: o.warn });
  const backend = await ensureBackend(cfg.backend);
  const spec = runModelSpec(cfg.model.id);
  const filled = fillDefaults(cfg, spec);
  const splits = runSplits(filled);
  const classes = splits.all.classes;
  const K = filled.model.numClasses === "data" ? classes.length : filled.model.numClasses;
  if (o.out) prepareOut(o.out, filled, o.resume ?? false);
  log(
    `run ${filled.name}: ${filled.method.kind} on ${splits.all.name} (train ${splits.train.items.length}, val ${splits.val?.items.length ?? 0}, test ${splits.test.items.length}), backend ${backend}`,
  );

  const model = spec.build({
    weights: filled.model.weights!,
    numClasses: K,
    seed: filled.seed,
    args: filled.model.args,
    log,
  });
  let result: MethodResult;
  try {
    const m = filled.method.kind;
    result =
      m === "logreg" || m === "knn" || m === "linear"
        ? await runProbe(filled, spec, model, splits, K, o, log)
        : await runTrained(filled, spec, model, splits, o);
  } finally {
    model.dispose();
  }
  const finishedAt = new Date();
  const record: RunOutcome = {
    id: runKey({ config: filled as unknown as JsonValue }),
    config: filled as unknown as { [k: string]: JsonValue },
    modelId: filled.model.id,
    method: filled.method.kind === "strategy" ? filled.method.name.toLowerCase() : filled.method.kind,
    dataset: splits.all.name,
    seed: filled.seed,
    dataFraction: filled.data.trainSubset?.fraction,
    shots: filled.data.trainSubset?.perClass,
    metrics: result.metrics,
    trainableParams: result.trainable,
    totalParams: result.total,
    wallTimeS: (finishedAt.getTime() - startedAt.getTime()) / 1000,
    backend,
    scale: filled.scale,
    startedAt: startedAt.toISOString(),
    finishedAt: finishedAt.toISOString(),
    extra: {
      ...(result.stopped ? { stopped: true } : {}),
      classes,
      numTrain: splits.train.items.length,
      numVal: splits.val?.items.length ?? 0,
      numTest: splits.test.items.length,
      ...(result.extra ?? {}),
    },
  };
  if (o.out && !result.stopped) {
    if (result.testEval) writePredsCsv(path.join(o.out, "preds_test.csv"), predictionsOf(filled.task, result.testEval));
    writeFileAtomic(path.join(o.out, "summary.json"), JSON.stringify(record, null, 2) + "\n");
  }
  record.fit = result.fit;
  return record;
}

async function ensureBackend(pref: RunConfig["backend"]): Promise<string> {
  const cur = currentBackend();
  if (cur && (pref === "auto" || cur.name === pref)) return cur.name;
  return (await initBackend({ prefer: pref, log: null })).name;
}

/** The resolved config with model defaults (weights, size, normalisation) written in. */
function fillDefaults(cfg: RunConfig, spec: RunModelSpec): RunConfig {
  const t = cfg.data.transform;
  const size = t.size || spec.size;
  const resize = t.resize ?? defaultResize(size, spec.cropPct);
  return {
    ...cfg,
    model: { ...cfg.model, weights: cfg.model.weights ?? spec.defaultWeights() },
    data: {
      ...cfg.data,
      transform: {
        ...t,
        size,
        ...(resize !== size ? { resize } : {}),
        normalize: t.normalize === "model" ? spec.normalize : t.normalize,
      },
    },
  };
}

function prepareOut(out: string, cfg: RunConfig, resume: boolean): void {
  const latest = path.join(out, "checkpoints", "latest.json");
  if (!resume && fs.existsSync(latest)) {
    throw new ConfigError("The run folder already holds checkpoints", {
      where: out,
      expected: "a new folder, or --resume",
      got: "checkpoints/latest.json",
      fix: "pass --resume (resume: true) to continue, or choose another --out",
    });
  }
  fs.mkdirSync(out, { recursive: true });
  writeFileAtomic(path.join(out, "config.json"), JSON.stringify(cfg, null, 2) + "\n");
}

/** LoRA or a fine-tuning strategy: fit() over image loaders, then the best checkpoint is restored and evaluated. */
async function runTrained(
  cfg: RunConfig,
  spec: RunModelSpec,
  model: ImageClassifier,
  s: RunSplits,
  o: RunExperimentOptions,
): Promise<MethodResult> {
  const m = cfg.method;
  const t = cfg.training;
  let counts: { trainable: number; all: number };
  let save: (out: string) => Promise<void>;
  let strategy: Strategy | undefined;
  const extraCallbacks: TrainingCallbacks[] = [];
  if (m.kind === "lora") {
    const lm = getPeftModel(model, { modulesToSave: model.headNames, seed: cfg.seed, ...m.lora });
    counts = lm.trainableParameterCounts();
    save = (out) => saveAdapter(lm, path.join(out, "adapter"));
    // BatchNorm statistics stay the base model's, so the adapter alone reproduces the trained model.
    extraCallbacks.push(freezeBatchNormStats(model));
  } else if (m.kind === "strategy") {
    // Every arm (FT, LP, LP-FT, G-LF, G-FL, L2-SP, L1-SP, Auto-RGN, LLRD, discriminative) goes through lib/peft.
    const base = makeStrategy(m.name, m.options ?? {});
    let groups: StrategyParamGroup[] = [];
    strategy = { ...base, setup: (mod, ctx) => (groups = base.setup(mod, ctx)) } satisfies Strategy;
    // Trainable = every parameter the strategy's groups ever train (gradual unfreezing counts the whole schedule).
    counts = {
      get trainable() {
        const seen = new Set<string>();
        for (const g of groups) for (const [n] of g.params) seen.add(n);
        return model.namedParameters().reduce((acc, [n, p]) => acc + (seen.has(n) ? p.variable.size : 0), 0);
      },
      all: model.numParameters(),
    };
    save = async (out) =>
      writeSafetensors(path.join(out, "model.safetensors"), await model.stateDictAsync(), {
        metadata: { format: "pt" },
      });
  } else {
    throw new ConfigError("Not a trained method", {
      where: "method.kind",
      expected: "lora or strategy",
      got: m.kind,
    });
  }
  const trainDl = new DataLoader(s.train, {
    batchSize: t.batchSize,
    transform: runTransform(cfg, spec, true),
    augment: cfg.data.transform.augment !== undefined,
    shuffle: true,
    seed: cfg.seed,
    workers: cfg.data.workers,
  });
  const evalDl = (ds: ImageDataset) =>
    new DataLoader(ds, {
      batchSize: t.evalBatchSize,
      transform: runTransform(cfg, spec, false),
      augment: false,
      shuffle: false,
      workers: cfg.data.workers,
    });
  const valDl = s.val ? evalDl(s.val) : undefined;
  const ckDir = o.out && path.join(o.out, "checkpoints");
  try {
    const callbacks = [
      ...extraCallbacks,
      ...(o.callbacks ?? []),
      ...(o.out ? [metricsJsonlWriter(path.join(o.out, "metrics.jsonl"))] : []),
    ];
    const fr = await fit(
      model,
      trainDl,
      fitOptionsFrom(cfg, {
        val: valDl,
        strategy,
        checkpointDir: ckDir,
        resume: o.resume,
        callbacks,
        stopAfterSteps: o.stopAfterSteps,
      }),
    );
    if (o.stopAfterSteps !== undefined && fr.history.length < t.epochs && !fr.stoppedEarly)
      return { metrics: {}, trainable: 0, total: 0, fit: fr, stopped: true };
    // The model that is kept and evaluated: the best epoch by the monitored metric when there is validation.
    if (ckDir && s.val && fs.existsSync(path.join(ckDir, "best")))
      model.loadStateDict(loadCheckpointDir(path.join(ckDir, "best")).weights);
    if (o.out) await save(o.out);
    const metrics: MethodResult["metrics"] = {};
    let testEval: MethodResult["testEval"];
    for (const [name, dl] of [
      ["val", valDl],
      ["test", evalDl(s.test)],
    ] as const) {
      if (!dl) continue;
      const r = await evaluate(model, dl, cfg.task);
      metrics[name] = { loss: r.loss, ...r.report.values };
      if (name === "test") testEval = r;
      await dl.close();
    }
    return {
      metrics,
      trainable: counts.trainable,
      total: counts.all,
      testEval,
      fit: fr,
      extra: { bestEpoch: fr.best.epoch, stoppedEarly: fr.stoppedEarly, steps: fr.steps },
    };
  } finally {
    await trainDl.close();
    await valDl?.close();
  }
}
