/**
 * The fine-tuning strategies by name, as run configs and notebooks spell them (FT, LP, LP-FT, G-LF, G-FL, L2-SP,
 * L1-SP, Auto-RGN, LLRD, discriminative), each built from plain options.
 */
import { ConfigError } from "../../errors";
import { autoRgn } from "./auto_rgn";
import { fullFineTuning, linearProbing, lpFt } from "./basic";
import { gradualFirstToLast, gradualLastToFirst } from "./gradual";
import { discriminativeLr, layerwiseLrDecay } from "./lrd";
import { l1sp, l2sp } from "./sp";
import type { Strategy } from "./types";

/** Strategy names accepted by run configs (`method.name`) and makeStrategy. */
export const STRATEGY_NAMES = [
  "FT",
  "LP",
  "LP-FT",
  "G-LF",
  "G-FL",
  "L2-SP",
  "L1-SP",
  "Auto-RGN",
  "LLRD",
  "discriminative",
] as const;
export type StrategyName = (typeof STRATEGY_NAMES)[number];

/** One factory per name; each validates its own options. */
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
      expected: `one of ${STRATEGY_NAMES.join(", ")}`,
      got: JSON.stringify(name),
    });
  }
  return f(opts);
}
