/** Gradual unfreezing, last→first (G-LF, ULMFiT) and first→last (G-FL), one stage every k epochs. */
import type { ImageClassifier } from "../../models/types";
import { checkHp, groupsOf, isHead, NO_HOOKS, stageIndex, stagesOf, setTrainable } from "./common";
import type { Strategy } from "./types";

/** Gradual-unfreezing settings. */
export interface GradualOptions {
  /** Epochs between two unfreezings (default 1). */
  every?: number;
  noDecayNormsAndBiases?: boolean;
}

/**
 * Trainable set at an epoch: the head always; plus ⌊epoch / every⌋ backbone stages, taken from the output side
 * (last→first) or the input side (first→last). Stages come from model.stages(); its last stage is the head's.
 */
export function gradualTrainableStages(
  numBackboneStages: number,
  epoch: number,
  every: number,
  order: "last-first" | "first-last",
): number[] {
  const n = Math.min(numBackboneStages, Math.floor(epoch / every));
  const all = Array.from({ length: numBackboneStages }, (_, i) => i);
  return order === "last-first" ? all.slice(numBackboneStages - n) : all.slice(0, n);
}

function gradual(order: "last-first" | "first-last", opts: GradualOptions): Strategy {
  const every = opts.every ?? 1;
  const name = order === "last-first" ? "G-LF" : "G-FL";
  checkHp(name, "every", Number.isInteger(every) && every > 0, "a positive integer", every);
  const apply = (model: ImageClassifier, epoch: number) => {
    const stages = stagesOf(model, name);
    const open = new Set(gradualTrainableStages(stages.length - 1, epoch, every, order));
    setTrainable(
      model,
      (n) => isHead(model, n) || stageIndex(stages, n) === stages.length - 1 || open.has(stageIndex(stages, n)),
    );
  };
  return {
    name,
    source:
      order === "last-first"
        ? "Howard & Ruder, Universal Language Model Fine-tuning (ULMFiT), ACL 2018: gradual unfreezing"
        : "gradual unfreezing from the input side (Davila et al. 2024, arm G-FL)",
    hyperparameters: { every, order, noDecayNormsAndBiases: opts.noDecayNormsAndBiases ?? false },
    setup(model, ctx) {
      apply(model, 0);
      return groupsOf("all", model.namedParameters(), ctx, { splitNoDecay: opts.noDecayNormsAndBiases });
    },
    ...NO_HOOKS,
    onEpochStart: (epoch, model) => apply(model, epoch),
  };
}

/** G-LF: head first, then one stage every `every` epochs from the top of the network down. */
export function gradualLastToFirst(opts: GradualOptions = {}): Strategy {
  return gradual("last-first", opts);
}

/** G-FL: head first, then one stage every `every` epochs from the input side up. */
export function gradualFirstToLast(opts: GradualOptions = {}): Strategy {
  return gradual("first-last", opts);
}
