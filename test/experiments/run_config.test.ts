import { strict as assert } from "node:assert";
import * as path from "node:path";
import { ConfigError } from "../../lib/errors";
import { resolveRunConfig } from "../../lib/experiments/run_config";

const base = () => ({
  name: "t",
  model: { id: "fixture:resnet_basic" },
  data: { source: { kind: "imageFolder", path: "${PEFTLAB_SHARED}/data/pbc-jpeg" } },
  method: { kind: "strategy", name: "FT" },
  training: { epochs: 1, batchSize: 4, optimizer: { name: "sgd", lr: 0.1 } },
});

describe("RunConfig validation", () => {
  const env = { PEFTLAB_SHARED: "/data/shared" };

  it("fills defaults and expands ${PEFTLAB_SHARED}", () => {
    const c = resolveRunConfig(base(), { env, warn: () => undefined });
    assert.equal(c.data.source.path, path.resolve("/data/shared/data/pbc-jpeg"));
    assert.deepEqual(c.data.split, { kind: "stratified", fractions: { train: 0.7, val: 0.1, test: 0.2 }, seed: 0 });
    assert.equal(c.task, "multiclass");
    assert.equal(c.model.numClasses, "data");
    assert.equal(c.training.gradAccumSteps, 1);
    assert.equal(c.data.transform.normalize, "model");
    // Resolving the resolved config changes nothing (config.json re-runs the same experiment).
    assert.equal(JSON.stringify(resolveRunConfig(JSON.parse(JSON.stringify(c)), { env })), JSON.stringify(c));
  });

  it("warns about and drops unknown keys, naming them", () => {
    const warnings: string[] = [];
    const raw = { ...base(), colour: "blue", training: { ...base().training, epocs: 3 } };
    const c = resolveRunConfig(raw, { env, warn: (m) => warnings.push(m) });
    assert.ok(warnings.some((w) => w.includes("config.colour")));
    assert.ok(warnings.some((w) => w.includes("training.epocs")));
    assert.equal((c as unknown as Record<string, unknown>).colour, undefined);
  });

  const bad: { name: string; edit: (c: ReturnType<typeof base> & Record<string, unknown>) => void; where: string }[] = [
    { name: "missing model.id", edit: (c) => delete (c.model as { id?: string }).id, where: "model.id" },
    {
      name: "unknown source kind",
      edit: (c) => ((c.data.source as { kind: string }).kind = "folder"),
      where: "data.source.kind",
    },
    {
      name: "fractions not summing to 1",
      edit: (c) =>
        ((c.data as Record<string, unknown>).split = { kind: "stratified", fractions: { train: 0.7, test: 0.2 } }),
      where: "data.split.fractions",
    },
    { name: "negative epochs", edit: (c) => (c.training.epochs = -1), where: "training.epochs" },
    {
      name: "non-numeric learning rate",
      edit: (c) => (c.training.optimizer.lr = "0.1" as unknown as number),
      where: "training.optimizer.lr",
    },
    { name: "unknown optimizer", edit: (c) => (c.training.optimizer.name = "lamb"), where: "training.optimizer.name" },
    { name: "unknown strategy", edit: (c) => (c.method.name = "XYZ"), where: "method.name" },
    {
      name: "LoRA without targets",
      edit: (c) => ((c as Record<string, unknown>).method = { kind: "lora", lora: { r: 4 } }),
      where: "method.lora.targetModules",
    },
    { name: "unknown task", edit: (c) => (c.task = "regression"), where: "task" },
    {
      name: "bad subset",
      edit: (c) => ((c.data as Record<string, unknown>).trainSubset = { perClass: 0 }),
      where: "data.trainSubset.perClass",
    },
    {
      name: "unset env var in a path",
      edit: (c) => ((c.data.source as { path: string }).path = "${NOPE_NOT_SET}/x"),
      where: "data.source.path",
    },
    {
      name: "training missing for a trained method",
      edit: (c) => delete (c as Record<string, unknown>).training,
      where: "training",
    },
  ];
  for (const b of bad) {
    it(`names the field: ${b.name}`, () => {
      const c = base() as ReturnType<typeof base> & Record<string, unknown>;
      b.edit(c);
      assert.throws(
        () => resolveRunConfig(c, { env, warn: () => undefined }),
        (e: unknown) => e instanceof ConfigError && e.where === b.where,
      );
    });
  }
});
