import { strict as assert } from "node:assert";
import * as aq from "arquero";
import * as tf from "@tensorflow/tfjs";
import {
  createDisplay,
  isJsonMime,
  JUPYTER_DISPLAY,
  memorySink,
  normalizeBundle,
  plotly,
  PLOTLY_MIME,
  table,
  tableHtml,
  tensorStats,
  terminalSink,
  toBundle,
  withOfflinePlotly,
} from "../../lib/display";
import { ConfigError } from "../../lib/errors";

describe("display bundles", () => {
  it("normalises JSON, binary and the text fallback", () => {
    const b = normalizeBundle({
      "application/vnd.x+json": '{"k":[1]}',
      "image/png": new Uint8Array([255]),
      "text/html": "<i>",
    });
    assert.deepEqual(b["application/vnd.x+json"], { k: [1] });
    assert.equal(b["image/png"], "/w==");
    assert.equal(typeof b["text/plain"], "string");
    assert.ok(isJsonMime("application/json") && isJsonMime(PLOTLY_MIME) && !isJsonMime("text/html"));
  });

  it("recognises displayables, Arquero tables and tensors", async () => {
    const md = await toBundle({ [JUPYTER_DISPLAY]: async () => ({ "text/markdown": "# x" }) });
    assert.equal(md["text/markdown"], "# x");
    assert.equal(typeof md["text/plain"], "string");
    const t = await toBundle(aq.table({ a: [1, 2] }));
    assert.match(String(t["text/html"]), /<table/);
    assert.match(String(t["text/plain"]), /2 rows × 1 columns/);
    const x = tf.tensor2d([
      [1, 2],
      [3, 6],
    ]);
    const s = await toBundle(x);
    assert.match(String(s["text/plain"]), /Tensor \[2, 2\] float32 min=1 max=6 mean=3/);
    assert.deepEqual(tensorStats(x).preview, [1, 2, 3, 6]);
    x.dispose();
  });

  it("pages long tables and caps embedded rows", () => {
    const dt = aq.table({ i: Array.from({ length: 45 }, (_, i) => i) });
    const html = tableHtml(dt, { pageSize: 20 });
    assert.equal((html.match(/<tbody/g) ?? []).length, 3);
    assert.match(html, /page 1 \/ 3/);
    assert.equal((tableHtml(dt, { maxRows: 10 }).match(/<tr>/g) ?? []).length, 11);
    assert.throws(() => table([1, 2]), ConfigError);
  });

  it("plotly figures carry JSON objects; plotly.js is added once per session state", () => {
    const fig = plotly({ data: [{ type: "bar", y: [1] }] });
    const b = fig[JUPYTER_DISPLAY]() as Record<string, unknown>;
    assert.equal(typeof b[PLOTLY_MIME], "object");
    const state = { plotlyLoaded: false };
    const first = withOfflinePlotly(b, state);
    const second = withOfflinePlotly(b, state);
    assert.ok(String(first["text/html"]).length > String(b["text/html"]).length + 1_000_000);
    assert.equal(second["text/html"], b["text/html"]);
    assert.ok(!/<script[^>]*\ssrc=/.test(String(first["text/html"])), "library inline, not loaded from a URL");
  });

  it("Display on a memory sink records shapes; the terminal sink prints text", async () => {
    const sink = memorySink();
    const d = createDisplay(sink);
    await d.show(42);
    const live = d.live("id1");
    live.render({ "text/plain": "a" });
    live.render({ "text/plain": "b" });
    d.clear(true);
    assert.deepEqual(
      sink.messages.map((m) => m.type),
      ["display_data", "display_data", "update_display_data", "clear_output"],
    );
    assert.throws(() => createDisplay({}), ConfigError);
    let out = "";
    const term = createDisplay(terminalSink({ write: (s: string) => (out += s), isTTY: false }));
    term.html("<b>x</b>");
    await term.show(aq.table({ a: [1] }));
    assert.match(out, /<HTML output>\nTable 1 rows × 1 columns/);
  });
});
