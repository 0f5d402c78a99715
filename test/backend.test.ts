import { strict as assert } from "node:assert";
import * as tf from "@tensorflow/tfjs";
import { initBackend, parseBackendName, BACKEND_NAMES } from "../lib/backend";
import { BackendError } from "../lib/errors";

describe("backend selection", () => {
  const aliases: [string, string][] = [
    ["auto", "auto"],
    ["cpu", "cpu"],
    ["WASM", "wasm"],
    ["tfjs-node", "node"],
    ["gpu", "node-gpu"],
  ];
  for (const [input, want] of aliases) {
    it(`parses ${input} as ${want}`, () => assert.equal(parseBackendName(input), want));
  }

  it("rejects an invalid PEFTLAB_BACKEND with the list of valid names", async () => {
    await assert.rejects(
      initBackend({ env: { PEFTLAB_BACKEND: "cuda9" }, log: null }),
      (e: unknown) =>
        e instanceof BackendError && /cuda9/.test(e.message) && BACKEND_NAMES.every((n) => e.message.includes(n)),
    );
  });

  it("auto picks the first usable backend and explains every skip", async () => {
    const lines: string[] = [];
    const c = await initBackend({ env: {}, log: (l) => lines.push(l) });
    assert.equal(lines.length, 1);
    const order = [...BACKEND_NAMES];
    for (const s of c.skipped)
      assert.ok(order.indexOf(s.name) < order.indexOf(c.name), `${s.name} skipped after choice`);
    assert.equal(c.skipped.length, order.indexOf(c.name));
    for (const s of c.skipped) assert.ok(lines[0].includes(s.name) && s.why.length > 0);
    assert.equal(tf.getBackend(), c.tfjsName);
  });

  for (const b of ["cpu", "wasm"] as const) {
    it(`PEFTLAB_BACKEND=${b} overrides prefer`, async () => {
      const c = await initBackend({ env: { PEFTLAB_BACKEND: b }, prefer: "cpu", log: null });
      assert.equal(c.name, b);
      assert.equal(tf.getBackend(), b);
      assert.deepEqual(tf.add(tf.tensor([1, 2]), tf.tensor([3, 4])).arraySync(), [4, 6]);
    });
  }

  it("reports a missing optional native backend as not installed when preferred explicitly", async function () {
    let installed = true;
    try {
      require.resolve("@tensorflow/tfjs-node");
    } catch {
      installed = false;
    }
    if (installed) this.skip();
    await assert.rejects(initBackend({ prefer: "node", env: {}, log: null }), /node: not installed/);
  });
});
