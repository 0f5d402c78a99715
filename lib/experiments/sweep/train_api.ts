/**
 * The one place lib/experiments/sweep reaches into the training layer (run-config validation, path expansion, and
 * the in-process executor's train + eval).
 */
export { resolveRunConfig, type RunConfig } from "../run_config";
export { expandPath } from "../config_fields";
export { runExperiment } from "../run";
export { loadRun, predictWithRun, predictionsOf } from "../run_predict";
export { writePredsCsv } from "../preds_csv";
export { imageFolderDataset } from "../../data/sources";
