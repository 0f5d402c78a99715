import { strict as assert } from "node:assert";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../../../lib/backend";
import { MobileNetV2 } from "../../../lib/models/mobilenetv2";
import { getPeftModel } from "../../../lib/peft/lora/model";
import { BatchNorm2d } from "../../../lib/nn/layers";
import { lossGradients } from "../../../lib/bench/frozen_prefix";
import { crossEntropy } from "../../../lib/train/loss";
import { defaultParamGroups, Optimizer } from "../../../lib/train/optim";
import { TEST_BACKENDS, maxAbsDiff } from "../../helpers/backends";
import { onCpu, randArray } from "./reference";

interface WasmInternals {
  wasm: { HEAPU8: Uint8Array; _malloc(n: number): number; _free(p: number): void };
  dataIdMap: { get(d: object): { memoryOffset: number } | undefined };
  numDataIds(): number;
}
const wasmBackend = () => tf.backend() as unknown as WasmInternals;
const heapBytes = () => wasmBackend().wasm.HEAPU8.buffer.byteLength;

/** Allocates blocks of shrinking sizes until each size lands at or above 2³¹; returns them for freeing. */
function occupyBelow2GB(): number[] {
  const w = wasmBackend().wasm;
  const held: number[] = [];
  for (const size of [2 ** 26, 2 ** 20, 2 ** 16, 2 ** 12, 2 ** 8, 16]) {
    for (;;) {
      const p = w._malloc(size) >>> 0;
      if (p === 0) throw new Error(`wasm heap exhausted while filling it with ${size}-byte blocks`);
      held.push(p);
      if (p >= 2 ** 31) break;
    }
  }
  return held;
}

