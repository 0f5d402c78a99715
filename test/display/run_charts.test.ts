import { strict as assert } from "node:assert";
import * as aq from "arquero";
import { groupedBarChart, seriesLineChart } from "../../lib/display/run_charts";

/** An aggregateRuns-shaped table: one row per (method, x), with `m_mean` and `m_std` (NaN where n = 1). */
const agg = aq.from([
  { method: "a", x: 0.1, m_mean: 0.5, m_std: 0.1 },
  { method: "a", x: 1, m_mean: 0.7, m_std: NaN },
  { method: "b", x: 0.5, m_mean: 0.6, m_std: 0.05 },
  { method: "b", x: 0.1, m_mean: 0.4, m_std: 0.02 },
]);
type Trace = { type: string; name: string; x: (number | string)[]; y: number[]; error_y: { array: number[] } };
const traces = (f: { data?: unknown[] }) => (f.data ?? []) as Trace[];

describe("display/run_charts: mean ± std charts of aggregateRuns tables", () => {
  const cases: { name: string; traces: Trace[]; want: [string, string, (number | string)[], number[], number[]][] }[] =
    [
      {
        name: "groupedBarChart: one bar series per group in row order, x as categories, NaN std draws no bar",
        traces: traces(groupedBarChart(agg, { x: "x", group: "method", metric: "m", title: "t" })),
        want: [
          ["bar", "a", ["0.1", "1"], [0.5, 0.7], [0.1, 0]],
          ["bar", "b", ["0.5", "0.1"], [0.6, 0.4], [0.05, 0.02]],
        ],
      },
      {
        name: "groupedBarChart: groupOrder orders the series",
        traces: traces(
          groupedBarChart(agg, { x: "x", group: "method", metric: "m", title: "t", groupOrder: ["b", "a"] }),
        ),
        want: [
          ["bar", "b", ["0.5", "0.1"], [0.6, 0.4], [0.05, 0.02]],
          ["bar", "a", ["0.1", "1"], [0.5, 0.7], [0.1, 0]],
        ],
      },
      {
        name: "seriesLineChart: one line per group sorted by x, x scaled",
        traces: traces(seriesLineChart(agg, { x: "x", group: "method", metric: "m", title: "t", xScale: 100 })),
        want: [
          ["scatter", "a", [10, 100], [0.5, 0.7], [0.1, 0]],
          ["scatter", "b", [10, 50], [0.4, 0.6], [0.02, 0.05]],
        ],
      },
    ];
  for (const c of cases) {
    it(c.name, () => {
      assert.deepEqual(
        c.traces.map((t) => [t.type, t.name, t.x, t.y, t.error_y.array]),
        c.want,
      );
    });
  }
});
