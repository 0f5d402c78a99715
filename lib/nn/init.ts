/** Seeded parameter initialisation, following PyTorch's defaults. */
import * as tf from "@tensorflow/tfjs";

/** A deterministic stream of integer seeds (splitmix32), so a model built with the same seed has the same weights. */
export class SeedSequence {
  private state: number;
  constructor(seed: number = Math.floor(Math.random() * 2 ** 31)) {
    this.state = seed >>> 0;
  }
  /** The next 31-bit seed. */
  next(): number {
    let z = (this.state = (this.state + 0x9e3779b9) >>> 0);
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 1;
  }
}

/** U(-bound, bound), PyTorch's kaiming_uniform(a=√5) for weights and biases gives bound = 1/√fan_in. */
export function uniform(shape: number[], bound: number, seeds?: SeedSequence): tf.Tensor {
  return tf.randomUniform(shape, -bound, bound, "float32", seeds?.next());
}

/** Truncated normal N(0, std) cut at ±2 (timm's trunc_normal_ default cut is ±2 absolute). */
export function truncNormal(shape: number[], std: number, seeds?: SeedSequence): tf.Tensor {
  return tf.truncatedNormal(shape, 0, std, "float32", seeds?.next());
}

/** N(0, std). */
export function normal(shape: number[], std: number, seeds?: SeedSequence): tf.Tensor {
  return tf.randomNormal(shape, 0, std, "float32", seeds?.next());
}
