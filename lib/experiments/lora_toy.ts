/**
 * LoRA on one Linear layer, for teaching (notebook 00): a frozen base W and a target W + ΔW* whose update has a
 * known low rank and spectrum; a LoRA layer of rank r learns ΔW from input/output pairs with Adam. Shows that the
 * adapter starts as the identity (B = 0), that its ΔW never exceeds rank r, how close it gets to ΔW*, and that
 * merge / unmerge are exact up to float rounding. Training is fit() with an MSE criterion over one epoch of `steps`
 * random batches.
 */
import * as tf from "@tensorflow/tfjs";
import { Linear } from "../nn/layers";
import { SeedSequence } from "../nn/init";
import { LoraLinear } from "../peft/lora/layer";
import { loraScaling } from "../peft/lora/config";
import { loraDeltaSingularValues } from "../peft/lora/spectrum";
import { fit, type TrainSource } from "../train/fit";
import type { TrainingCallbacks } from "../train/callbacks";

/** Settings of the toy problem. */
export interface LoraToyOptions {
  inFeatures: number;
  outFeatures: number;
  /** Singular values of the target update ΔW* (its rank is their count). */
  targetSingularValues: number[];
  ranks: number[];
  alpha: number;
  useRslora: boolean;
  steps: number;
  lr: number;
  batchSize: number;
  seed: number;
  /** Extra fit() callbacks, e.g. a notebook's live dashboard (one run per rank). */
  callbacks?: TrainingCallbacks[];
}

/** One trained rank: loss curve, learned spectrum, distance to the target, identity-at-init and merge checks. */
export interface LoraToyResult {
  r: number;
  scaling: number;
  loraParams: number;
  fullParams: number;
  losses: number[];
  singularValues: number[];
  /** ‖ΔW − ΔW*‖_F / ‖ΔW*‖_F after training. */
  relError: number;
  /** max |lora(x) − base(x)| before training (0: B starts at zero). */
  initMaxDiff: number;
  /** max |merged(x) − unmerged(x)| and max |W after unmerge − W|. */
  mergeMaxDiff: number;
  unmergeMaxDiff: number;
}

/** ΔW* = U·diag(σ)·Vᵀ with random orthonormal U, V (tfjs layout [in, out]). */
function targetDelta(o: LoraToyOptions, seeds: SeedSequence): tf.Tensor2D {
  return tf.tidy(() => {
    const k = o.targetSingularValues.length;
    const u = orthonormal(o.inFeatures, k, seeds.next()); // [in, k]
    const v = orthonormal(o.outFeatures, k, seeds.next()); // [out, k]
    return tf.matMul(tf.mul(u, tf.tensor1d(o.targetSingularValues)), v, false, true) as tf.Tensor2D; // [in, out]
  });
}

function orthonormal(n: number, k: number, seed: number): tf.Tensor2D {
  return tf.tidy(() => tf.linalg.qr(tf.randomNormal([n, k], 0, 1, "float32", seed))[0] as tf.Tensor2D);
}

function maxAbs(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);
}

/**
 * One epoch of `o.steps` batches x ~ N(0, 1) [B, in] with targets base(x) + x·ΔW* [B, out]. Batch s draws with seed
 * seed·1000 + s + 1: tfjs treats a seed of 0 as "unseeded", so seed 0's first batch used to differ run to run.
 */
function toyBatches(o: LoraToyOptions, base: Linear, dStar: tf.Tensor2D): TrainSource {
  let pos = { epoch: 0, batch: 0 };
  return {
    batchesPerEpoch: () => o.steps,
    state: () => ({ ...pos, seed: o.seed }),
    seek: (st) => (pos = { epoch: st.epoch, batch: st.batch }),
    async next() {
      if (pos.batch >= o.steps) {
        pos = { epoch: pos.epoch + 1, batch: 0 };
        return null;
      }
      const x = tf.randomNormal([o.batchSize, o.inFeatures], 0, 1, "float32", o.seed * 1000 + ++pos.batch); // [B, in]
      const y = tf.tidy(() => tf.add(base.apply(x), tf.matMul(x, dStar))); // [B, out]
      return { x, y, ids: [], dispose: () => tf.dispose([x, y]) };
    },
  };
}

/** Trains one LoRA layer per rank on the same frozen base and target; see LoraToyResult. */
export async function loraToyExperiment(o: LoraToyOptions): Promise<LoraToyResult[]> {
  const seeds = new SeedSequence(o.seed);
  const base = new Linear(o.inFeatures, o.outFeatures, { seeds });
  const dStar = targetDelta(o, seeds);
  const dNorm = tf.tidy(() => tf.norm(dStar).dataSync()[0]);
  const out: LoraToyResult[] = [];
  for (const r of o.ranks) {
    const w0 = base.weight.variable.clone();
    const scaling = loraScaling(o.alpha, r, o.useRslora);
    const layer = new LoraLinear(base, { r, scaling, dropout: 0, init: true, seed: o.seed + r });
    const probe = tf.randomNormal([32, o.inFeatures], 0, 1, "float32", o.seed + 1); // [32, in]
    const initMaxDiff = tf.tidy(() => maxAbs(layer.apply(probe), base.apply(probe)));
    // Only the adapter trains: the base W (and bias) stay frozen, as in peft.
    for (const [n, p] of layer.namedParameters()) p.trainable = n.startsWith("lora_");
    const losses: number[] = [];
    await fit(layer, toyBatches(o, base, dStar), {
      task: "multiclass", // unused: the criterion replaces the task loss and there is no validation
      criterion: (out, y) => tf.losses.meanSquaredError(y, out) as tf.Scalar,
      epochs: 1,
      optimizer: { name: "adam", lr: o.lr },
      seed: o.seed,
      callbacks: [
        {
          onBatchEnd({ step, loss }) {
            if ((step - 1) % 10 === 0 || step === o.steps) losses.push(loss); // every 10th update and the last
          },
        },
        ...(o.callbacks ?? []),
      ],
    });
    const relError = tf.tidy(() => tf.norm(tf.sub(layer.deltaWeight(), dStar)).dataSync()[0] / dNorm);
    const unmerged = layer.apply(probe);
    layer.merge();
    const merged = layer.apply(probe);
    const mergeMaxDiff = maxAbs(merged, unmerged);
    layer.unmerge();
    const unmergeMaxDiff = maxAbs(base.weight.variable, w0);
    out.push({
      r,
      scaling,
      loraParams: r * (o.inFeatures + o.outFeatures),
      fullParams: o.inFeatures * o.outFeatures,
      losses,
      singularValues: loraDeltaSingularValues(layer),
      relError,
      initMaxDiff,
      mergeMaxDiff,
      unmergeMaxDiff,
    });
    tf.dispose([probe, unmerged, merged, w0, layer.loraA.weight.variable, layer.loraB.weight.variable]);
  }
  dStar.dispose();
  return out;
}
