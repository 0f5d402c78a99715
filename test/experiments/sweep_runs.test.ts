/** lib/experiments/sweep_runs: resumable sweeps over a run log, and improvementSummary. */
import * as assert from "node:assert/strict";
import * as path from "node:path";
import { recordsTable } from "../../lib/results/tables";
import { davilaRecipe, hostTransferData, improvementSummary, sweepRuns, trainEvaluate } from "../../lib";
import { tmpDir } from "../helpers/tmp";
import { tinyVitModel, toySplits } from "../helpers/toy_data";

describe("sweepRuns and improvementSummary", () => {
  it("sweepRuns runs each spec once and resumes from the log", async () => {
    const log = path.join(tmpDir("peftlab-sweep-runs-"), "runs.jsonl");
    let calls = 0;
    const run = async (s: { method: string; seed: number }) => {
      calls++;
      const data = hostTransferData(toySplits(), {
        batchSize: 24,
        evalBatchSize: 16,
        seed: s.seed,
        labelDtype: "int32",
      });
      return trainEvaluate({
        model: tinyVitModel(2, s.seed),
        strategy: davilaRecipe(s.method as "FT").strategy,
        ...data,
        fit: { task: "binary", epochs: 1, seed: s.seed, optimizer: { name: "adam", lr: 1e-2 } },
        modelId: "tiny",
        method: s.method,
        dataset: "toy",
        seed: s.seed,
        scale: "ci",
        config: { ...s },
      });
    };
    const specs = [
      { method: "FT", seed: 0 },
      { method: "LP", seed: 0 },
    ];
    const first = await sweepRuns({ log, specs, identify: (s) => s, run });
    assert.equal(calls, 2);
    assert.equal(first.tests.size, 2);
    const second = await sweepRuns({ log, specs, identify: (s) => s, run });
    assert.equal(calls, 2, "nothing re-run");
    assert.equal(second.skipped, 2);
    assert.deepEqual(
      second.records.map((r) => r.id),
      first.records.map((r) => r.id),
    );
    await sweepRuns({ log, specs, identify: (s) => s, run, fresh: true });
    assert.equal(calls, 4, "fresh re-runs everything");
  });
  it("improvementSummary counts cases where the candidate's mean beats the baseline's", () => {
    const rec = (method: string, dataset: string, seed: number, acc: number) => ({
      id: `${method}${dataset}${seed}`,
      config: {},
      modelId: "m",
      method,
      dataset,
      seed,
      metrics: { test: { accuracy: acc } },
      trainableParams: 1,
      totalParams: 1,
      wallTimeS: 0,
      backend: "cpu",
      scale: "ci" as const,
      startedAt: "",
      finishedAt: "",
    });
    const t = recordsTable([
      rec("FT", "a", 0, 0.5),
      rec("FT", "a", 1, 0.7),
      rec("LP-FT", "a", 0, 0.7),
      rec("LP-FT", "a", 1, 0.7),
      rec("FT", "b", 0, 0.9),
      rec("LP-FT", "b", 0, 0.8),
      rec("FT", "c", 0, 0.5),
    ]);
    const s = improvementSummary(t, { baseline: "FT", candidate: "LP-FT", metric: "test.accuracy", by: ["dataset"] });
    assert.equal(s.cases.length, 2, "case c has no LP-FT run");
    assert.equal(s.improved, 1);
    assert.equal(s.fraction, 0.5);
    assert.ok(Math.abs(s.maxRelativeGain - (0.7 - 0.6) / 0.6) < 1e-12);
    assert.throws(
      () => improvementSummary(t, { baseline: "FT", candidate: "LP-FT", metric: "test.f1", by: ["dataset"] }),
      /unknown column/,
    );
  });
});
