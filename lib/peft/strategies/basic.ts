/** FT, LP and LP-FT (Davila et al. 2024's arms 1, 2 and 5). */
import type { ImageClassifier } from "../../models/types";
import { checkHp, groupsOf, isHead, NO_HOOKS, setTrainable } from "./common";
import type { Strategy, StrategyContext, StrategyParamGroup } from "./types";

/** Options shared by FT / LP: exempt biases, norms and tokens from weight decay (timm's convention). */
export interface BasicOptions {
  noDecayNormsAndBiases?: boolean;
}

/** FT: replace the head, train every layer at one lr. */
export function fullFineTuning(opts: BasicOptions = {}): Strategy {
  return {
    name: "FT",
    source: "standard full fine-tuning (Davila et al. 2024, arm 1)",
    hyperparameters: { ...opts },
    setup(model: ImageClassifier, ctx: StrategyContext): StrategyParamGroup[] {
      setTrainable(model, () => true);
      return groupsOf("all", model.namedParameters(), ctx, { splitNoDecay: opts.noDecayNormsAndBiases });
    },
    ...NO_HOOKS,
  };
}

/** LP: freeze the backbone, train the head only. */
export function linearProbing(opts: BasicOptions = {}): Strategy {
  return {
    name: "LP",
    source: "linear probing (Davila et al. 2024, arm 2)",
    hyperparameters: { ...opts },
    setup(model: ImageClassifier, ctx: StrategyContext): StrategyParamGroup[] {
      setTrainable(model, (n) => isHead(model, n));
      return groupsOf(
        "head",
        model.namedParameters().filter(([n]) => isHead(model, n)),
        ctx,
        { splitNoDecay: opts.noDecayNormsAndBiases },
      );
    },
    ...NO_HOOKS,
  };
}

/** LP-FT settings. */
export interface LpFtOptions extends BasicOptions {
  /** Epochs of linear probing before everything is unfrozen (stage 1 length). */
  lpEpochs: number;
  /** lr multiplier of the FT stage relative to the LP lr (Kumar et al. fine-tune with a smaller lr). Default 0.1. */
  ftLrScale?: number;
}

/**
 * LP-FT (Kumar et al., ICLR 2022): epochs [0, lpEpochs) train the head only at the base lr; from epoch lpEpochs every
 * parameter trains, starting from the LP head, at lr × ftLrScale (all groups' lrScale is changed in place).
 */
export function lpFt(opts: LpFtOptions): Strategy {
  checkHp(
    "LP-FT",
    "lpEpochs",
    Number.isInteger(opts.lpEpochs) && opts.lpEpochs >= 0,
    "a non-negative integer",
    opts.lpEpochs,
  );
  const ftScale = opts.ftLrScale ?? 0.1;
  checkHp("LP-FT", "ftLrScale", ftScale > 0, "> 0", ftScale);
  let groups: StrategyParamGroup[] = [];
  return {
    name: "LP-FT",
    source: "Kumar et al., Fine-Tuning can Distort Pretrained Features, ICLR 2022",
    hyperparameters: {
      lpEpochs: opts.lpEpochs,
      ftLrScale: ftScale,
      noDecayNormsAndBiases: opts.noDecayNormsAndBiases ?? false,
    },
    setup(model, ctx) {
      groups = groupsOf("all", model.namedParameters(), ctx, { splitNoDecay: opts.noDecayNormsAndBiases });
      setTrainable(model, (n) => opts.lpEpochs === 0 || isHead(model, n));
      if (opts.lpEpochs === 0) for (const g of groups) g.lrScale = ftScale;
      return groups;
    },
    onEpochStart(epoch, model) {
      const ft = epoch >= opts.lpEpochs;
      setTrainable(model, (n) => ft || isHead(model, n));
      for (const g of groups) g.lrScale = ft ? ftScale : 1;
    },
    penalty: () => null,
    lrMultipliers: () => null,
  };
}
