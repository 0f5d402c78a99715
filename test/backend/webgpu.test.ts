/**
 * The webgpu backend's choice logic: software adapters are recognised from fake adapter infos (table), `auto` never
 * takes SwiftShader, forcing does (with the warning), and a synchronous read fails with a typed error naming it.
 */
import { strict as assert } from "node:assert";
import * as tf from "@tensorflow/tfjs";
import { initBackend, parseBackendName, BACKEND_NAMES } from "../../lib/backend";
import { adapterName, icdFiles, softwareAdapterReason, syncCallSite } from "../../lib/backend/webgpu";
import { BackendError } from "../../lib/errors";
import { skipWithoutWebgpu } from "../helpers/backends";

const NV = { vendor: "nvidia", architecture: "hopper", device: "", description: "NVIDIA H100 80GB HBM3" };

describe("webgpu: software adapter detection (fake adapter infos)", () => {
  const cases: {
    name: string;
    info: Parameters<typeof softwareAdapterReason>[0];
    env?: NodeJS.ProcessEnv;
    want: RegExp | null;
  }[] = [
    { name: "NVIDIA H100", info: NV, want: null },
    { name: "AMD RDNA3", info: { vendor: "amd", architecture: "rdna-3", description: "" }, want: null },
    {
      name: "Apple M2 (Metal)",
      info: { vendor: "apple", architecture: "metal-3", description: "Apple M2" },
      want: null,
    },
    { name: "Intel Xe", info: { vendor: "intel", architecture: "gen-12lp" }, want: null },
    { name: "SwiftShader by name", info: { vendor: "google", architecture: "swiftshader" }, want: /swiftshader/ },
    { name: "SwiftShader, description only", info: { description: "SwiftShader driver 5.0.0" }, want: /swiftshader/ },
    { name: "llvmpipe", info: { vendor: "mesa", description: "llvmpipe (LLVM 15.0.6, 256 bits)" }, want: /llvmpipe/ },
    { name: "lavapipe", info: { vendor: "mesa", architecture: "lavapipe" }, want: /lavapipe/ },
    {
      name: "WARP (D3D12)",
      info: { vendor: "microsoft", description: "Microsoft Basic Render Driver" },
      want: /basic render/,
    },
    { name: "fallback flag, names empty", info: { isFallbackAdapter: true, ...NV }, want: /fallback/ },
    {
      name: "every name empty (SwiftShader may report so)",
      info: { vendor: "", architecture: "" },
      want: /names no vendor/,
    },
    {
      name: "empty names, SwiftShader ICD",
      info: { vendor: "nvidia" },
      env: { VK_ICD_FILENAMES: "/usr/lib/chromium/vk_swiftshader_icd.json" },
      want: /software Vulkan driver/,
    },
    {
      name: "lavapipe ICD via VK_DRIVER_FILES",
      info: { vendor: "x" },
      env: { VK_DRIVER_FILES: "/usr/share/vulkan/icd.d/lvp_icd.x86_64.json" },
      want: /software Vulkan driver/,
    },
    {
      name: "NVIDIA ICD beside SwiftShader's: not decided by the ICD",
      info: NV,
      env: { VK_ICD_FILENAMES: "/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json:/x/vk_swiftshader_icd.json" },
      want: null,
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const why = softwareAdapterReason(c.info, c.env ?? {});
      if (c.want === null) assert.equal(why, undefined, `hardware, got ${why}`);
      else assert.match(why ?? "(hardware)", c.want);
    });
  }

  it("VK_DRIVER_FILES takes precedence over VK_ICD_FILENAMES, as in the Vulkan loader", () => {
    assert.deepEqual(icdFiles({ VK_DRIVER_FILES: "/a.json", VK_ICD_FILENAMES: "/b.json" }), ["/a.json"]);
    assert.deepEqual(icdFiles({ VK_ICD_FILENAMES: "/b.json:/c.json" }), ["/b.json", "/c.json"]);
  });

  it("names the adapter in one phrase", () => {
    const limits = {
      maxBufferSize: 1,
      maxStorageBufferBindingSize: 1,
      maxComputeWorkgroupStorageSize: 1,
      maxComputeInvocationsPerWorkgroup: 1,
    };
    assert.equal(adapterName({ ...NV, fallback: false, limits } as never), "nvidia / hopper (NVIDIA H100 80GB HBM3)");
    assert.equal(
      adapterName({ vendor: "", architecture: "", device: "", description: "", fallback: true, limits }),
      "unnamed adapter",
    );
  });

  it("webgpu is a backend name, second in auto's order", () => {
    assert.equal(parseBackendName("webgpu"), "webgpu");
    assert.deepEqual([...BACKEND_NAMES], ["node-gpu", "webgpu", "node", "wasm", "cpu"]);
  });

  it("finds the sync call and its caller in a stack", () => {
    const stack = [
      "Error",
      "    at b.readSync (/x/lib/backend/webgpu.ts:1:1)",
      "    at Engine.readSync (/n/node_modules/@tensorflow/tfjs-core/dist/tf-core.node.js:1:1)",
      "    at Tensor.dataSync (/n/node_modules/@tensorflow/tfjs-core/dist/tf-core.node.js:2:2)",
      "    at maxAbsErr (/x/lib/models/parity.ts:238:15)",
    ].join("\n");
    assert.deepEqual(syncCallSite(stack), { call: "dataSync()", caller: "maxAbsErr (/x/lib/models/parity.ts:238:15)" });
    // arraySync calls dataSync: the outermost tfjs frame is the call made (source-mapped tfjs paths too).
    const nested = stack.replace(
      "    at maxAbsErr",
      "    at Tensor.arraySync (/w/tfjs-core/src/tensor.ts:340:33)\n    at maxAbsErr",
    );
    assert.deepEqual(syncCallSite(nested), {
      call: "arraySync()",
      caller: "maxAbsErr (/x/lib/models/parity.ts:238:15)",
    });
    assert.deepEqual(syncCallSite("Error\n    at f (/x.js:1:1)"), { call: "readSync()", caller: "an unknown caller" });
  });
});

