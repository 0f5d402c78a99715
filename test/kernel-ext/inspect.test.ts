import { strict as assert } from "node:assert";
import { calleePosition, formatQuickInfo, inspectReply, type QuickInfo } from "../../kernel-ext/inspect";

/** The identifier around a position (what the position points into). */
function wordAt(code: string, p: number): string {
  let a = p;
  let b = p;
  while (a > 0 && /[\w$]/.test(code[a - 1])) a--;
  while (b < code.length && /[\w$]/.test(code[b])) b++;
  return code.slice(a, b);
}

describe("kernel-ext inspect: the callee of the call around the cursor", () => {
  const cases: { code: string; cursor?: number; callee: string | undefined }[] = [
    { code: "peftlab.loraScaling(", callee: "loraScaling" },
    { code: "tf.tensor(", callee: "tensor" },
    { code: "tf.tensor([1, 2], ", callee: "tensor" },
    { code: "tf.tensor([1, 2], [2, 1])", cursor: 12, callee: "tensor" },
    { code: "f(g(1, ", callee: "g" },
    { code: "f(g(1), ", callee: "f" },
    { code: "new Foo(", callee: "Foo" },
    { code: "f(1)", cursor: 4, callee: undefined },
    { code: "const x = 1", callee: undefined },
    { code: "a.b.c(x)", cursor: 6, callee: "c" },
  ];
  for (const c of cases) {
    it(`${JSON.stringify(c.code)} @${c.cursor ?? "end"} → ${c.callee ?? "none"}`, () => {
      const p = calleePosition(c.code, c.cursor ?? c.code.length);
      assert.equal(p === undefined ? undefined : wordAt(c.code, p), c.callee);
    });
  }
});

describe("kernel-ext inspect: replies and detail levels", () => {
  const info: QuickInfo = {
    displayParts: [{ text: "function f(a: number): number" }],
    documentation: [{ text: "Doubles a." }],
    tags: [
      { name: "param", text: [{ text: "a the input" }] },
      { name: "returns", text: [{ text: "twice a" }] },
    ],
  };
  const at = (code: string, pos: number): QuickInfo | undefined => (wordAt(code, pos) === "f" ? info : undefined);

  it("detail 0: signature, summary and @param lines; detail 1 adds the other tags", () => {
    assert.equal(formatQuickInfo(info, 0), "function f(a: number): number\n\nDoubles a.\n\n@param a the input");
    assert.equal(
      formatQuickInfo(info, 1),
      "function f(a: number): number\n\nDoubles a.\n\n@param a the input\n@returns twice a",
    );
  });

  it("finds the callee inside parentheses, the name at its end, and nothing elsewhere", () => {
    for (const [code, cursor, found] of [
      ["f(", 2, true],
      ["f(1, ", 5, true],
      ["f", 1, true],
      ["g(", 2, false],
      ["1 + 1", 5, false],
    ] as const) {
      const r = inspectReply(at, code, cursor, 0);
      assert.equal(r.found, found, `${code} @${cursor}`);
      if (found) assert.match(r.data["text/plain"], /^function f/);
    }
  });
});
