/**
 * Helpers for the lean-op tests: compare a one-op implementation with its elementary-op reference (value and
 * gradients, relative to the reference's largest magnitude), and inspect what tfjs's tape records.
 */
import * as tf from "@tensorflow/tfjs";

/** max|a − b| / max|b| (or the absolute difference when b is all zeros). */
export function relDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => {
    const d = tf.max(tf.abs(tf.sub(a, b))).dataSync()[0];
    const m = tf.max(tf.abs(b)).dataSync()[0];
    return m > 0 ? d / m : d;
  });
}

/** Relative differences of outputs and of the gradients of Σ f(x)·r w.r.t. every variable in `vars`, lean vs ref. */
export function compareWithReference(
  lean: () => tf.Tensor,
  ref: () => tf.Tensor,
  vars: tf.Variable[],
  seed = 11,
): { value: number; grads: Record<string, number>; missing: string[] } {
  const yRef = tf.tidy(ref);
  const r = tf.randomNormal(yRef.shape, 0, 1, "float32", seed); // weights every output element differently
  const yLean = tf.tidy(lean);
  const value = relDiff(yLean, yRef);
  const lossOf = (f: () => tf.Tensor) => () => tf.sum(tf.mul(f(), r)) as tf.Scalar;
  const got = tf.variableGrads(lossOf(lean), vars);
  const want = tf.variableGrads(lossOf(ref), vars);
  const grads: Record<string, number> = {};
  const missing: string[] = [];
  for (const v of vars) {
    const g = got.grads[v.name];
    const w = want.grads[v.name];
    if (!g || !w) missing.push(v.name);
    else grads[v.name] = relDiff(g, w);
  }
  tf.dispose([yRef, yLean, r, got.value, want.value, ...Object.values(got.grads), ...Object.values(want.grads)]);
  return { value, grads, missing };
}

/** One tape node as recorded while `f` ran under variableGrads. */
export interface TapeNodeInfo {
  kernel: string;
  inputs: number;
  savedSizes: number[];
}

/** The tape nodes `f` records (under a gradient w.r.t. `vars`), then the gradients are computed and dropped. */
export function tapeOf(f: () => tf.Tensor, vars: tf.Variable[]): TapeNodeInfo[] {
  let nodes: TapeNodeInfo[] = [];
  const { value, grads } = tf.variableGrads(() => {
    const y = f();
    const tape = (
      tf.engine() as unknown as {
        state: {
          activeTape: {
            kernelName: string;
            inputs: Record<string, tf.Tensor>;
            outputs: tf.Tensor[];
            saved?: tf.Tensor[];
          }[];
        };
      }
    ).state.activeTape;
    // Saving a tensor records an engine clone node whose output is the saved copy: not an op of f's, so skip it.
    const savedIds = new Set(tape.flatMap((n) => (n.saved ?? []).map((t) => t.id)));
    const ops = tape.filter((n) => !n.outputs.every((o) => savedIds.has(o.id)));
    nodes = ops.map((n) => ({
      kernel: n.kernelName,
      inputs: Object.keys(n.inputs).length,
      savedSizes: (n.saved ?? []).map((t) => t.size),
    }));
    return tf.sum(y) as tf.Scalar;
  }, vars);
  tf.dispose([value, ...Object.values(grads)]);
  return nodes;
}

/** Kernel names and call counts while `f` runs (e.g. matmuls in a backward pass). */
export async function kernelCounts(f: () => void): Promise<Map<string, number>> {
  const info = await tf.profile(() => {
    f();
    return null as unknown as tf.Tensor;
  });
  const m = new Map<string, number>();
  for (const k of info.kernels) m.set(k.name, (m.get(k.name) ?? 0) + 1);
  return m;
}

/** A trainable variable of random normal values. */
export function randVar(shape: number[], seed: number, scale = 1): tf.Variable {
  return tf.tidy(() => tf.variable(tf.mul(tf.randomNormal(shape, 0, 1, "float32", seed), scale)));
}
