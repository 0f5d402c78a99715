/**
 * lib/experiments: the one orchestration layer, above lib/train. The CLI's JSON run configs (runExperiment: one
 * RunConfig → one run folder and RunRecord) and the notebooks' runs (trainEvaluate sweeps, probe runs, per-paper
 * set-ups in ./papers with the papers' settings as data) both go through it. Depends on everything below it.
 */
export * from "./preds_csv";
export * from "./run_config";
export * from "./run_models";
export * from "./run_probe";
export * from "./run_data";
export * from "./run_methods";
export * from "./run_predict";
export * from "./run";
export * from "./sweep_runs";
export * from "./transfer_data";
export * from "./pbc_data";
export * from "./host_features";
export * from "./probe_runs";
export * from "./notebook_backbone";
export * from "./lora_toy";
export * from "./lora_intro";
export * from "./heldout";
export * from "./papers/davila2024";
export * from "./papers/davila2024_notebook";
export * from "./papers/davila2024_run";
export * from "./papers/davila2024_results";
export * from "./papers/lian2024_medpeft";
export * from "./papers/zhaksylyk2025_breakhis";
export * from "./papers/dausort2025_cytology";
export * from "./papers/dausort2025_notebook";
export * from "./papers/lian2024_notebook";
export * from "./papers/zhaksylyk2025_notebook";
export * from "./papers/ammeling2025_mitosis";
export * from "./versus_probe";
export * from "./probe_head";
export * from "./vit_tiny";
export * from "./notebook_scale";
