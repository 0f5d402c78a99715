/**
 * Paper 4 (seed 003): Zhaksylyk, Abdikenov, Saidnassim, Ayanbayev, Imasheva, Karibekov, "Assessing CNNs and
 * LoRA-Fine-Tuned Vision–Language Models for Breast Cancer Histopathology Image Classification"
 * (/work/shared/papers/PROTOCOLS.md "Paper 4"): its LoRA configuration as data.
 */
import { loraStrategy, type LoraStrategy } from "../../peft/strategies/lora";

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
