/** lib/results tables: flattening, mean ± std over seeds, pivots, published comparison, exports. */
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { ConfigError } from "../../lib/errors";
import {
  aggregateRuns,
  compareWithPublished,
  formatResultsTable,
  pivotRuns,
  PUBLISHED,
  recordsTable,
  UNVERIFIED_CLAIMS,
  withMeanStd,
  writeResultsTable,
  type RunRecord,
} from "../../lib/results";
import { body } from "./make_records";

const rec = (
  id: string,
  method: string,
  seed: number,
  acc: number,
  frac: number,
  extra: Partial<RunRecord> = {},
): RunRecord => ({
  id,
  ...body(method, seed, { metrics: { test: { accuracy: acc, f1: acc - 0.1 } }, dataFraction: frac, ...extra }),
});

// lora at fraction 0.1: accuracies 0.80, 0.82, 0.87 → mean 0.83, sample std sqrt(((-.03)²+(-.01)²+.04²)/2) = sqrt(0.0013).
const RECORDS: RunRecord[] = [
  rec("a", "lora", 1, 0.8, 0.1),
  rec("b", "lora", 2, 0.82, 0.1),
  rec("c", "lora", 3, 0.87, 0.1),
  rec("d", "linear_probe", 1, 0.7, 0.1),
  rec("e", "linear_probe", 1, 0.6, 0.01),
  rec("f", "lora", 1, 0.75, 0.01, { metrics: { test: { accuracy: 0.75 }, val: { roc_auc: 0.9 } } }),
];

