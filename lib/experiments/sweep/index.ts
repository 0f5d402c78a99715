/**
 * lib/experiments/sweep: `peftlab sweep` — a paper's grid as a sweep folder, run in-process, locally (N at a time)
 * or as a Slurm job array, resumable, with the results merged into one Arquero table.
 */
export * from "./spec";
export * from "./plan";
export * from "./claim";
export * from "./store";
export * from "./status";
export * from "./progress";
export { executeRun, cliEntry, type ExecuteOptions, type ExecuteResult } from "./execute";
export * from "./slurm";
export * from "./api";