describe("webgpu on this machine (SwiftShader where no GPU)", function () {
  this.timeout(120000);
  before(async function () {
    await skipWithoutWebgpu(this);
  });
  after(async () => {
    await initBackend({ prefer: "cpu", log: null, env: {} });
  });

  it("auto never picks a software adapter, and says why", async () => {
    const lines: string[] = [];
    const c = await initBackend({
      prefer: "auto",
      log: (l) => lines.push(l),
      env: { ...process.env, PEFTLAB_BACKEND: "" },
    });
    assert.notEqual(c.name, "webgpu");
    const skip = c.skipped.find((s) => s.name === "webgpu");
    assert.ok(skip, "webgpu listed as skipped");
    assert.match(skip.why, /software adapter/);
    assert.match(lines.join("\n"), /skipped .*webgpu \(.*software adapter/);
  });

  it("forcing takes it, with a one-line warning and the adapter in the choice", async () => {
    const lines: string[] = [];
    const c = await initBackend({ prefer: "webgpu", log: (l) => lines.push(l), env: {} });
    assert.equal(c.name, "webgpu");
    assert.equal(tf.getBackend(), "webgpu");
    assert.ok(c.adapter && c.adapter.software !== undefined);
    assert.ok(c.adapter.limits.maxStorageBufferBindingSize > 0);
    const warnings = lines.filter((l) => /warning: webgpu runs on a software adapter/.test(l));
    assert.equal(warnings.length, 1);
    assert.ok(!warnings[0].includes("\n"));
  });

  it("a synchronous read fails with a BackendError naming the call, never a ReferenceError", async () => {
    await initBackend({ prefer: "webgpu", log: null, env: {} });
    const y = tf.tidy(() => tf.matMul(tf.ones([4, 4]), tf.ones([4, 4]))); // computed on the GPU
    for (const [call, read] of [
      ["dataSync()", () => y.dataSync()],
      ["arraySync()", () => y.arraySync()],
      ["bufferSync()", () => y.bufferSync()],
    ] as const) {
      assert.throws(read, (e: unknown) => {
        assert.ok(e instanceof BackendError, `${call}: ${String(e)}`);
        assert.match(e.message, new RegExp(`Synchronous read ${call.replace(/[()]/g, "\\$&")} on the webgpu backend`));
        assert.match(e.message, /webgpu\.test\.ts/, "names the caller");
        return true;
      });
    }
    assert.deepEqual(Array.from(await y.data()), new Array(16).fill(4));
    assert.deepEqual(Array.from(y.dataSync()), new Array(16).fill(4), "once read asynchronously, the host copy serves");
    y.dispose();
  });
});
