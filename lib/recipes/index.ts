/**
 * lib/recipes: the building blocks the paper notebooks (03–05) orchestrate — in-memory splits and batches, a
 * frozen-prefix CNN split, one strategy-driven train/evaluate run with best-validation selection, resumable sweeps
 * with paired summaries, the eight Davila et al. arms, and their charts. Depends on everything below it.
 */
export * from "./host_data";
export * from "./cnn_prefix";
export * from "./train_eval";
export * from "./sweep";
export * from "./strategies";
export * from "./charts";
export * from "./vit_transfer";
export * from "./transfer_data";