describe("results: tables", function () {
  it("recordsTable flattens metrics to split.metric columns, one row per run", function () {
    const t = recordsTable(RECORDS, { configKeys: ["lr"] });
    assert.equal(t.numRows(), 6);
    for (const c of [
      "id",
      "method",
      "seed",
      "dataFraction",
      "trainableFraction",
      "config.lr",
      "test.accuracy",
      "test.f1",
      "val.roc_auc",
    ]) {
      assert.ok(t.columnNames().includes(c), `missing column ${c}`);
    }
    assert.deepEqual(Array.from(t.array("test.accuracy") as ArrayLike<number>), [0.8, 0.82, 0.87, 0.7, 0.6, 0.75]);
    assert.ok(Number.isNaN(t.get("test.f1", 5) as number), "a metric a run lacks is NaN");
    assert.equal(t.get("val.roc_auc", 5), 0.9);
    assert.equal(t.get("trainableFraction", 0), 0.01);
    assert.equal(t.get("config.lr", 0), 1e-3);
  });

  it("aggregateRuns gives mean, sample std (ddof=1) and n per group", function () {
    const agg = aggregateRuns(recordsTable(RECORDS), ["method", "dataFraction"], ["test.accuracy", "test.f1"]);
    const rows = agg.objects() as Record<string, number | string>[];
    assert.equal(rows.length, 4);
    const lora = rows.find((r) => r.method === "lora" && r.dataFraction === 0.1) as Record<string, number>;
    assert.equal(lora.n, 3);
    assert.ok(Math.abs(lora["test.accuracy_mean"] - 0.83) < 1e-12);
    assert.ok(Math.abs(lora["test.accuracy_std"] - Math.sqrt(0.0013)) < 1e-12);
    const single = rows.find((r) => r.method === "linear_probe" && r.dataFraction === 0.01) as Record<string, number>;
    assert.equal(single.n, 1);
    assert.ok(Number.isNaN(single["test.accuracy_std"]), "std of one run is NaN, as pandas");
    const loraSmall = rows.find((r) => r.method === "lora" && r.dataFraction === 0.01) as Record<string, number>;
    assert.ok(Number.isNaN(loraSmall["test.f1_mean"]), "all-NaN metric has NaN mean");
    const shown = withMeanStd(agg, ["test.accuracy"], 3).objects() as Record<string, string>[];
    assert.ok(shown.some((r) => r["test.accuracy"] === "0.830 ± 0.036"));
    assert.throws(() => aggregateRuns(recordsTable(RECORDS), ["method"], ["accuracy"]), ConfigError);
  });

  it("pivotRuns: rows by method, columns by data fraction, mean over seeds", function () {
    const p = pivotRuns(recordsTable(RECORDS), "method", "dataFraction", "test.accuracy");
    assert.deepEqual(p.columnNames(), ["method", "0.01", "0.1"]);
    assert.equal(p.numRows(), 2);
    const rows = p.objects() as Record<string, number | string>[];
    assert.deepEqual(
      rows.map((r) => r.method),
      ["linear_probe", "lora"],
    );
    assert.equal(rows[0]["0.01"], 0.6);
    assert.ok(Math.abs((rows[1]["0.1"] as number) - 0.83) < 1e-12);
    const sparse = pivotRuns(recordsTable(RECORDS.slice(0, 4)), "method", "seed", "test.accuracy").objects() as Record<
      string,
      number
    >[];
    assert.ok(Number.isNaN(sparse[0]["2"]), "an empty cell is NaN");
  });

  it("compareWithPublished joins verified numbers with matching runs", function () {
    const runs = [
      rec("q1", "lora", 1, 0.8, 0.2, { dataset: "BreakHis", modelId: "Qwen2-VL" }),
      rec("q2", "lora", 2, 0.9, 0.2, { dataset: "BreakHis", modelId: "Qwen2-VL" }),
    ];
    const t = compareWithPublished(recordsTable(runs), PUBLISHED, {
      on: { dataset: "dataset", method: "method", model: "modelId" },
    });
    assert.equal(t.numRows(), PUBLISHED.length);
    const rows = t.objects() as Record<string, number | string>[];
    const qAcc = rows.find((r) => r.model === "Qwen2-VL" && r.metric === "accuracy") as Record<string, number>;
    assert.equal(qAcc.published, 0.8736);
    assert.equal(qAcc.n, 2);
    assert.ok(Math.abs(qAcc.ours_mean - 0.85) < 1e-12);
    assert.ok(Math.abs(qAcc.delta - (0.85 - 0.8736)) < 1e-12);
    const nih = rows.find((r) => r.dataset === "NIH ChestX-ray14") as Record<string, number>;
    assert.equal(nih.n, 0);
    assert.ok(Number.isNaN(nih.ours_mean));
    assert.throws(() => compareWithPublished(recordsTable(runs), PUBLISHED, { on: { dataset: "nope" } }), ConfigError);
  });

  it("published data holds only verified numbers; secondary ones are kept apart", function () {
    assert.ok(PUBLISHED.every((p) => p.evidence === "V-page" || p.evidence === "V-code"));
    assert.ok(PUBLISHED.every((p) => p.value > 0 && p.value <= 1 && p.source.startsWith("http")));
    const values = PUBLISHED.map((p) => p.value).sort();
    assert.deepEqual(values, [0.806, 0.8736, 0.9453, 0.9543, 0.9552, 0.9572, 0.9879, 0.9984]);
    assert.ok(UNVERIFIED_CLAIMS.every((c) => c.evidence === "2nd"));
  });

  it("exports CSV, JSON, Markdown and HTML, written atomically by extension", function () {
    const agg = aggregateRuns(recordsTable(RECORDS), ["method"], ["test.accuracy"]);
    const csv = formatResultsTable(agg, "csv");
    assert.equal(csv.split("\n")[0], "method,n,test.accuracy_mean,test.accuracy_std");
    const json = JSON.parse(formatResultsTable(agg, "json"));
    assert.deepEqual(json.data.method, ["linear_probe", "lora"]);
    const md = formatResultsTable(agg, "md", 3);
    assert.match(md, /^\|method\|n\|test\.accuracy_mean\|test\.accuracy_std\|/);
    assert.match(md, /\|linear_probe\|2\|0\.65\|0\.071\|/);
    assert.match(formatResultsTable(agg, "html"), /<table>/);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "peftlab-tables-"));
    try {
      for (const ext of ["csv", "json", "md", "html"]) {
        const f = path.join(dir, `agg.${ext}`);
        writeResultsTable(agg, f);
        assert.equal(fs.readFileSync(f, "utf8"), formatResultsTable(agg, ext as "csv"));
      }
      assert.throws(() => writeResultsTable(agg, path.join(dir, "agg.xlsx")), ConfigError);
      assert.deepEqual(fs.readdirSync(dir).sort(), ["agg.csv", "agg.html", "agg.json", "agg.md"]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
