/**
 * Where a native backend (tfjs-node) is active, peftlab's kernel overrides are skipped: initBackend reports none and
 * the registry holds none for it. tfjs-node cannot install on these machines, so unless it is really installed the
 * test stands in an empty `@tensorflow/tfjs-node` package (found through NODE_PATH) and a "tensorflow" backend.
 */
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../../lib/backend";

const NodeModule = require("node:module") as { _initPaths(): void };
const OVERRIDDEN = ["BatchMatMul", "_FusedMatMul", "Conv2DBackpropFilter", "DepthwiseConv2dNativeBackpropFilter"];

function nativeInstalled(): boolean {
  try {
    require.resolve("@tensorflow/tfjs-node");
    return true;
  } catch {
    return false;
  }
}

describe("kernel overrides on a native backend", () => {
  const real = nativeInstalled();
  let dir = "";
  const savedNodePath = process.env.NODE_PATH;

  before(() => {
    if (real) return;
    // A stand-in package: requiring it succeeds; the backend it would register is registered here instead.
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "peftlab-fake-tfjs-node-"));
    const pkg = path.join(dir, "@tensorflow", "tfjs-node");
    fs.mkdirSync(pkg, { recursive: true });
    fs.writeFileSync(
      path.join(pkg, "package.json"),
      JSON.stringify({ name: "@tensorflow/tfjs-node", version: "0.0.0-test", main: "index.js" }),
    );
    fs.writeFileSync(path.join(pkg, "index.js"), "module.exports = {};\n");
    process.env.NODE_PATH = [dir, savedNodePath].filter(Boolean).join(path.delimiter);
    NodeModule._initPaths();
    const cpuFactory = tf.findBackendFactory("cpu");
    assert.ok(cpuFactory, "the cpu backend factory is registered");
    tf.registerBackend("tensorflow", cpuFactory!, 0);
  });

  after(async () => {
    if (real) return;
    tf.removeBackend("tensorflow");
    for (const k of Object.keys(require.cache)) if (k.startsWith(dir)) delete require.cache[k];
    if (savedNodePath === undefined) delete process.env.NODE_PATH;
    else process.env.NODE_PATH = savedNodePath;
    NodeModule._initPaths();
    fs.rmSync(dir, { recursive: true, force: true });
    await initBackend({ prefer: "cpu", log: null, env: {} });
  });

  it("initBackend on tfjs-node installs no override and leaves the registry untouched", async () => {
    const choice = await initBackend({ prefer: "node", log: null, env: {} });
    assert.equal(choice.name, "node");
    assert.equal(choice.tfjsName, "tensorflow");
    assert.deepEqual(choice.overrides, []);
    for (const k of OVERRIDDEN)
      assert.equal(tf.getKernel(k, "tensorflow"), undefined, `${k} registered for tensorflow`);
  });

  it("while the same call on wasm installs them (so the check above can fail)", async () => {
    const choice = await initBackend({ prefer: "wasm", log: null, env: {} });
    assert.ok(
      choice.overrides.includes("_FusedMatMul") && choice.overrides.includes("BatchMatMul"),
      choice.overrides.join(","),
    );
  });
});
