/**
 * Bridges lib/peft's fine-tuning strategies into fit(): names them (FT, LP, LP-FT, G-LF, G-FL, L2-SP, L1-SP,
 * Auto-RGN, LLRD, discriminative) and adapts their calling protocol to FitStrategy.
 */
import { ConfigError } from "../errors";
import type { ImageClassifier } from "../models/types";
import type { Parameter } from "../nn/module";
import {
  autoRgn,
  discriminativeLr,
  fullFineTuning,
  gradualFirstToLast,
  gradualLastToFirst,
  l1sp,
  l2sp,
  layerwiseLrDecay,
  linearProbing,
  lpFt,
  type Strategy,
} from "../peft/strategies";
import type { FitStrategy } from "./fit";
import type { StrategyName } from "./run_config";

/** Strategy names accepted by run configs and notebooks (typed by run_config's STRATEGY_NAMES, so both agree). */
export const STRATEGY_FACTORIES: Record<StrategyName, (opts: Record<string, unknown>) => Strategy> = {
  FT: (o) => fullFineTuning(o),
  LP: (o) => linearProbing(o),
  "LP-FT": (o) => lpFt(o as unknown as Parameters<typeof lpFt>[0]),
  "G-LF": (o) => gradualLastToFirst(o),
  "G-FL": (o) => gradualFirstToLast(o),
  "L2-SP": (o) => l2sp(o),
  "L1-SP": (o) => l1sp(o),
  "Auto-RGN": () => autoRgn(),
  LLRD: (o) => layerwiseLrDecay(o),
  discriminative: (o) => discriminativeLr(o),
};

/** Builds a named strategy with its options; unknown names list the valid ones. */
export function makeStrategy(name: string, opts: Record<string, unknown> = {}): Strategy {
  const f = Object.prototype.hasOwnProperty.call(STRATEGY_FACTORIES, name)
    ? STRATEGY_FACTORIES[name as StrategyName]
    : undefined;
  if (!f) {
    throw new ConfigError("Unknown fine-tuning strategy", {
      where: "method.name",
      expected: `one of ${Object.keys(STRATEGY_FACTORIES).join(", ")}`,
      got: JSON.stringify(name),
    });
  }
  return f(opts);
}

/** Adapts a lib/peft Strategy to the hooks fit() calls. */
export function fitStrategyOf(s: Strategy): FitStrategy {
  let params: Map<string, Parameter> | undefined;
  return {
    name: s.name,
    setup(model, optimizer) {
      const m = model as unknown as ImageClassifier;
      params = new Map(m.namedParameters());
      const wd = optimizer.weightDecay ?? (optimizer.name === "adamw" ? 0.01 : 0);
      return s.setup(m, { lr: optimizer.lr, weightDecay: wd });
    },
    onEpochStart({ epoch, model }) {
      s.onEpochStart(epoch, model as unknown as ImageClassifier);
    },
    penalty(model) {
      return s.penalty(model as unknown as ImageClassifier);
    },
    lrMultipliers(grads, model) {
      params ??= new Map(model.namedParameters());
      return s.lrMultipliers(grads, params) ?? undefined;
    },
  };
}
