/**
 * ViT transfer recipes for the chest X-ray (seed 002, MED-PEFT) and breast (seed 003) notebooks: re-pooling a
 * pretrained ViT as MAE's fine-tuning model does (global average pooling of the patch tokens, then a fresh
 * `fc_norm`), MED-PEFT's q/v-only LoRA, its README's recommended rank / lr table, and Paper 4's LoRA config.
 */
import { ConfigError } from "../errors";
import { createVit, type VisionTransformer } from "./vit";
import type { GlobalPool } from "./vit_config";

/** Options of repoolVit. */
export interface RepoolOptions {
  globalPool: GlobalPool;
  /** timm's fc_norm (a LayerNorm after pooling; `norm` becomes Identity). */
  fcNorm: boolean;
  numClasses: number;
  seed: number;
  /** Stochastic depth for fine-tuning (MED-PEFT: 0.1). */
  dropPathRate?: number;
}

/** A re-pooled copy of a pretrained ViT plus the checkpoint keys it did not take (and why). */
export interface RepooledVit {
  model: VisionTransformer;
  dropped: string[];
  note: string;
}

/**
 * Builds a ViT with the backbone's architecture but another pooling, and loads the backbone's weights the way MAE's
 * main_finetune.py does: with fc_norm, the final `norm` is dropped (fc_norm and the head start fresh); the head is
 * always re-created for `numClasses`.
 */
export function repoolVit(backbone: VisionTransformer, o: RepoolOptions): RepooledVit {
  const c = backbone.config;
  const model = createVit({
    ...c,
    globalPool: o.globalPool,
    fcNorm: o.fcNorm,
    numClasses: o.numClasses,
    seed: o.seed,
    dropPathRate: o.dropPathRate ?? c.dropPathRate,
  });
  const sd = backbone.stateDict();
  const dropped: string[] = [];
  for (const k of [...sd.keys()]) {
    const isHead = backbone.headNames.some((h) => k === h || k.startsWith(`${h}.`));
    const isNorm = o.fcNorm && (k === "norm.weight" || k === "norm.bias");
    if (isHead || isNorm) {
      sd.delete(k);
      dropped.push(k);
    }
  }
  const res = model.loadStateDict(sd, { strict: false });
  const unexpected = res?.unexpectedKeys ?? [];
  if (unexpected.length) {
    model.dispose();
    throw new ConfigError("Re-pooled ViT does not take every backbone weight", {
      where: "repoolVit",
      expected: "the same blocks, embeddings and tokens",
      got: `unexpected ${unexpected.slice(0, 5).join(", ")}`,
    });
  }
  const note =
    o.fcNorm && o.globalPool === "avg"
      ? "global average pooling over patch tokens + a fresh fc_norm (MAE/MED-PEFT fine-tuning model); the backbone's final norm is dropped"
      : `pooling ${o.globalPool}${o.fcNorm ? " + fc_norm" : ""}`;
  return { model: model.eval(), dropped, note };
}
