/**
 * A linear softmax head trained on cached features through fit(), with AdamW or SGD and a cosine schedule dampened
 * by a linear warm-up (seed 000's recipe: AdamW, weight decay 1e-2, betas 0.9/0.999, 50 warm-up steps,
 * CosineAnnealingLR to 1e-6, batch 32; the warm-up multiplies the cosine lr by min(1, (step + 1) / warmupSteps), as
 * pytorch_warmup's LinearWarmup dampens the scheduler's lr). Batches come from lib/data's HostBatches.
 */
import * as tf from "@tensorflow/tfjs";
import { HostBatches } from "../data/host_batches";
import { ConfigError } from "../errors";
import { Linear } from "../nn/layers";
import { fit } from "./fit";

/** Head-training settings. */
export interface LinearHeadOptions {
  optimizer?: "adamw" | "sgd";
  lr: number;
  /** Default 0.01 (AdamW's decoupled decay; SGD's coupled L2). */
  weightDecay?: number;
  /** SGD momentum, default 0.9. */
  momentum?: number;
  betas?: [number, number];
  eps?: number;
  epochs: number;
  batchSize?: number;
  warmupSteps?: number;
  minLr?: number;
  seed?: number;
}

/** A trained head: W [d, K] and b [K] (tfjs layout), plus the loss per step. */
export interface LinearHead {
  W: tf.Variable;
  b: tf.Variable;
  losses: number[];
}

/** Trains a linear softmax head on features [n, d] with integer labels. */
export async function trainLinearHead(
  data: { features: Float32Array; n: number; d: number; labels: ArrayLike<number> },
  numClasses: number,
  opts: LinearHeadOptions,
): Promise<LinearHead> {
  if (!(opts.lr > 0) || !(opts.epochs > 0))
    throw new ConfigError("Bad linear-head settings", {
      where: "LinearHeadOptions",
      expected: "lr > 0 and epochs > 0",
      got: `lr=${opts.lr}, epochs=${opts.epochs}`,
    });
  const bs = opts.batchSize ?? 32;
  const seed = opts.seed ?? 0;
  const head = new Linear(data.d, numClasses);
  const bound = 1 / Math.sqrt(data.d); // nn.Linear's default init, drawn with the head's seed
  tf.tidy(() => {
    head.weight.assign(tf.randomUniform([data.d, numClasses], -bound, bound, "float32", seed)); // [d, K]
    head.bias?.assign(tf.randomUniform([numClasses], -bound, bound, "float32", seed + 1)); // [K]
  });
  const train = new HostBatches(
    {
      x: data.features,
      n: data.n,
      itemShape: [data.d],
      labels: Float32Array.from(data.labels),
      ids: Array.from({ length: data.n }, (_, i) => String(i)),
    },
    { batchSize: bs, shuffle: true, seed, labelDtype: "int32" },
  );
  const adam = (opts.optimizer ?? "adamw") === "adamw";
  const losses: number[] = [];
  await fit(head, train, {
    task: "multiclass",
    epochs: opts.epochs,
    seed,
    optimizer: adam
      ? { name: "adamw", lr: opts.lr, weightDecay: opts.weightDecay ?? 0.01, betas: opts.betas, eps: opts.eps }
      : { name: "sgd", lr: opts.lr, weightDecay: opts.weightDecay ?? 0.01, momentum: opts.momentum ?? 0.9 },
    schedule: (_spe, total) => ({
      kind: "cosine_dampened_warmup",
      warmupSteps: opts.warmupSteps ?? 50,
      totalSteps: total,
      minLr: opts.minLr,
    }),
    callbacks: [
      {
        onBatchEnd({ loss }) {
          losses.push(loss);
        },
      },
    ],
  });
  const W = head.weight.variable;
  const b = head.bias?.variable ?? tf.variable(tf.zeros([numClasses]));
  return { W, b, losses };
}

/** Softmax probabilities [n, K] of a trained head. */
export async function linearHeadPredictProba(
  head: LinearHead,
  features: Float32Array,
  n: number,
  d: number,
): Promise<Float32Array> {
  const p = tf.tidy(() => tf.softmax(tf.add(tf.matMul(tf.tensor2d(features, [n, d]), head.W), head.b))); // [n, K]
  try {
    return (await p.data()) as Float32Array;
  } finally {
    p.dispose();
  }
}
