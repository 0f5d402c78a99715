/**
 * Auto-RGN (Lee et al., Surgical Fine-Tuning Improves Adaptation to Distribution Shifts, ICLR 2023): every step, each
 * parameter tensor's lr is multiplied by its relative gradient norm RGN = ‖g‖₂ / ‖θ‖₂ divided by the largest RGN
 * across tensors, so the tensor with the largest relative gradient trains at the full lr. Tensors with ‖θ‖ = 0 (a
 * zero-initialised bias) have no defined RGN: they keep multiplier 1 and are left out of the maximum.
 */
import * as tf from "@tensorflow/tfjs";
import type { Parameter } from "../../nn/module";
import { fullFineTuning } from "./basic";
import type { Strategy } from "./types";

/** The Auto-RGN multipliers for one step (every norm read back in one asynchronous transfer). */
export async function autoRgnMultipliers(
  grads: Map<string, tf.Tensor>,
  params: Map<string, Parameter>,
): Promise<Map<string, number>> {
  const rgn = new Map<string, number>();
  const out = new Map<string, number>();
  const names = [...grads.keys()].filter((n) => params.has(n));
  if (names.length === 0) return out;
  const norms = tf.tidy(() =>
    tf.stack(names.flatMap((n) => [tf.norm(grads.get(n)!), tf.norm(params.get(n)!.variable)])),
  ); // [2N]
  const v = await norms.data();
  norms.dispose();
  names.forEach((n, i) => {
    const [gn, pn] = [v[2 * i], v[2 * i + 1]];
    if (pn > 0) rgn.set(n, gn / pn);
    else out.set(n, 1);
  });
  const max = Math.max(0, ...rgn.values());
  for (const [n, r] of rgn) out.set(n, max > 0 ? r / max : 1);
  return out;
}

/** Auto-RGN: full fine-tuning with per-tensor lr multipliers recomputed every step. */
export function autoRgn(): Strategy {
  const ft = fullFineTuning();
  return {
    ...ft,
    name: "Auto-RGN",
    source: "Lee et al., Surgical Fine-Tuning Improves Adaptation to Distribution Shifts, ICLR 2023",
    hyperparameters: {},
    lrMultipliers: autoRgnMultipliers,
  };
}
