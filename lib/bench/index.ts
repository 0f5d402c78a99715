/** `peftlab bench`: model-level benchmark workloads, FLOP counts, reference comparison and the JSON report. */
export * from "./types";
export * from "./flops";
export { median, profileOnce, timeSteps, type Timing } from "./measure";
export * from "./reference";
export type { WorkloadContext, WorkloadOutcome, WorkloadSkip, WorkloadSpec } from "./workload";
export { WORKLOADS, getWorkload, runWorkload, RESULT_MARKER, type WorkerRequest } from "./worker";
export * from "./run";
export * from "./report";
