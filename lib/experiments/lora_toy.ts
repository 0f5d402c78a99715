/**
 * LoRA on one Linear layer, for teaching (notebook 00): a frozen base W and a target W + ΔW* whose update has a
 * known low rank and spectrum; a LoRA layer of rank r learns ΔW from input/output pairs with Adam. Shows that the
 * adapter starts as the identity (B = 0), that its ΔW never exceeds rank r, how close it gets to ΔW*, and that
 * merge / unmerge are exact up to float rounding.
 */
import * as tf from "@tensorflow/tfjs";
import { Linear } from "../nn/layers";
import { SeedSequence } from "../nn/init";
import { LoraLinear } from "../peft/lora/layer";
import { loraScaling } from "../peft/lora/config";
import { loraDeltaSingularValues } from "../peft/lora/spectrum";
import { Optimizer } from "../train/optim";

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

/** Trains one LoRA layer per rank on the same frozen base and target; see LoraToyResult. */
export function loraToyExperiment(o: LoraToyOptions): LoraToyResult[] {
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
    const opt = new Optimizer(
      [
        {
          name: "lora",
          params: [
            ["lora_A", layer.loraA.weight],
            ["lora_B", layer.loraB.weight],
          ],
          lr: o.lr,
          weightDecay: 0,
        },
      ],
      { name: "adam", lr: o.lr },
    );
    layer.loraA.weight.trainable = true;
    layer.loraB.weight.trainable = true;
    const losses: number[] = [];
    for (let s = 0; s < o.steps; s++) {
      const x = tf.randomNormal([o.batchSize, o.inFeatures], 0, 1, "float32", o.seed * 1000 + s); // [B, in]
      const target = tf.tidy(() => tf.add(base.apply(x), tf.matMul(x, dStar))); // [B, out]
      const vars = [layer.loraA.weight.variable, layer.loraB.weight.variable];
      const { value, grads } = tf.variableGrads(
        () => tf.losses.meanSquaredError(target, layer.apply(x)) as tf.Scalar,
        vars,
      );
      opt.apply(
        new Map([
          ["lora_A", grads[vars[0].name]],
          ["lora_B", grads[vars[1].name]],
        ]),
      );
      if (s % 10 === 0 || s === o.steps - 1) losses.push(value.dataSync()[0]);
      tf.dispose([x, target, value, ...Object.values(grads)]);
    }
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
    opt.dispose();
  }
  dStar.dispose();
  return out;
}
