/** Test helper: complete RunRecord bodies. */
import type { RunBody, RunRecord } from "../../lib/results";

/** A complete record body for tests; metrics derived from the seed so rows differ. */
export function body(method: string, seed: number, extra: Partial<RunRecord> = {}): RunBody {
  return {
    config: { method, seed, lr: 1e-3 },
    modelId: "mobilenet_v2_035",
    method,
    dataset: "pbc",
    seed,
    metrics: { test: { accuracy: 0.5 + seed / 100 }, val: { accuracy: 0.4 } },
    trainableParams: 10,
    totalParams: 1000,
    wallTimeS: 1.5,
    backend: "cpu",
    scale: "ci",
    startedAt: "2026-01-01T00:00:00Z",
    finishedAt: "2026-01-01T00:00:02Z",
    ...extra,
  };
}
