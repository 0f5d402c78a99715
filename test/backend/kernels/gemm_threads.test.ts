import { strict as assert } from "node:assert";
import { execFileSync } from "node:child_process";
import * as path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { describeBackends } from "../../helpers/backends";
import { initBackend } from "../../../lib/backend";
import { configureGemmThreads, gemmThreads, waitForGemmWorker } from "../../../lib/backend/kernels";
import { gemmThreadsTestHooks as hooks, SPLIT_MIN_MACS } from "../../../lib/backend/kernels/gemm_threads";
import { BackendError } from "../../../lib/errors";
import { randArray, sizeOf } from "./reference";

type Case = [name: string, a: number[], b: number[], ta: boolean, tb: boolean, epilogue?: "bias-relu" | "bias1-relu6"];

// Every case is over SPLIT_MIN_MACS multiply-adds with at least 32 rows (or 2 slices), so it is split across the
// two threads.
const CASES: Case[] = [
  ["NN, odd rows", [333, 256], [256, 300], false, false],
  ["NT (dx = dy·Wᵀ)", [301, 300], [256, 300], false, true],
  ["TN (dW = xᵀ·dy)", [300, 257], [300, 320], true, false],
  ["B shared by a batch", [3, 111, 256], [256, 300], false, false],
  // Batches of GEMMs are split by slices.
  ["attention q·kᵀ batch (odd slice count)", [13, 197, 64], [13, 197, 64], false, true],
  ["attention p·v batch", [12, 197, 197], [12, 197, 64], false, false],
  ["B repeated over a transposed-A batch", [4, 256, 150], [256, 300], true, false],
  ["A repeated over a batch of B", [150, 256], [4, 256, 300], false, false],
  ["fused bias + relu", [333, 256], [256, 300], false, false, "bias-relu"],
  ["fused one-value bias + relu6, transposed operands", [256, 333], [300, 256], true, true, "bias1-relu6"],
];

/** Runs one case on the current thread setting; returns the output values. */
function run(c: Case): Float32Array {
  const [, sa, sb, ta, tb, ep] = c;
  const y = tf.tidy(() => {
    const a = tf.tensor(randArray(sizeOf(sa), 1), sa);
    const b = tf.tensor(randArray(sizeOf(sb), 2), sb);
    const n = tb ? sb[sb.length - 2] : sb[sb.length - 1];
    if (ep === "bias-relu") {
      return tf.fused.matMul({
        a: a as tf.Tensor2D,
        b: b as tf.Tensor2D,
        bias: tf.tensor(randArray(n, 3)),
        activation: "relu",
      });
    }
    if (ep === "bias1-relu6") {
      return tf.fused.matMul({
        a: a as tf.Tensor2D,
        b: b as tf.Tensor2D,
        transposeA: ta,
        transposeB: tb,
        bias: tf.tensor(randArray(1, 4)),
        activation: "relu6",
      });
    }
    return tf.matMul(a, b, ta, tb);
  });
  const values = y.dataSync() as Float32Array; // outside tidy: tidy would walk a returned TypedArray
  y.dispose();
  return values;
}

// This suite is about the wasm GEMM's worker: the native addon (when built) is turned off throughout.
const WASM = { PEFTLAB_NATIVE: "0" };

function useThreads(n: number): void {
  configureGemmThreads({ ...WASM, PEFTLAB_THREADS: String(n) });
  if (n > 1) assert.ok(waitForGemmWorker(), "the GEMM worker did not start");
}

describeBackends("two-core GEMM", (backend) => {
  if (backend !== "wasm") return;
  after(() => {
    hooks.setTimeoutMs(120_000);
    configureGemmThreads({ ...WASM, PEFTLAB_THREADS: "1" });
    configureGemmThreads({}); // back to initBackend's default (the native GEMM where it is built)
  });

  for (const c of CASES) {
    it(`${c[0]}: two threads equal one thread bit for bit`, () => {
      useThreads(1);
      const one = run(c);
      useThreads(2);
      const splitsBefore = hooks.splits();
      const two = run(c);
      assert.ok(hooks.splits() > splitsBefore, "the GEMM was not split");
      assert.equal(two.length, one.length);
      let differ = 0;
      for (let i = 0; i < one.length; i++) if (two[i] !== one[i]) differ++;
      assert.equal(differ, 0, `${differ} of ${one.length} elements differ`);
    });
  }

  it("does not split small GEMMs", () => {
    useThreads(2);
    const before = hooks.splits();
    assert.ok(64 * 64 * 64 < SPLIT_MIN_MACS);
    tf.tidy(() => tf.matMul(tf.ones([64, 64]), tf.ones([64, 64])).dataSync());
    assert.equal(hooks.splits(), before);
  });

  it("does not leak tensors", () => {
    useThreads(2);
    run(CASES[0]);
    const { numTensors, numBytes } = tf.memory();
    for (let i = 0; i < 2; i++) run(CASES[1]);
    assert.equal(tf.memory().numTensors, numTensors);
    assert.equal(tf.memory().numBytes, numBytes);
  });

  it("PEFTLAB_THREADS is reported by initBackend, and invalid values are a BackendError", async () => {
    assert.equal((await initBackend({ prefer: "wasm", log: null, env: { ...WASM, PEFTLAB_THREADS: "2" } })).threads, 2);
    assert.equal((await initBackend({ prefer: "wasm", log: null, env: { ...WASM, PEFTLAB_THREADS: "1" } })).threads, 1);
    for (const bad of ["0", "two", "1.5", "65"]) {
      assert.throws(() => configureGemmThreads({ PEFTLAB_THREADS: bad }), BackendError, bad);
    }
    assert.equal(gemmThreads(), 1);
  });

  it("a worker that does not answer gives a BackendError after the timeout, then one thread", () => {
    useThreads(2);
    hooks.setTimeoutMs(300);
    hooks.setWorkerStallMs(5000);
    const t0 = Date.now();
    assert.throws(
      () => run(CASES[0]),
      (e: unknown) => e instanceof BackendError && /PEFTLAB_THREADS=1/.test(String(e)),
    );
    assert.ok(Date.now() - t0 < 4000, "the timeout did not fire");
    assert.equal(gemmThreads(), 1);
    hooks.setTimeoutMs(120_000);
    useThreads(2); // a fresh worker replaces the stalled one
    const splitsBefore = hooks.splits();
    run(CASES[0]);
    assert.ok(hooks.splits() > splitsBefore);
  });

  it("the worker does not keep the process alive", () => {
    const root = path.resolve(__dirname, "../../..");
    const script = `
      const tf = require("@tensorflow/tfjs");
      const { initBackend } = require("./lib/backend");
      const { waitForGemmWorker } = require("./lib/backend/kernels");
      initBackend({ prefer: "wasm", log: null, env: { PEFTLAB_NATIVE: "0", PEFTLAB_THREADS: "2" } }).then(() => {
        if (!waitForGemmWorker()) throw new Error("no worker");
        tf.matMul(tf.ones([256, 256]), tf.ones([256, 512])).dataSync();
        console.log("done");
      });`;
    const out = execFileSync(process.execPath, ["--require", "tsx/cjs", "-e", script], {
      cwd: root,
      encoding: "utf8",
      timeout: 60_000,
    });
    assert.match(out, /done/);
  });
});
