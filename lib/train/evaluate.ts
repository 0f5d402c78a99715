/** Evaluation: run a model over a loader and compute loss plus every applicable metric. */
import * as tf from "@tensorflow/tfjs";
import { computeMetrics, type MetricsReport, type MetricsTask } from "../metrics";
import type { ImageClassifier } from "../models/types";
import type { Module } from "../nn/module";
import { bceWithLogits, crossEntropy } from "./loss";

/** A source of evaluation batches (a DataLoader satisfies it). */
export interface EvalSource {
  epoch(): AsyncGenerator<{ x: tf.Tensor; y: tf.Tensor; ids: string[]; dispose(): void }>;
}

/** Predictions and metrics of one evaluation pass. */
export interface EvalResult {
  loss: number;
  report: MetricsReport;
  /** Probabilities, row-major [N, K] (binary with one logit: [N, 1] sigmoid). */
  scores: Float32Array;
  numOutputs: number;
  /** Labels: [N] class indices or [N, L] 0/1. */
  labels: Float32Array;
  ids: string[];
}

/** Runs `model` in eval mode over `data` and returns loss, scores and metrics; restores the previous mode. */
export async function evaluate(
  model: Module | ImageClassifier,
  data: EvalSource,
  task: MetricsTask,
): Promise<EvalResult> {
  const wasTraining = model.training;
  model.eval();
  const scores: number[] = [];
  const labels: number[] = [];
  const ids: string[] = [];
  let lossSum = 0;
  let n = 0;
  let k = 0;
  try {
    for await (const b of data.epoch()) {
      const { loss, probs } = tf.tidy(() => {
        const logits = model.apply(b.x); // [B, K]
        const l = lossOf(task, logits, b.y);
        // A 2-logit binary head trains with CE (lossOf), so its probabilities are a softmax too.
        const p = task !== "multilabel" && logits.shape[1]! > 1 ? tf.softmax(logits) : tf.sigmoid(logits);
        return { loss: l, probs: p };
      });
      const bs = b.x.shape[0];
      lossSum += (await loss.data())[0] * bs;
      n += bs;
      k = probs.shape[1]!;
      scores.push(...(await probs.data()));
      labels.push(...(await b.y.data()));
      ids.push(...b.ids);
      loss.dispose();
      probs.dispose();
      b.dispose();
    }
  } finally {
    model.train(wasTraining);
  }
  const s = Float32Array.from(scores);
  const y = Float32Array.from(labels);
  const report = computeMetrics({
    task,
    yTrue: task === "multilabel" ? { data: y, rows: n, cols: k } : y,
    scores: task === "binary" ? (k === 1 ? s : { data: s, rows: n, cols: k }) : { data: s, rows: n, cols: k },
  });
  return { loss: lossSum / Math.max(1, n), report, scores: s, numOutputs: k, labels: y, ids };
}

/** The loss a task trains with: CE for multi-class (and 2-logit binary), BCE-with-logits otherwise. */
export function lossOf(
  task: MetricsTask,
  logits: tf.Tensor,
  y: tf.Tensor,
  opts: { labelSmoothing?: number; classWeights?: number[]; posWeight?: number[] } = {},
): tf.Scalar {
  if (task === "multiclass" || (task === "binary" && logits.shape[1] === 2)) {
    return crossEntropy(logits, y.reshape([-1]), opts);
  }
  const target = task === "binary" ? y.reshape([-1, 1]).toFloat() : y.toFloat();
  return bceWithLogits(logits, target, opts.posWeight);
}
