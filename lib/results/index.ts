/**
 * lib/results: run records, the JSONL run log with resumable sweeps, Arquero tables (flatten, mean ± std, pivot,
 * exports) and published numbers as data.
 */
export * from "./run_record";
export * from "./run_log";
export * from "./tables";
export * from "./published";
export * from "./compare";
