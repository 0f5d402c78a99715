/**
 * Paper 3 (seed 002): Lian, Zhou, Yu, Wang, "Less Could Be Better: Parameter-efficient Fine-tuning Advances Medical
 * Vision Foundation Models" (MED-PEFT, arXiv 2401.12215; /work/shared/papers/PROTOCOLS.md "Paper 3"). Its settings as
 * data: the README's recommended LoRA (lr, rank) per dataset and label fraction, the FFT script's settings, and its
 * q/v-only LoRA. The re-pooled ViT it fine-tunes is lib/models' repoolVit.
 */
import { loraStrategy, type LoraStrategy } from "../../peft/strategies/lora";

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
