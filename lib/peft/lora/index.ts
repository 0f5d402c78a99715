/** LoRA in peft's layout: config, layers, injection, and the peft on-disk adapter format. */
export * from "./config";
export * from "./config_json";
export * from "./layer";
export * from "./model";
export * from "./save";
export * from "./targets";
