/**
 * The one place lib/experiments/sweep reaches into the training layer (run-config validation, path expansion, and
 * the in-process executor's train + eval). When lib/train/run*.ts moves, only these imports change.
 */
export { resolveRunConfig, type RunConfig } from "../../train/run_config";
export { expandPath } from "../../train/config_fields";
export { runExperiment } from "../../train/run";
export { loadRun, predictWithRun, predictionsOf } from "../../train/run_predict";
export { writePredsCsv } from "../../train/preds_csv";
export { imageFolderDataset } from "../../data/sources";
