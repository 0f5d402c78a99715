/**
 * ViT transfer recipes for the chest X-ray (seed 002, MED-PEFT) and breast (seed 003) notebooks: re-pooling a
 * pretrained ViT as MAE's fine-tuning model does (global average pooling of the patch tokens, then a fresh
 * `fc_norm`), MED-PEFT's q/v-only LoRA, its README's recommended rank / lr table, and Paper 4's LoRA config.
 */
import { ConfigError } from "../errors";
import { createVit, type VisionTransformer } from "../models/vit";
import type { GlobalPool } from "../models/vit_config";
import { loraStrategy, type LoraStrategy } from "../peft/strategies/lora";

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

/** MED-PEFT README's recommended LoRA settings for MRM weights (SGD, momentum 0.9, wd 0, 100 epochs) [V-code]. */
export const MEDPEFT_MRM_LORA: Readonly<
  Record<"NIH" | "CheXpert" | "RSNA", Record<"0.01" | "0.1" | "1", { lr: number; rank: number }>>
> = {
  NIH: { "0.01": { lr: 0.05, rank: 4 }, "0.1": { lr: 0.05, rank: 8 }, "1": { lr: 0.2, rank: 32 } },
  CheXpert: { "0.01": { lr: 0.02, rank: 4 }, "0.1": { lr: 0.05, rank: 16 }, "1": { lr: 0.01, rank: 32 } },
  RSNA: { "0.01": { lr: 0.01, rank: 4 }, "0.1": { lr: 0.01, rank: 32 }, "1": { lr: 0.01, rank: 32 } },
};

/** MED-PEFT's FFT script for MRM at 1% labels: SGD lr 1e-2, 200 epochs, wd 0 [V-code ft_*.sh]. */
export const MEDPEFT_MRM_FFT = { optimizer: "sgd", lr: 1e-2, momentum: 0.9, weightDecay: 0, epochs: 200 } as const;

/** The recommended (lr, rank) for a dataset and label fraction (nearest listed fraction). */
export function medPeftLoraSetting(
  dataset: keyof typeof MEDPEFT_MRM_LORA,
  fraction: number,
): { lr: number; rank: number } {
  const keys = ["0.01", "0.1", "1"] as const;
  const k = keys.reduce((a, b) =>
    Math.abs(Math.log(Number(b) / fraction)) < Math.abs(Math.log(Number(a) / fraction)) ? b : a,
  );
  return MEDPEFT_MRM_LORA[dataset][k];
}

/**
 * MED-PEFT's LoRA: loralib MergedLinear on the fused qkv with enable_lora=[True, False, True] (q and v only),
 * α = 32, dropout 0.1, scaling α/r; trainable: LoRA, fc_norm and the head. In peftlab it is a q/v-only LoRA
 * (`qkvParts`) saved as a plain peft LoRA on qkv of rank 2r, which Python peft loads with identical outputs.
 */
export function medPeftLora(rank: number, seed = 0, fcNorm = true): LoraStrategy {
  return loraStrategy({
    r: rank,
    loraAlpha: 32,
    loraDropout: 0.1,
    targetModules: ["qkv"],
    qkvParts: { parts: ["q", "v"] },
    modulesToSave: fcNorm ? ["fc_norm"] : null,
    seed,
  });
}

/**
 * Paper 4's LoRA (r 16, α 32, dropout 0.05) [V-page]. Its target modules are [NOT FOUND]; peftlab targets every
 * Linear of the vision blocks (qkv, attn.proj, mlp.fc1, mlp.fc2), the "all-linear" choice common for Qwen2-VL.
 */
export function breakhisLora(seed = 0): LoraStrategy {
  return loraStrategy({
    r: 16,
    loraAlpha: 32,
    loraDropout: 0.05,
    targetModules: ["qkv", "attn.proj", "mlp.fc1", "mlp.fc2"],
    seed,
  });
}
