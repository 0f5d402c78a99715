import { strict as assert } from "node:assert";
import { majorityAccuracy, nearChanceArms } from "../../lib/experiments/papers/davila2024";
import { ConfigError } from "../../lib/errors";

describe("experiments/papers/davila2024: near-chance flags", () => {
  const cases: [string, number[], number][] = [
    ["balanced 8 classes", [0, 1, 2, 3, 4, 5, 6, 7], 0.125],
    ["imbalanced binary", [1, 1, 1, 0], 0.75],
    ["one class", [2, 2], 1],
  ];
  for (const [name, labels, want] of cases) {
    it(`majorityAccuracy: ${name}`, () => assert.equal(majorityAccuracy(Float32Array.from(labels)), want));
  }
  it("majorityAccuracy: no labels is a ConfigError", () => assert.throws(() => majorityAccuracy([]), ConfigError));

  it("nearChanceArms flags arms within the margin of their dataset's majority rate, and only those", () => {
    const majority = new Map([
      ["PBC", 0.125],
      ["Pneumonia", 0.74],
    ]);
    const arms = [
      { dataset: "PBC", method: "FT", accuracy: 0.6 },
      { dataset: "PBC", method: "LP", accuracy: 0.17 },
      { dataset: "Pneumonia", method: "FT", accuracy: 0.75 },
      { dataset: "Pneumonia", method: "LP", accuracy: 0.86 },
      { dataset: "Other", method: "FT", accuracy: 0.1 },
    ];
    assert.deepEqual(
      nearChanceArms(arms, majority).map((a) => `${a.dataset}/${a.method}`),
      ["PBC/LP", "Pneumonia/FT"],
    );
    assert.deepEqual(
      nearChanceArms(arms, majority, 0.01).map((a) => `${a.dataset}/${a.method}`),
      ["Pneumonia/FT"],
    );
  });
});
