import { strict as assert } from "node:assert";
import { jupyterSink } from "../../kernel-ext/display_sink";
import { PLOTLY_MIME } from "../../lib/display";

describe("kernel-ext jupyter display sink", () => {
  function collect() {
    const sent: { type: string; content: Record<string, unknown> }[] = [];
    const state = { plotlyLoaded: false };
    return { sent, state, sink: jupyterSink((type, content) => sent.push({ type, content }), state) };
  }

  it("sends display_data with JSON objects, metadata and display_id, then updates", () => {
    const { sent, sink } = collect();
    sink.display(
      { "application/json": '{"a":1}', "image/png": new Uint8Array([1, 2, 3]) },
      { displayId: "d1", metadata: { "image/png": { width: 10 } } },
    );
    sink.update("d1", { "application/json": { a: 2 }, "text/plain": "a=2" });
    sink.clear(true);
    assert.deepEqual(
      sent.map((m) => m.type),
      ["display_data", "update_display_data", "clear_output"],
    );
    const d = sent[0].content as { data: Record<string, unknown>; metadata: unknown; transient: unknown };
    assert.deepEqual(d.data["application/json"], { a: 1 }, "JSON strings become objects");
    assert.equal(d.data["image/png"], "AQID");
    assert.equal(typeof d.data["text/plain"], "string", "text/plain fallback added");
    assert.deepEqual(d.metadata, { "image/png": { width: 10 } });
    assert.deepEqual(d.transient, { display_id: "d1" });
    assert.deepEqual(sent[1].content.transient as object, { display_id: "d1" });
    assert.deepEqual(sent[2].content, { wait: true });
  });

  it("inlines plotly.js into the first Plotly output of a session only", () => {
    const { sent, sink, state } = collect();
    const fig = { [PLOTLY_MIME]: { data: [] }, "text/html": "<div id=p></div>" };
    sink.display(fig);
    sink.display(fig);
    const html = sent.map((m) => String((m.content.data as Record<string, unknown>)["text/html"]));
    assert.ok(html[0].length > 1_000_000 && html[0].includes("<script"), "first carries plotly.js");
    assert.equal(html[1], "<div id=p></div>");
    assert.equal(state.plotlyLoaded, true);
    assert.equal(typeof (sent[0].content.data as Record<string, unknown>)[PLOTLY_MIME], "object");
  });
});
