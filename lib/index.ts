/**
 * peftlab: adapt pretrained image models to medical image classification with PEFT on TensorFlow.js.
 * The public entry point; notebooks, the CLI and kernel-ext import only from here.
 */
export * from "./errors";
export * from "./paths";
export * from "./backend";
export * from "./io/host_tensor";
export * from "./io/atomic";
export * from "./io/safetensors";
export * from "./io/npy";
export * from "./io/npz";
export * from "./nn";
export * from "./models";
export * from "./peft";
export * from "./data";
export * from "./display";
export * from "./metrics";
export * from "./results";
export * from "./train";
export * from "./bench";
export * as jupyter from "./jupyter";
export * from "./experiments";
export * from "./peft/lora/spectrum";
export * from "./data/stain_shift";
export * from "./io/torch_checkpoint";
export * from "./experiments/sweep";
