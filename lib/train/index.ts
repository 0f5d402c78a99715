/**
 * lib/train: optimisers, schedules, losses, the fit() loop with resumable checkpoints, evaluation, probes in runs (on
 * lib/peft's probes and feature cache), and the
 * RunConfig → run folder layer (runExperiment) that the CLI and notebooks share.
 * The callback types (TrainingCallbacks, …) are defined in ./callbacks and reach the public entry through lib/display,
 * whose dashboard implements them; only terminalProgress is re-exported from here.
 */
export * from "./optim";
export * from "./schedule";
export * from "./loss";
export * from "./fit";
export * from "./evaluate";
export * from "./checkpoint";
export { terminalProgress } from "./callbacks";
export * from "./preds_csv";
export * from "./run_config";
export * from "./run_models";
export * from "./run_probe";
export * from "./run_data";
export * from "./run_methods";
export * from "./run_predict";
export * from "./run";
export * from "./strategy_adapter";
export * from "./heldout";
