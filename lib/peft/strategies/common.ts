/** Helpers shared by the strategies: head/stage membership, no-decay rules, group building. */
import { ConfigError } from "../../errors";
import type { Parameter } from "../../nn/module";
import type { ImageClassifier, Stage } from "../../models/types";
import type { Strategy, StrategyContext, StrategyParamGroup } from "./types";

/** Whether a parameter name lies under one of the dotted prefixes. */
export function underPrefix(name: string, prefixes: readonly string[]): boolean {
  return prefixes.some((p) => name === p || name.startsWith(`${p}.`));
}

/** Whether a parameter belongs to the classifier head. */
export function isHead(model: ImageClassifier, name: string): boolean {
  return underPrefix(name, model.headNames);
}

/**
 * BEiT / timm no-weight-decay rule: 1-d tensors (biases, norm scales) and tokens / position embeddings get weight
 * decay 0.
 */
export function noWeightDecay(name: string, p: Parameter): boolean {
  return p.shape.length <= 1 || /(^|\.)(cls_token|reg_token|pos_embed|dist_token|mask_token)$/.test(name);
}

/** Stage index of a parameter (input side 0); parameters in no stage count as the last (head) stage, like BEiT. */
export function stageIndex(stages: Stage[], name: string): number {
  const i = stages.findIndex((s) => underPrefix(name, s.prefixes));
  return i < 0 ? stages.length - 1 : i;
}

/** The model's stages, checked to be non-empty. */
export function stagesOf(model: ImageClassifier, who: string): Stage[] {
  const s = model.stages();
  if (s.length < 2) {
    throw new ConfigError("Strategy needs a model with at least two stages", {
      where: who,
      expected: "model.stages() with backbone stages and a head",
      got: `${s.length} stages`,
    });
  }
  return s;
}

/** Sets trainable flags: true exactly for names where `pick` holds. */
export function setTrainable(model: ImageClassifier, pick: (name: string) => boolean): void {
  for (const [n, p] of model.namedParameters()) p.trainable = pick(n);
}

/** One group of the given parameters, or decay / no-decay groups when `splitNoDecay`. */
export function groupsOf(
  name: string,
  params: [string, Parameter][],
  ctx: StrategyContext,
  opts: { lrScale?: number; splitNoDecay?: boolean } = {},
): StrategyParamGroup[] {
  const scale = opts.lrScale ?? 1;
  if (!opts.splitNoDecay)
    return params.length ? [{ name, params, lr: ctx.lr, weightDecay: ctx.weightDecay, lrScale: scale }] : [];
  const decay = params.filter(([n, p]) => !noWeightDecay(n, p));
  const noDecay = params.filter(([n, p]) => noWeightDecay(n, p));
  return [
    { name: `${name}_decay`, params: decay, lr: ctx.lr, weightDecay: ctx.weightDecay, lrScale: scale },
    { name: `${name}_no_decay`, params: noDecay, lr: ctx.lr, weightDecay: 0, lrScale: scale },
  ].filter((g) => g.params.length > 0);
}

/** Defaults for the hooks a simple strategy does not use. */
export const NO_HOOKS: Pick<Strategy, "onEpochStart" | "penalty" | "lrMultipliers"> = {
  onEpochStart: () => undefined,
  penalty: () => null,
  lrMultipliers: () => null,
};

/** Throws a ConfigError naming a bad hyperparameter. */
export function checkHp(strategy: string, field: string, ok: boolean, expected: string, got: unknown): void {
  if (!ok) {
    throw new ConfigError(`Invalid ${strategy} hyperparameter`, {
      where: `${strategy}.${field}`,
      expected,
      got: JSON.stringify(got),
    });
  }
}
