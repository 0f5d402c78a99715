import { strict as assert } from "node:assert";
import { expandShorthandProperties } from "../../kernel-ext/source_fix";

describe("kernel-ext source fixes", () => {
  const cases: [string, string][] = [
    ["train({ epochs, lr: 1 })", "train({ epochs: epochs, lr: 1 })"],
    ["const { a, b } = obj;", "const { a, b } = obj;"],
    ["({ a } = obj);", "({ a: a } = obj);"],
    ["const x = `${a}`;", "const x = `${a}`;"],
    ["f({ a, b: { c } })", "f({ a: a, b: { c: c } })"],
  ];
  for (const [src, want] of cases) it(JSON.stringify(src), () => assert.equal(expandShorthandProperties(src), want));
});
