/** Parameter-efficient fine-tuning: LoRA (peft-compatible adapters), probes and fine-tuning strategies. */
export * from "./lora";
export * from "./lora/parity";
export * from "./strategies";
/** Probes live under a namespace: lib/train has its own probe helpers with the same names (fitLogisticRegression, …). */
export * as probes from "./probe";
