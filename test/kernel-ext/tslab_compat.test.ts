import { strict as assert } from "node:assert";
import { installTslabDisplay, tslabWriter } from "../../kernel-ext/tslab_compat";
import { memorySink } from "../../lib/display";

describe("kernel-ext tslab display compatibility", function () {
  this.timeout(60_000); // loading tslab loads TypeScript
  it("routes tslab's writer to the sink: display, then update by display_id", () => {
    const sink = memorySink();
    const write = tslabWriter(sink);
    write({ data: { "text/html": "<b>hi</b>" }, metadata: {}, transient: {} }, false);
    write({ data: { "text/plain": "one" }, metadata: {}, transient: { display_id: "d" } }, false);
    write({ data: { "text/plain": "two" }, metadata: {}, transient: { display_id: "d" } }, true);
    assert.deepEqual(
      sink.messages.map((m) => [m.type, m.type === "clear_output" ? null : m.displayId]),
      [
        ["display_data", undefined],
        ["display_data", "d"],
        ["update_display_data", "d"],
      ],
    );
  });

  it("makes tslab's public display API (display.*, newDisplay) write to the sink instead of 'Not ready'", () => {
    const sink = memorySink();
    installTslabDisplay(sink);
    const tslab = require("tslab") as typeof import("tslab");
    tslab.display.html("<i>x</i>");
    tslab.display.png(new Uint8Array([1, 2, 3]));
    const d = tslab.newDisplay();
    d.markdown("*a*");
    d.markdown("*b*");
    const kinds = sink.messages.map((m) => m.type);
    assert.deepEqual(kinds, ["display_data", "display_data", "display_data", "update_display_data"]);
    const data = sink.messages.map((m) => (m.type === "clear_output" ? {} : m.data));
    assert.equal(data[0]["text/html"], "<i>x</i>");
    assert.equal(data[1]["image/png"], "AQID", "bytes as base64");
    assert.equal(data[3]["text/markdown"], "*b*");
  });
});
