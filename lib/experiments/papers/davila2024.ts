/**
 * The eight fine-tuning arms of Davila et al. 2024 (seed 004) as lib/peft strategies with the hyperparameters
 * PROTOCOLS.md suggests. Those settings are [INF] (inferred, not read from the paper): each recipe says so in
 * `evidence`, so a notebook can flag them instead of presenting them as the paper's.
 */
import { ConfigError } from "../../errors";
import { autoRgn } from "../../peft/strategies/auto_rgn";
import { fullFineTuning, linearProbing, lpFt } from "../../peft/strategies/basic";
import { gradualFirstToLast, gradualLastToFirst } from "../../peft/strategies/gradual";
import { l1sp, l2sp } from "../../peft/strategies/sp";
import type { Strategy } from "../../peft/strategies/types";

/** The eight arms, in the order the abstract lists their families. */
export const DAVILA_STRATEGIES = ["FT", "LP", "LP-FT", "G-LF", "G-FL", "L2-SP", "L1-SP", "Auto-RGN"] as const;
export type DavilaStrategyName = (typeof DAVILA_STRATEGIES)[number];

/** Learning rates and schedule knobs of the sweep ([INF] defaults from PROTOCOLS.md "Suggested notebook defaults"). */
export interface DavilaHyperparameters {
  /** Adam lr of FT, L2-SP, L1-SP, Auto-RGN and gradual unfreezing. [INF] 1e-4. */
  lrFt: number;
  /** Adam lr of LP and of LP-FT's first (probe) stage. [INF] 1e-3. */
  lrLp: number;
  /** Total epochs of every arm. */
  epochs: number;
  /** LP-FT: epochs of the probe stage; the rest fine-tunes at lrFt. Default half of `epochs`. */
  lpEpochs?: number;
  /** Gradual unfreezing: epochs between two unfreezings. [INF] 1 (PROTOCOLS.md: every 1–3 epochs). */
  unfreezeEvery?: number;
  /** L2-SP / L1-SP α and β. [INF] 0.01 / 0.01 (Li et al.'s common values). */
  spAlpha?: number;
  spBeta?: number;
}

/** One arm, ready to train: the strategy, its base lr and where its settings come from. */
export interface DavilaRecipe {
  name: DavilaStrategyName;
  strategy: Strategy;
  /** The optimiser's base lr for this arm. */
  lr: number;
  /** Evidence tag of the hyperparameters (PROTOCOLS.md): all [INF] for this paper. */
  evidence: "[INF]";
  note: string;
}

/** The default [INF] hyperparameters PROTOCOLS.md suggests for Paper 5 (not the paper's; it could not be checked). */
export const DAVILA_INF_DEFAULTS: DavilaHyperparameters = {
  lrFt: 1e-4,
  lrLp: 1e-3,
  epochs: 10,
  unfreezeEvery: 1,
  spAlpha: 0.01,
  spBeta: 0.01,
};

/** Builds one arm of the comparison with the given (or [INF] default) hyperparameters. */
export function davilaRecipe(name: DavilaStrategyName, hp: DavilaHyperparameters = DAVILA_INF_DEFAULTS): DavilaRecipe {
  const every = hp.unfreezeEvery ?? 1;
  const sp = { alpha: hp.spAlpha ?? 0.01, beta: hp.spBeta ?? 0.01 };
  const lpEpochs = hp.lpEpochs ?? Math.max(1, Math.floor(hp.epochs / 2));
  const r = (strategy: Strategy, lr: number, note: string): DavilaRecipe => ({
    name,
    strategy,
    lr,
    evidence: "[INF]",
    note,
  });
  switch (name) {
    case "FT":
      return r(fullFineTuning(), hp.lrFt, "all layers at one lr");
    case "LP":
      return r(linearProbing(), hp.lrLp, "head only");
    case "LP-FT":
      // Probe at lrLp, then everything at lrFt: ftLrScale expresses the FT lr relative to the probe lr.
      return r(lpFt({ lpEpochs, ftLrScale: hp.lrFt / hp.lrLp }), hp.lrLp, `LP for ${lpEpochs} epochs, then FT`);
    case "G-LF":
      return r(gradualLastToFirst({ every }), hp.lrFt, `one stage more every ${every} epoch(s), output side first`);
    case "G-FL":
      return r(gradualFirstToLast({ every }), hp.lrFt, `one stage more every ${every} epoch(s), input side first`);
    case "L2-SP":
      return r(l2sp(sp), hp.lrFt, `α=${sp.alpha}, β=${sp.beta}`);
    case "L1-SP":
      return r(l1sp(sp), hp.lrFt, `α=${sp.alpha}, β=${sp.beta}`);
    case "Auto-RGN":
      return r(autoRgn(), hp.lrFt, "per-tensor lr × RGN / max RGN, every step");
    default:
      throw new ConfigError("Unknown strategy", {
        where: "davilaRecipe(name)",
        expected: DAVILA_STRATEGIES.join(", "),
        got: String(name),
      });
  }
}

/** Accuracy of always predicting the commonest class of `labels` (the level a table's arms must clear). */
export function majorityAccuracy(labels: ArrayLike<number>): number {
  if (labels.length === 0) {
    throw new ConfigError("No labels to take the majority class of", {
      where: "majorityAccuracy(labels)",
      expected: "at least one label",
      got: "0 labels",
    });
  }
  const counts = new Map<number, number>();
  for (let i = 0; i < labels.length; i++) counts.set(labels[i], (counts.get(labels[i]) ?? 0) + 1);
  return Math.max(...counts.values()) / labels.length;
}

/** One arm's mean test accuracy on one dataset. */
export interface ArmAccuracy {
  dataset: string;
  method: string;
  accuracy: number;
}

/**
 * The arms that do not clear their dataset's majority-class accuracy by more than `margin` (default 0.05): near
 * chance, so a notebook says so beside its table instead of reading them as findings.
 */
export function nearChanceArms(
  arms: readonly ArmAccuracy[],
  majority: ReadonlyMap<string, number>,
  margin = 0.05,
): ArmAccuracy[] {
  return arms.filter((a) => {
    const m = majority.get(a.dataset);
    return m !== undefined && a.accuracy <= m + margin;
  });
}
