/**
 * The torchvision CNNs against real PyTorch outputs (every CNN case of the reference manifest), plus the same battery
 * per case: safetensors round trip, strict loading, parameter count, and a training-mode backward pass.
 */
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { CheckpointError } from "../../lib/errors";
import { toTensor, type StateDict } from "../../lib/io/host_tensor";
import { readSafetensors, writeSafetensors } from "../../lib/io/safetensors";
import { buildCnn, isCnnArch } from "../../lib/models/cnn_builders";
import { type CnnClassifier, loadTorchvisionStateDict } from "../../lib/models/cnn_common";
import { hasShared, sharedPath } from "../../lib/paths";
import { describeBackends, maxAbsDiff } from "../helpers/backends";
import { checkBackward, missingBackwardKernels } from "./cnn_helpers";

type Case = Record<string, unknown> & { name: string; arch: string; weights: string; io: string; num_classes: number };

const FIXTURES = sharedPath("fixtures", "reference");
const CASES: Case[] = hasShared()
  ? (JSON.parse(fs.readFileSync(path.join(FIXTURES, "manifest.json"), "utf8")) as { cases: Case[] }).cases.filter((c) =>
      isCnnArch(c.arch),
    )
  : [];
const BUFFER = /\.(running_mean|running_var|num_batches_tracked)$/;
const TOL = 1e-4;

function loadCase(c: Case, seed = 0): { model: CnnClassifier; weights: StateDict } {
  const weights = readSafetensors(path.join(FIXTURES, c.weights)).tensors;
  const model = buildCnn(c, seed);
  loadTorchvisionStateDict(model, weights);
  return { model: model.eval(), weights };
}

describe("models CNN reference cases", () => {
  it("the manifest lists the four CNN cases this suite runs", function () {
    if (!hasShared()) this.skip();
    assert.deepEqual(CASES.map((c) => c.name).sort(), ["densenet", "resnet_basic", "resnet_bottleneck", "vgg"]);
  });
});

describeBackends("models CNN parity and battery", (backend) => {
  let tmp: string;
  before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "peftlab-cnn-"));
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  for (const c of CASES) {
    describe(c.name, () => {
      it(`logits (and features where given) match PyTorch within ${TOL}`, () => {
        const { model } = loadCase(c);
        const io = readSafetensors(path.join(FIXTURES, c.io)).tensors;
        const x = tf.tidy(() => tf.transpose(toTensor(io.get("input")!), [0, 2, 3, 1])); // NCHW → [B, H, W, C]
        const logits = model.apply(x);
        const err = maxAbsDiff(logits, io.get("logits")!.data as Float32Array);
        console.log(`      ${backend} ${c.name}: max |Δlogits| = ${err.toExponential(2)}`);
        assert.deepEqual(logits.shape, io.get("logits")!.shape);
        assert.ok(err <= TOL, `max abs logits error ${err} > ${TOL}`);
        if (io.has("features")) {
          const f = model.forwardFeatures(x);
          const ferr = maxAbsDiff(f, io.get("features")!.data as Float32Array);
          assert.ok(ferr <= TOL, `max abs features error ${ferr} > ${TOL}`);
          f.dispose();
        }
        tf.dispose([x, logits]);
        model.dispose();
      });

      it("state dict → safetensors → load → save again is byte-identical, and equals the checkpoint", () => {
        const { model, weights } = loadCase(c);
        const a = path.join(tmp, `${c.name}.${backend}.a.safetensors`);
        const b = path.join(tmp, `${c.name}.${backend}.b.safetensors`);
        writeSafetensors(a, model.stateDict());
        const fresh = buildCnn(c, 123);
        loadTorchvisionStateDict(fresh, readSafetensors(a).tensors);
        writeSafetensors(b, fresh.stateDict());
        assert.ok(fs.readFileSync(a).equals(fs.readFileSync(b)), "second save differs from the first");
        // Layouts round-trip: every float tensor comes back bit-identical to the PyTorch checkpoint.
        const back = readSafetensors(a).tensors;
        assert.deepEqual([...back.keys()].sort(), [...weights.keys()].sort());
        for (const [k, h] of weights) {
          if (h.dtype !== "float32") continue;
          assert.deepEqual(back.get(k)!.shape, h.shape, k);
          assert.ok(
            Buffer.from((back.get(k)!.data as Float32Array).buffer).equals(
              Buffer.from((h.data as Float32Array).buffer),
            ),
            k,
          );
        }
        model.dispose();
        fresh.dispose();
      });

      it("strict loading rejects a missing key and a wrong shape", () => {
        const weights = readSafetensors(path.join(FIXTURES, c.weights)).tensors;
        const model = buildCnn(c, 0);
        const firstParam = [...weights.keys()].find((k) => !BUFFER.test(k) && weights.get(k)!.shape.length > 1)!;
        const missing = new Map(weights);
        missing.delete(firstParam);
        assert.throws(
          () => loadTorchvisionStateDict(model, missing),
          (e: unknown) => e instanceof CheckpointError && e.message.includes(firstParam),
        );
        const wrong = new Map(weights);
        const h = weights.get(firstParam)!;
        wrong.set(firstParam, {
          ...h,
          shape: [h.shape[0] + 1, ...h.shape.slice(1)],
          data: new Float32Array(h.data.length + h.data.length / h.shape[0]),
        });
        assert.throws(
          () => loadTorchvisionStateDict(model, wrong),
          (e: unknown) => e instanceof CheckpointError && /size mismatch/.test(e.message),
        );
        const extra = new Map(weights).set("not_a_param.weight", h);
        assert.throws(() => loadTorchvisionStateDict(model, extra), /Unexpected key/);
        model.dispose();
      });

      it("counts the checkpoint's parameters (running stats and counters are buffers, as in torch)", () => {
        const { model, weights } = loadCase(c);
        let expected = 0;
        for (const [k, h] of weights) if (!BUFFER.test(k)) expected += h.data.length;
        assert.equal(model.numParameters(), expected);
        assert.equal(model.namedBuffers().length, [...weights.keys()].filter((k) => BUFFER.test(k)).length);
        model.dispose();
      });

      it("training-mode forward + backward gives every trainable parameter a finite gradient (non-zero for kernels)", function () {
        const { model } = loadCase(c);
        const missing = missingBackwardKernels(backend, model);
        if (missing.length) {
          console.log(`      skipped on ${backend}: no ${missing.join(", ")} kernel yet (lib/backend/kernels)`);
          model.dispose();
          this.skip();
        }
        const size = Number(c.image_size);
        checkBackward(model, [2, size, size, 3], c.num_classes);
        model.dispose();
      });
    });
  }
});
