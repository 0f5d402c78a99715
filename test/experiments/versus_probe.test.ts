/** lib/experiments/versus_probe: each arm against the linear probe, near-chance flags and the summary sentence. */
import * as assert from "node:assert/strict";
import * as aq from "arquero";
import { versusProbe, versusProbeSentence } from "../../lib/experiments/versus_probe";

const rows = [
  { method: "probe", f: 1, auc: 0.8 },
  { method: "lora", f: 1, auc: 0.9 },
  { method: "lora", f: 1, auc: 0.86 },
  { method: "cnn", f: 1, auc: 0.55 },
  { method: "probe", f: 0.1, auc: 0.7 },
  { method: "lora", f: 0.1, auc: 0.65 },
];

describe("versusProbe", () => {
  const t = aq.from(rows);
  const out = versusProbe(t, { probe: "probe", arms: ["lora", "cnn"], metric: "auc", by: ["f"] });
  const cases = [
    { arm: "lora", case: "1", value: 0.88, verdict: /^beats the probe$/ },
    { arm: "lora", case: "0.1", value: 0.65, verdict: /^does not beat the probe$/ },
    { arm: "cnn", case: "1", value: 0.55, verdict: /does not beat the probe; near chance/ },
  ];
  for (const c of cases) {
    it(`${c.arm} at ${c.case}: mean over seeds and verdict`, () => {
      const r = out.find((x) => x.arm === c.arm && x.case === c.case);
      assert.ok(r, JSON.stringify(out));
      assert.ok(Math.abs(r.arm_value - c.value) < 1e-12);
      assert.match(r.verdict, c.verdict);
    });
  }
  it("leaves out cases the probe lacks", () => assert.equal(out.length, 3));
  it("the sentence names the best arm and whether it beats the probe", () => {
    assert.match(versusProbeSentence(out, "AUROC"), /best arm, lora, beats the linear probe/);
    const low = out.filter((r) => r.case === "0.1");
    assert.match(versusProbeSentence(low, "AUROC"), /No arm beats the linear probe/);
    assert.match(versusProbeSentence([], "AUROC"), /no arm shares a case/);
  });
});
