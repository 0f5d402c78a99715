import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";
import { ConfigError } from "../../../lib/errors";
import { DAUSORT_SETTINGS } from "../../../lib/experiments/papers/dausort2025_cytology";
import { dausortNotebookSetup } from "../../../lib/experiments/papers/dausort2025_notebook";
import { fakePbcShared } from "../../helpers/tmp";

describe("experiments/papers/dausort2025_notebook: notebook 01's set-up", () => {
  // A PBC-like image folder: 8 classes × 20 files (listed, never decoded; the backbone loads lazily).
  let shared: string;
  before(() => (shared = fakePbcShared("peftlab-nb01-")));
  after(() => fs.rmSync(shared, { recursive: true, force: true }));
  const base = { modelId: "vit_base_patch16_clip_224.openai", weights: "w.safetensors" };

  const cases: { name: string; over: { seeds?: number[] | null; shots?: number[] | null; lrs?: number[] | null } }[] = [
    { name: "no overrides: the ci settings", over: {} },
    { name: "null overrides: the ci settings", over: { seeds: null, shots: null, lrs: null } },
    { name: "overrides replace seeds, shots and lrs", over: { seeds: [3], shots: [1, 4], lrs: [1e-4] } },
  ];
  for (const c of cases) {
    it(`ci, ${c.name}`, async () => {
      const s = await dausortNotebookSetup("ci", { shared, ...base, ...c.over });
      const want = DAUSORT_SETTINGS.ci;
      assert.equal(s.scale, "ci");
      assert.deepEqual(s.settings.seeds, c.over.seeds ?? want.seeds);
      assert.deepEqual(s.settings.shots, c.over.shots ?? want.shots);
      assert.deepEqual(s.settings.lrs, c.over.lrs ?? want.lrs);
      assert.equal(s.settings.imgSize, want.imgSize);
      assert.equal(s.dataDir, path.join(shared, "data", "pbc-jpeg"));
      assert.equal(s.dataset, "PBC (stand-in)");
      assert.equal(s.splits.classes.length, 8);
      assert.equal(s.splits.train.items.length + s.splits.val.items.length + s.splits.test.items.length, 160);
      // At ci the sweep worker loads the registered ViT-Ti by id (no weights file), as the notebook's backbone.
      assert.deepEqual(s.sweepModel, { modelId: s.backbone.modelId });
      assert.match(s.backbone.modelId, /^vit_tiny_patch16_224/);
    });
  }

  it("an unknown scale is a ConfigError naming SCALE", async () => {
    await assert.rejects(
      dausortNotebookSetup("CI", { shared, ...base }),
      (e: unknown) => e instanceof ConfigError && /SCALE/.test(e.message),
    );
  });
});
