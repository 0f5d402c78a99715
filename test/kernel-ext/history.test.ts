import { strict as assert } from "node:assert";
import { globToRegExp, History } from "../../kernel-ext/history";

describe("kernel-ext history", () => {
  const h = new History();
  h.add(1, "6 * 7", "42");
  h.add(2, "const a = 1;");
  h.add(3, "6 * 7", "42");
  h.add(4, "6 * 8", "48");

  const cases: { name: string; req: Parameters<History["query"]>[0]; want: unknown[] }[] = [
    {
      name: "tail n",
      req: { hist_access_type: "tail", n: 2 },
      want: [
        [1, 3, "6 * 7"],
        [1, 4, "6 * 8"],
      ],
    },
    {
      name: "tail with output",
      req: { hist_access_type: "tail", n: 1, output: true },
      want: [[1, 4, ["6 * 8", "48"]]],
    },
    {
      name: "range (stop exclusive)",
      req: { hist_access_type: "range", session: 1, start: 2, stop: 4 },
      want: [
        [1, 2, "const a = 1;"],
        [1, 3, "6 * 7"],
      ],
    },
    {
      name: "range current session (0)",
      req: { hist_access_type: "range", session: 0, start: 4 },
      want: [[1, 4, "6 * 8"]],
    },
    {
      name: "search glob",
      req: { hist_access_type: "search", pattern: "6 *" },
      want: [
        [1, 1, "6 * 7"],
        [1, 3, "6 * 7"],
        [1, 4, "6 * 8"],
      ],
    },
    {
      name: "search unique",
      req: { hist_access_type: "search", pattern: "6 * 7", unique: true },
      want: [[1, 3, "6 * 7"]],
    },
    { name: "search n", req: { hist_access_type: "search", pattern: "*", n: 1 }, want: [[1, 4, "6 * 8"]] },
  ];
  for (const c of cases) it(c.name, () => assert.deepEqual(h.query(c.req), c.want));

  it("globs are anchored and escape regex characters", () => {
    assert.ok(globToRegExp("a.b*").test("a.bcd"));
    assert.ok(!globToRegExp("a.b*").test("axbcd"));
    assert.ok(!globToRegExp("b").test("abc"));
  });
});
