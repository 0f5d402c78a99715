/**
 * Training callbacks (the live notebook dashboard implements them), a terminal progress bar on cli-progress, and
 * freezeBatchNormStats (BatchNorm layers kept in eval mode while the rest trains).
 */
import { SingleBar, Presets } from "cli-progress";
import { BatchNorm2d } from "../nn/layers";
import type { Module } from "../nn/module";

/** onTrainBegin: the plan. */
export interface TrainBeginInfo {
  epochs: number;
  stepsPerEpoch?: number;
  batchSize?: number;
  title?: string;
}
/** onBatchEnd: `epoch` 0-based, `step` 1-based within the epoch. */
export interface BatchEndInfo {
  epoch: number;
  step: number;
  loss: number;
  imgPerSec?: number;
  lr?: number;
  metrics?: Record<string, number>;
}
/** onEpochEnd: epoch-level numbers, e.g. {loss, val_loss, val_accuracy}. */
export interface EpochEndInfo {
  epoch: number;
  logs: Record<string, number>;
}
/** What the training loop calls; every method is optional and may be async. */
export interface TrainingCallbacks {
  onTrainBegin?(info: TrainBeginInfo): void | Promise<void>;
  onEpochBegin?(info: { epoch: number }): void | Promise<void>;
  onBatchEnd?(info: BatchEndInfo): void | Promise<void>;
  onEpochEnd?(info: EpochEndInfo): void | Promise<void>;
  onTrainEnd?(info?: { logs?: Record<string, number> }): void | Promise<void>;
}

/** A terminal progress bar (cli-progress) for runs outside a notebook. */
export function terminalProgress(stream: NodeJS.WriteStream = process.stderr): TrainingCallbacks {
  let bar: SingleBar | undefined;
  let steps = 0;
  return {
    onTrainBegin(info) {
      steps = info.stepsPerEpoch ?? 0;
    },
    onEpochBegin({ epoch }) {
      bar = new SingleBar(
        {
          stream,
          format: `epoch ${epoch + 1} [{bar}] {value}/{total} | loss {loss} | {ips} img/s | ETA {eta_formatted}`,
          hideCursor: false,
          clearOnComplete: false,
        },
        Presets.shades_classic,
      );
      bar.start(steps, 0, { loss: "-", ips: "-" });
    },
    onBatchEnd(info) {
      bar?.update(info.step, { loss: info.loss.toFixed(4), ips: (info.imgPerSec ?? 0).toFixed(1) });
    },
    onEpochEnd(info) {
      bar?.stop();
      const logs = Object.entries(info.logs)
        .map(([k, v]) => `${k}=${Number.isInteger(v) ? v : v.toFixed(4)}`)
        .join(" ");
      stream.write(`epoch ${info.epoch + 1}: ${logs}\n`);
    },
  };
}

/**
 * Keeps every BatchNorm2d of `model` in eval mode during training (re-applied at each epoch start, after fit()'s
 * model.train()), so the running statistics stay the pretrained ones: LoRA on a CNN, where the adapter alone must
 * reproduce the model, and CNN fine-tuning with frozen BN statistics. BN's affine parameters still train if trainable.
 */
export function freezeBatchNormStats(model: Module): TrainingCallbacks {
  return {
    onEpochBegin() {
      for (const [, m] of model.namedModules()) if (m instanceof BatchNorm2d) m.training = false;
    },
  };
}
