/** Fine-tuning strategies: the eight arms of Davila et al. 2024, LLRD / discriminative lrs, and LoRA. */
export * from "./types";
export * from "./common";
export * from "./basic";
export * from "./gradual";
export * from "./sp";
export * from "./auto_rgn";
export * from "./lrd";
export * from "./lora";
export * from "./registry";
