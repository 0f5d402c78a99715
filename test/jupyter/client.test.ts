/**
 * The headless runner's kernel client over a real kernel (dist/kernel-ext/main.js; needs `npm run build`): many cells
 * in one kernel leave no listeners behind on the kernel's child process.
 */
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { KernelClient } from "../../lib/jupyter/runner/client";

describe("jupyter runner: KernelClient", function () {
  this.timeout(180_000);
  let k: KernelClient;
  let tmp: string;
  const warnings: Error[] = [];
  const onWarning = (w: Error) => warnings.push(w);
  before(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "peftlab-client-"));
    process.on("warning", onWarning);
    k = await KernelClient.start({ cwd: tmp, noPrelude: true });
  });
  after(async () => {
    process.removeListener("warning", onWarning);
    await k.shutdown();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it("runs 15 cells (more than Node's 10-listener warning) without adding an exit listener per cell", async () => {
    const child = (k as unknown as { child: import("node:child_process").ChildProcess }).child;
    const before = child.listenerCount("exit");
    for (let i = 0; i < 15; i++) {
      const o = await k.execute(`${i} + 1`);
      assert.equal(o.reply.content.status, "ok");
    }
    assert.equal(child.listenerCount("exit"), before);
    assert.deepEqual(
      warnings.filter((w) => w.name === "MaxListenersExceededWarning").map((w) => w.message),
      [],
    );
  });
});
