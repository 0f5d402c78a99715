/**
 * A linear head trained on cached features with AdamW or SGD, linear warm-up then cosine decay (seed 000's recipe:
 * AdamW, weight decay 1e-2, betas 0.9/0.999, 50 warm-up steps, CosineAnnealingLR to 1e-6, batch 32). The warm-up
 * multiplies the cosine lr by min(1, (step + 1) / warmupSteps), as pytorch_warmup's LinearWarmup dampens the
 * scheduler's lr. Self-contained (lib/train depends on lib/peft, not the other way round); update rules are PyTorch's.
 */
import * as tf from "@tensorflow/tfjs";
import { ConfigError } from "../../errors";

/** Head-training settings. */
export interface LinearHeadOptions {
  optimizer?: "adamw" | "sgd";
  lr: number;
  weightDecay?: number;
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

/** lr at a step: warm-up factor × cosine from lr to minLr over totalSteps. */
export function warmupCosineLr(
  step: number,
  totalSteps: number,
  o: { lr: number; warmupSteps?: number; minLr?: number },
): number {
  const minLr = o.minLr ?? 1e-6;
  const cos = minLr + ((o.lr - minLr) * (1 + Math.cos((Math.PI * Math.min(step, totalSteps)) / totalSteps))) / 2;
  const w = o.warmupSteps ?? 50;
  return cos * (w > 0 ? Math.min(1, (step + 1) / w) : 1);
}

function shuffled(n: number, seed: number): number[] {
  const idx = Array.from({ length: n }, (_, i) => i);
  let s = seed >>> 0 || 1;
  for (let i = n - 1; i > 0; i--) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    const j = s % (i + 1);
    [idx[i], idx[j]] = [idx[j], idx[i]];
  }
  return idx;
}

/** Trains a linear softmax head on features [n, d] with integer labels. */
export function trainLinearHead(
  data: { features: Float32Array; n: number; d: number; labels: ArrayLike<number> },
  numClasses: number,
  opts: LinearHeadOptions,
): LinearHead {
  if (!(opts.lr > 0) || !(opts.epochs > 0))
    throw new ConfigError("Bad linear-head settings", {
      where: "LinearHeadOptions",
      expected: "lr > 0 and epochs > 0",
      got: `lr=${opts.lr}, epochs=${opts.epochs}`,
    });
  const bs = opts.batchSize ?? 32;
  const wd = opts.weightDecay ?? 0.01;
  const [b1, b2] = opts.betas ?? [0.9, 0.999];
  const eps = opts.eps ?? 1e-8;
  const adam = (opts.optimizer ?? "adamw") === "adamw";
  const bound = 1 / Math.sqrt(data.d); // nn.Linear's default init
  const W = tf.variable(tf.randomUniform([data.d, numClasses], -bound, bound, "float32", opts.seed ?? 0));
  const b = tf.variable(tf.randomUniform([numClasses], -bound, bound, "float32", (opts.seed ?? 0) + 1));
  const state = [W, b].map((v) => ({ m: tf.variable(tf.zerosLike(v)), v: tf.variable(tf.zerosLike(v)) }));
  const X = tf.tensor2d(data.features, [data.n, data.d]);
  const Y = tf.oneHot(tf.tensor1d(Array.from(data.labels), "int32"), numClasses);
  const steps = Math.ceil(data.n / bs) * opts.epochs;
  const losses: number[] = [];
  let t = 0;
  for (let e = 0; e < opts.epochs; e++) {
    const order = shuffled(data.n, (opts.seed ?? 0) * 1000 + e + 1);
    for (let s = 0; s < data.n; s += bs) {
      const lr = warmupCosineLr(t, steps, opts);
      t++;
      tf.tidy(() => {
        const ix = tf.tensor1d(order.slice(s, s + bs), "int32");
        const xb = tf.gather(X, ix); // [B, d]
        const yb = tf.gather(Y, ix); // [B, K]
        const { value, grads } = tf.variableGrads(
          () => tf.losses.softmaxCrossEntropy(yb, tf.add(tf.matMul(xb, W), b)) as tf.Scalar,
          [W, b],
        );
        losses.push(value.dataSync()[0]);
        [W, b].forEach((p, i) => {
          const g = grads[p.name];
          const st = state[i];
          if (adam) {
            p.assign(tf.mul(p, 1 - lr * wd)); // decoupled weight decay (AdamW)
            st.m.assign(tf.add(tf.mul(st.m, b1), tf.mul(g, 1 - b1)));
            st.v.assign(tf.add(tf.mul(st.v, b2), tf.mul(tf.square(g), 1 - b2)));
            const mh = tf.div(st.m, 1 - b1 ** t);
            const vh = tf.div(st.v, 1 - b2 ** t);
            p.assign(tf.sub(p, tf.mul(lr, tf.div(mh, tf.add(tf.sqrt(vh), eps)))));
          } else {
            const gg = wd > 0 ? tf.add(g, tf.mul(p, wd)) : g; // SGD's coupled L2
            const mom = opts.momentum ?? 0.9;
            st.m.assign(t === 1 ? gg : tf.add(tf.mul(st.m, mom), gg));
            p.assign(tf.sub(p, tf.mul(lr, mom > 0 ? st.m : gg)));
          }
        });
      });
    }
  }
  tf.dispose([X, Y, ...state.flatMap((s) => [s.m, s.v])]);
  return { W, b, losses };
}

/** Softmax probabilities [n, K] of a trained head. */
export function linearHeadPredictProba(head: LinearHead, features: Float32Array, n: number, d: number): Float32Array {
  return tf.tidy(
    () => tf.softmax(tf.add(tf.matMul(tf.tensor2d(features, [n, d]), head.W), head.b)).dataSync() as Float32Array,
  );
}