(TEST_BACKENDS.includes("wasm") ? describe : describe.skip)(
  "wasm memory: clones, heap above 2 GB, train steps",
  function () {
    this.timeout(600000);
    before(async () => {
      await initBackend({ prefer: "wasm", log: null, env: {} });
    });

    it("Identity (tf.clone, the tape's saved tensors) shares memory instead of copying", () => {
      const x = tf.tensor(randArray(1000, 1), [10, 100]);
      const before = wasmBackend().numDataIds();
      const c = tf.clone(x);
      assert.equal(wasmBackend().numDataIds(), before, "no new buffer");
      x.dispose();
      assert.deepEqual(Array.from(c.dataSync()), Array.from(randArray(1000, 1)), "the clone outlives its source");
      c.dispose();
      assert.equal(wasmBackend().numDataIds(), before - 1, "the buffer is freed with its last reference");
    });

    it("conv, depthwise and matmul gradient kernels are exact on tensors placed above 2 GB of the heap", async () => {
      // Byte offsets ≥ 2³¹ are negative under `>> 2`; the kernels must index the heap with `>>> 2`. Fill every free
      // block below 2 GB (earlier tests may have left big holes) so the tensors made next land above it. Untouched
      // blocks are virtual memory and cost no RAM.
      const pads = occupyBelow2GB();
      try {
        const xs = [2, 12, 12, 8];
        const cases: { name: string; f: (x: tf.Tensor4D, w: tf.Tensor4D) => tf.Tensor; w: number[] }[] = [
          { name: "conv 3×3 s2", f: (x, w) => tf.conv2d(x, w, 2, "same"), w: [3, 3, 8, 5] },
          { name: "conv 1×1", f: (x, w) => tf.conv2d(x, w, 1, "valid"), w: [1, 1, 8, 6] },
          { name: "depthwise 3×3", f: (x, w) => tf.depthwiseConv2d(x, w, 1, "same"), w: [3, 3, 8, 1] },
          { name: "depthwise ×2", f: (x, w) => tf.depthwiseConv2d(x, w, 2, "same"), w: [3, 3, 8, 2] },
          {
            name: "matMul transposed + fused bias",
            f: (x, w) =>
              tf.fused.matMul({ a: x.reshape([24, 96]), b: w.reshape([4, 96]), transposeB: true, bias: tf.ones([4]) }),
            w: [2, 2, 8, 12],
          },
        ];
        for (const c of cases) {
          const grads = () =>
            tf.tidy(() => {
              const x = tf.tensor(
                randArray(
                  xs.reduce((a, b) => a * b),
                  3,
                ),
                xs,
              ) as tf.Tensor4D;
              const w = tf.tensor(
                randArray(
                  c.w.reduce((a, b) => a * b),
                  4,
                ),
                c.w,
              ) as tf.Tensor4D;
              const g = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
                tf.sum(tf.square(c.f(a as tf.Tensor4D, b as tf.Tensor4D))),
              );
              const out = g([x, w]);
              return {
                offset: wasmBackend().dataIdMap?.get?.(x.dataId)?.memoryOffset,
                values: out.map((t) => Array.from(t.dataSync())),
              };
            });
          const got = grads();
          assert.ok((got.offset ?? 0) >= 2 ** 31, `${c.name}: input placed at ${got.offset}`);
          const want = await onCpu(() => grads().values);
          got.values.forEach((v, i) =>
            assert.ok(maxAbsDiff(v, want[i]) < 1e-3, `${c.name} grad ${i}: ${maxAbsDiff(v, want[i])}`),
          );
        }
      } finally {
        for (const p of pads) wasmBackend().wasm._free(p);
      }
    });

    const arms = [
      { name: "full fine-tuning", lora: false },
      { name: "LoRA on the pointwise convs (BatchNorm frozen)", lora: true },
    ];
    for (const arm of arms) {
      it(`MobileNetV2 ${arm.name}: tensors, buffers and heap stay flat across train steps`, () => {
        const model = new MobileNetV2({ widthMult: 0.35, numClasses: 4, seed: 0 });
        model.train();
        if (arm.lora) {
          getPeftModel(model, {
            r: 4,
            targetModules: "features\\.(([2-9]|1[0-7])\\.conv\\.(0\\.0|2)|1\\.conv\\.1|18\\.0)",
            modulesToSave: model.headNames,
            seed: 0,
          });
          for (const [, m] of model.namedModules()) if (m instanceof BatchNorm2d) m.training = false;
        }
        const opt = new Optimizer(defaultParamGroups(model, { name: "adamw", lr: 1e-2 }), { name: "adamw", lr: 1e-2 });
        const x = tf.tensor(randArray(8 * 64 * 64 * 3, 5), [8, 64, 64, 3]);
        const y = tf.tensor1d([0, 1, 2, 3, 0, 1, 2, 3], "int32");
        const after: { tensors: number; bytes: number; buffers: number; heap: number; loss: number }[] = [];
        for (let s = 0; s < 4; s++) {
          const { loss, grads } = lossGradients(model, () => crossEntropy(model.apply(x), y));
          opt.apply(grads);
          const l = loss.dataSync()[0];
          tf.dispose([loss, ...grads.values()]);
          const m = tf.memory();
          after.push({
            tensors: m.numTensors,
            bytes: m.numBytes,
            buffers: wasmBackend().numDataIds(),
            heap: heapBytes(),
            loss: l,
          });
        }
        for (const a of after.slice(1)) {
          assert.equal(a.tensors, after[0].tensors, "tf.memory().numTensors");
          assert.equal(a.bytes, after[0].bytes, "tf.memory().numBytes");
          assert.equal(a.buffers, after[0].buffers, "wasm data ids");
          assert.ok(Number.isFinite(a.loss));
        }
        // The first step sizes the heap; later steps reuse it (a kernel leaking temporaries would grow it).
        assert.equal(after[3].heap, after[1].heap, "wasm heap bytes after steps 2 and 4");
        // (A random-init MobileNetV2 with frozen default BN statistics gives ~1e-8 features, so only FT visibly trains.)
        if (!arm.lora)
          assert.ok(after[3].loss < after[0].loss, `the steps train: ${after.map((a) => a.loss.toFixed(4))}`);
        tf.dispose([x, y]);
        model.dispose();
      });
    }
  },
);
