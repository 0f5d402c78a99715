/** Parameter-efficient fine-tuning: LoRA (peft-compatible adapters), probes and fine-tuning strategies. */
export * from "./lora";
export * from "./lora/parity";
export * from "./strategies";
export * from "./probe";
