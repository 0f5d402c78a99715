/**
 * lib/train: optimisers, schedules, losses, the fit() loop with resumable checkpoints and evaluation. Run configs,
 * notebooks' runs and the per-paper set-ups are one layer above, in lib/experiments.
 * The callback types (TrainingCallbacks, …) are defined in ./callbacks and reach the public entry through lib/display,
 * whose dashboard implements them; only terminalProgress is re-exported from here.
 */
export * from "./optim";
export * from "./schedule";
export * from "./loss";
export * from "./fit";
export * from "./evaluate";
export * from "./checkpoint";
export * from "./interrupt";
export * from "./train_evaluate";
export * from "./linear_head";
export { terminalProgress, freezeBatchNormStats } from "./callbacks";
