/**
 * LoRA as a strategy: injects LoRA with the given config (lib/peft/lora) at setup; the trainable set is the LoRA A/B
 * weights plus modules_to_save (the new head, and fc_norm for seed 002's recipe). `headAsModulesToSave` (default
 * true) adds the model's head names to modules_to_save, so the saved adapter carries the trained head as peft's
 * does. After setup, `strategy.lora` is the LoraModel (for saving the adapter, merging, counting parameters).
 */
import type { ImageClassifier } from "../../models/types";
import { getPeftModel, type LoraModel } from "../lora/model";
import type { LoraOptions } from "../lora/config";
import { groupsOf, NO_HOOKS } from "./common";
import type { Strategy } from "./types";

/** LoRA strategy settings: the LoRA config plus whether the head joins modules_to_save. */
export type LoraStrategyOptions = Partial<LoraOptions> & {
  targetModules: string[] | string;
  headAsModulesToSave?: boolean;
};

/** A LoRA strategy; `lora` is set by setup. */
export interface LoraStrategy extends Strategy {
  lora: LoraModel<ImageClassifier> | undefined;
}

/** LoRA (Hu et al., ICLR 2022) with peft's semantics. */
export function loraStrategy(opts: LoraStrategyOptions): LoraStrategy {
  const { headAsModulesToSave = true, ...config } = opts;
  const s: LoraStrategy = {
    name: "LoRA",
    source: "Hu et al., LoRA: Low-Rank Adaptation of Large Language Models, ICLR 2022 (peft's LoraConfig semantics)",
    hyperparameters: { ...config, headAsModulesToSave },
    lora: undefined,
    setup(model, ctx) {
      const mts = [...(config.modulesToSave ?? [])];
      if (headAsModulesToSave) for (const h of model.headNames) if (!mts.includes(h)) mts.push(h);
      s.lora = getPeftModel(model, { ...config, modulesToSave: mts.length ? mts : null });
      return groupsOf(
        "lora",
        model.namedParameters().filter(([, p]) => p.trainable),
        ctx,
      );
    },
    ...NO_HOOKS,
  };
  return s;
}
