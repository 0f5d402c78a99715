/**
 * Layer-wise learning-rate decay and discriminative learning rates, over the stages model.stages() defines.
 *
 * LLRD follows BEiT's / MAE's `param_groups_lrd` (seed 002's CXR-MAE recipe, decay 0.65): with L = number of
 * backbone stages (for a ViT: patch_embed + tokens is layer 0, blocks.i is layer i+1, and norm / fc_norm / head are
 * layer L), a parameter of layer l gets lr_scale = decay^(L − l); 1-d tensors (biases, norm scales) and
 * cls_token / pos_embed / dist_token get weight decay 0. One group per (layer, decay / no_decay).
 *
 * Discriminative lrs (ULMFiT): stage s of S gets lr / factor^(S − 1 − s) (factor 2.6 in Howard & Ruder).
 */
import type { ImageClassifier } from "../../models/types";
import type { Parameter } from "../../nn/module";
import { checkHp, NO_HOOKS, noWeightDecay, setTrainable, stageIndex, stagesOf } from "./common";
import type { Strategy, StrategyContext, StrategyParamGroup } from "./types";

/** BEiT's param_groups_lrd over model.stages(): per-layer lr scales and the no-weight-decay split. */
export function layerDecayGroups(
  model: ImageClassifier,
  ctx: StrategyContext,
  decay: number,
  only?: (name: string) => boolean,
): StrategyParamGroup[] {
  const stages = stagesOf(model, "layerDecay");
  const numLayers = stages.length - 1;
  const groups = new Map<string, StrategyParamGroup>();
  for (const [n, p] of model.namedParameters()) {
    if (only && !only(n)) continue;
    const layer = stageIndex(stages, n);
    const nd = noWeightDecay(n, p);
    const key = `layer_${layer}_${nd ? "no_decay" : "decay"}`;
    if (!groups.has(key)) {
      groups.set(key, {
        name: key,
        params: [],
        lr: ctx.lr,
        weightDecay: nd ? 0 : ctx.weightDecay,
        lrScale: decay ** (numLayers - layer),
      });
    }
    groups.get(key)!.params.push([n, p] as [string, Parameter]);
  }
  return [...groups.values()];
}

/** LLRD settings. */
export interface LayerDecayOptions {
  /** Per-layer decay (MAE / CXR-MAE fine-tuning: 0.65 for ViT-B, 0.75 for ViT-L). */
  decay?: number;
}

/** Full fine-tuning with BEiT-style layer-wise lr decay. */
export function layerwiseLrDecay(opts: LayerDecayOptions = {}): Strategy {
  const decay = opts.decay ?? 0.65;
  checkHp("LLRD", "decay", decay > 0 && decay <= 1, "0 < decay ≤ 1", decay);
  return {
    name: "LLRD",
    source: "Bao et al., BEiT (ICLR 2022) param_groups_lrd, as used by MAE and CXR-MAE fine-tuning (seed 002)",
    hyperparameters: { decay },
    setup(model, ctx) {
      setTrainable(model, () => true);
      return layerDecayGroups(model, ctx, decay);
    },
    ...NO_HOOKS,
  };
}

/** Discriminative-lr settings. */
export interface DiscriminativeOptions {
  /** Ratio between consecutive stages' lrs (ULMFiT: 2.6). */
  factor?: number;
}

/** Full fine-tuning with discriminative (per-stage) lrs: stage s of S trains at lr / factor^(S − 1 − s). */
export function discriminativeLr(opts: DiscriminativeOptions = {}): Strategy {
  const factor = opts.factor ?? 2.6;
  checkHp("discriminative", "factor", factor >= 1, "≥ 1", factor);
  return {
    name: "discriminative-lr",
    source: "Howard & Ruder, ULMFiT, ACL 2018 (discriminative fine-tuning)",
    hyperparameters: { factor },
    setup(model, ctx) {
      setTrainable(model, () => true);
      const stages = stagesOf(model, "discriminative-lr");
      const s = stages.length;
      const groups = new Map<number, StrategyParamGroup>();
      for (const [n, p] of model.namedParameters()) {
        const i = stageIndex(stages, n);
        if (!groups.has(i))
          groups.set(i, {
            name: stages[i].name,
            params: [],
            lr: ctx.lr,
            weightDecay: ctx.weightDecay,
            lrScale: factor ** -(s - 1 - i),
          });
        groups.get(i)!.params.push([n, p]);
      }
      return [...groups.values()];
    },
    ...NO_HOOKS,
  };
}
