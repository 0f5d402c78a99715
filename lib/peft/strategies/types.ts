/**
 * The one fine-tuning strategy protocol: lib/train's fit() takes a Strategy directly (FitOptions.strategy). A strategy decides which parameters train,
 * in which optimiser groups with which lr scales, what extra loss term is added, and per-tensor lr multipliers.
 *
 * How the loop uses a strategy, in order:
 * 1. `groups = strategy.setup(model, { lr, weightDecay })` once, after the new head is in place. It sets each
 *    parameter's `trainable` flag and returns optimiser groups holding EVERY parameter the strategy will ever train
 *    (gradual unfreezing and LP-FT flip flags later). Pass these group objects to the optimiser by reference: a
 *    strategy may change a group's `lrScale` later (LP-FT's lower FT lr), and the optimiser reads it at every step.
 * 2. `strategy.onEpochStart(epoch, model)` at the start of every epoch (0-based), before the first batch. It may flip
 *    `trainable` flags; the loop then differentiates only w.r.t. parameters whose flag is set.
 * 3. Per step, inside the loss closure: `loss = task loss + (strategy.penalty(model) ?? 0)` (differentiable).
 * 4. Per step, after the gradients: `mult = strategy.lrMultipliers(grads, params)`; the optimiser multiplies each
 *    named parameter's lr by `mult.get(name) ?? 1`.
 * 5. With checkpoints: `getState()` is saved with each checkpoint and `setState()` restores it on resume (optional;
 *    the built-in strategies derive everything from the epoch, so they keep no state).
 * Parameters whose trainable flag is false must not be updated, and weight decay must not touch them either.
 * fit() passes `ctx.weightDecay` as the optimiser resolves it (AdamW's default 0.01 as in torch, otherwise 0), so a
 * strategy's groups decay exactly as fit()'s default groups would. Things that are not about what trains (e.g.
 * BatchNorm statistics frozen during LoRA) are fit() callbacks, not strategies.
 */
import type * as tf from "@tensorflow/tfjs";
import type { Parameter } from "../../nn/module";
import type { ImageClassifier } from "../../models/types";

/** An optimiser parameter group; structurally the same as lib/train's ParamGroup, so it can be passed straight on. */
export interface StrategyParamGroup {
  name: string;
  params: [string, Parameter][];
  /** Base lr of the group (the schedule scales it). */
  lr: number;
  weightDecay: number;
  /** Multiplier on the scheduled lr (LLRD, discriminative lrs, LP-FT's FT stage). Default 1. */
  lrScale?: number;
}

/** What setup needs from the run's optimiser settings. */
export interface StrategyContext {
  lr: number;
  weightDecay: number;
}

/** A fine-tuning strategy (see the file comment for the calling protocol). */
export interface Strategy {
  /** Short name, e.g. "FT", "LP-FT", "Auto-RGN". */
  readonly name: string;
  /** Paper the strategy comes from. */
  readonly source: string;
  /** Its hyperparameters, as plain data for run records. */
  readonly hyperparameters: Readonly<Record<string, unknown>>;
  /** Sets trainable flags and returns the optimiser groups. */
  setup(model: ImageClassifier, ctx: StrategyContext): StrategyParamGroup[];
  /** Called at the start of every epoch (0-based) before its first batch. */
  onEpochStart(epoch: number, model: ImageClassifier): void;
  /** An extra loss term (call inside the gradient closure), or null. */
  penalty(model: ImageClassifier): tf.Scalar | null;
  /**
   * Per-parameter lr multipliers for this step, by parameter name, or null for none. May be asynchronous: reading
   * gradient norms back must be (webgpu has no synchronous reads).
   */
  lrMultipliers(
    grads: Map<string, tf.Tensor>,
    params: Map<string, Parameter>,
  ): Map<string, number> | null | Promise<Map<string, number> | null>;
  /** Opaque JSON state saved in checkpoints (optional). */
  getState?(): unknown;
  setState?(s: unknown): void;
}
