/**
 * The methods on webgpu (SwiftShader in CI: correct but slow, so every model here is tiny): the probes (feature cache,
 * logistic regression, linear head), one short fit() per fine-tuning strategy and for LoRA, a MobileNetV2-style CNN
 * full fine-tuning step (BatchNorm + depthwise conv), LoRA Conv2d merged and unmerged, and an adapter save/load
 * round trip, and loading pretrained weights under a new head. Each is compared with the cpu backend. Skipped, with the reason, where Dawn finds no adapter.
 */
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../../lib/backend";
import { CheckpointError } from "../../lib/errors";
import { createModel } from "../../lib/models/create";
import { MobileNetV2 } from "../../lib/models/mobilenetv2";
import { writeSafetensors } from "../../lib/io/safetensors";
import { getPeftModel } from "../../lib/peft/lora/model";
import { loadAdapterAsync, saveAdapter } from "../../lib/peft/lora/save";
import { loraSpectra, loraSpectraAsync } from "../../lib/peft/lora/spectrum";
import { extractFeatures, featureMatrix, fitLogisticRegression, predictProba } from "../../lib/peft/probe";
import { makeStrategy } from "../../lib/peft/strategies/registry";
import { fit, type TrainSource } from "../../lib/train/fit";
import { linearHeadPredictProba, trainLinearHead } from "../../lib/train/linear_head";
import { maxAbsDiffAsync, skipWithoutWebgpu, useWebgpuOrSkip } from "../helpers/backends";
import { TinyNet, tinyImages, tinyVit } from "../peft/tiny_models";

const cpu = () => initBackend({ prefer: "cpu", log: null, env: {} });

/** Runs `f` on cpu, then on webgpu (forced: SwiftShader is software); returns both results. */
async function onBoth<T>(ctx: Mocha.Context, f: () => Promise<T>): Promise<{ cpu: T; gpu: T }> {
  await cpu();
  const c = await f();
  await useWebgpuOrSkip(ctx);
  const g = await f();
  return { cpu: c, gpu: g };
}

/** max |a − b| / max |b|. */
function maxRel(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length, "lengths differ");
  let m = 0;
  let s = 0;
  for (let i = 0; i < a.length; i++) {
    m = Math.max(m, Math.abs(a[i] - b[i]));
    s = Math.max(s, Math.abs(b[i]));
  }
  return m / Math.max(s, 1e-30);
}

/** 2 deterministic batches of 4 8×8 images per epoch, 3 classes. */
function memorySource(batches = 2, bs = 4): TrainSource {
  let pos = { epoch: 0, batch: 0 };
  return {
    batchesPerEpoch: () => batches,
    state: () => ({ ...pos, seed: 0 }),
    seek: (s) => (pos = { epoch: s.epoch, batch: s.batch }),
    async next() {
      if (pos.batch >= batches) {
        pos = { epoch: pos.epoch + 1, batch: 0 };
        return null;
      }
      const i = pos.batch++;
      const x = tinyImages(bs, 8, 100 + i); // [bs, 8, 8, 3]
      const y = tf.tensor1d(
        Array.from({ length: bs }, (_, j) => (i + j) % 3),
        "int32",
      );
      return { x, y, ids: [], dispose: () => tf.dispose([x, y]) };
    },
  };
}

/** Per-step losses of a fit() of TinyNet (seed 3) with a strategy, or with LoRA when `strategy` is "LoRA". */
async function strategyLosses(
  strategy: string,
  opts: Record<string, unknown>,
  epochs: number,
  maxGradNorm?: number,
): Promise<number[]> {
  const m = new TinyNet(3);
  const lm =
    strategy === "LoRA"
      ? getPeftModel(m, { r: 2, loraAlpha: 4, targetModules: ["conv1", "fc1", "fc2"], modulesToSave: ["head"] })
      : undefined;
  const losses: number[] = [];
  await fit(lm?.model ?? m, memorySource(), {
    task: "multiclass",
    epochs,
    optimizer: { name: "sgd", lr: 0.05 },
    maxGradNorm,
    strategy: lm ? undefined : makeStrategy(strategy, opts),
    callbacks: [{ onBatchEnd: ({ loss }) => void losses.push(loss) }],
  });
  m.dispose();
  return losses;
}

describe("webgpu: probes, strategies, CNN fine-tuning and LoRA Conv2d (SwiftShader where no GPU)", function () {
  this.timeout(600000);
  let tmp: string;
  before(async function () {
    await skipWithoutWebgpu(this);
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "peftlab-webgpu-methods-"));
  });
  after(async () => {
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
    await cpu();
  });

  it("probes: cached features, the logistic regression on them and a linear head equal cpu's", async function () {
    let run = 0;
    const r = await onBoth(this, async () => {
      const m = new TinyNet(5);
      const batches = [0, 1, 2].map((i) => ({
        x: tinyImages(4, 8, 40 + i), // [4, 8, 8, 3]
        y: tf.tensor1d([0, 1, 2, (i + 1) % 3], "int32"),
        ids: [0, 1, 2, 3].map((j) => `img${i}_${j}`),
      }));
      const f = await extractFeatures(m, batches, { dir: path.join(tmp, `cache${run++}`), preprocessing: "test" });
      tf.dispose(batches.flatMap((b) => [b.x, b.y]));
      m.dispose();
      const rows = Array.from({ length: f.n }, (_, i) => f.features.subarray(i * f.d, (i + 1) * f.d));
      const labels = Array.from({ length: f.n }, (_, i) => [0, 1, 2, (Math.floor(i / 4) + 1) % 3][i % 4]);
      const lr = predictProba(fitLogisticRegression(featureMatrix(rows), labels, { C: 1 }), featureMatrix(rows));
      const data = { features: f.features, n: f.n, d: f.d, labels };
      const head = await trainLinearHead(data, 3, { lr: 0.1, epochs: 3, batchSize: 4, seed: 1 });
      const proba = await linearHeadPredictProba(head, f.features, f.n, f.d);
      tf.dispose([head.W, head.b]);
      return { features: f.features, lr, losses: head.losses, proba };
    });
    assert.equal(r.gpu.features.length, 12 * 6);
    const err = {
      features: maxRel(r.gpu.features, r.cpu.features),
      logreg: maxRel(r.gpu.lr, r.cpu.lr),
      headLosses: maxRel(r.gpu.losses, r.cpu.losses),
      headProba: maxRel(r.gpu.proba, r.cpu.proba),
    };
    console.log(`      probes, max relative |webgpu − cpu|: ${JSON.stringify(err)}`);
    // Features: one forward of float32 ops in another summation order (~1e-7 relative each). The L-BFGS probe and the
    // 9-step head carry that on; 1e-4 leaves room for that while a wrong op (errors ≥ 1e-2) still fails.
    assert.ok(err.features <= 1e-5, `features ${err.features}`);
    for (const k of ["logreg", "headLosses", "headProba"] as const) assert.ok(err[k] <= 1e-4, `${k} ${err[k]}`);
  });

  const strategies: { name: string; opts?: Record<string, unknown>; epochs: number; clip?: number }[] = [
    { name: "FT", epochs: 1 },
    { name: "FT", epochs: 1, clip: 0.05 }, // clipGlobalNorm sums > 7 squared norms (AddN chunks on webgpu)
    { name: "LP", epochs: 1 },
    { name: "LP-FT", opts: { lpEpochs: 1 }, epochs: 2 },
    { name: "G-LF", opts: { every: 1 }, epochs: 2 },
    { name: "G-FL", opts: { every: 1 }, epochs: 2 },
    { name: "L2-SP", epochs: 1 },
    { name: "L1-SP", epochs: 1 },
    { name: "Auto-RGN", epochs: 1 },
    { name: "LLRD", opts: { decay: 0.65 }, epochs: 1 },
    { name: "LoRA", epochs: 1 },
  ];
  for (const s of strategies) {
    it(`${s.name}${s.clip ? ` (maxGradNorm ${s.clip})` : ""}: a short fit() gives cpu's losses`, async function () {
      const r = await onBoth(this, () => strategyLosses(s.name, s.opts ?? {}, s.epochs, s.clip));
      assert.equal(r.gpu.length, 2 * s.epochs);
      assert.ok(r.gpu.every(Number.isFinite), `${r.gpu}`);
      // Tolerance: float32 reductions in another order differ by ~1e-7 relative; ≤ 4 SGD steps (and Auto-RGN's
      // gradient-norm ratios) compound that to ~1e-6. 1e-4 still catches a wrong gradient, penalty or lr group.
      const rel = maxRel(r.gpu, r.cpu);
      console.log(
        `      ${s.name}: losses ${r.gpu.map((l) => l.toFixed(4)).join(", ")}; max rel ${rel.toExponential(2)}`,
      );
      assert.ok(rel <= 1e-4, `${r.gpu} vs ${r.cpu}`);
    });
  }

  it("MobileNetV2-style CNN (BatchNorm, depthwise conv): a training step's loss and gradients equal cpu's", async function () {
    const r = await onBoth(this, async () => {
      const m = new MobileNetV2({
        numClasses: 3,
        widthMult: 0.25,
        invertedResidualSetting: [
          [1, 8, 1, 1],
          [6, 8, 2, 2],
        ],
        lastChannel: 16,
        dropout: 0,
        seed: 0,
      });
      m.train(true);
      const x = tinyImages(4, 16, 9); // [4, 16, 16, 3]
      const y = tf.oneHot(tf.tensor1d([0, 1, 2, 1], "int32"), 3); // [4, 3]
      const named = m.namedParameters().filter(([, p]) => p.variable.trainable);
      const { value, grads } = tf.variableGrads(
        () => tf.losses.softmaxCrossEntropy(y, m.forward(x)) as tf.Scalar,
        named.map(([, p]) => p.variable),
      );
      const out = {
        loss: (await value.data())[0],
        grads: new Map<string, Float32Array>(),
      };
      for (const [n, p] of named) out.grads.set(n, (await grads[p.variable.name].data()) as Float32Array);
      tf.dispose([x, y, value, ...Object.values(grads)]);
      m.dispose();
      return out;
    });
    assert.ok(r.gpu.grads.size >= 10, `${r.gpu.grads.size} gradients`);
    assert.ok(
      [...r.gpu.grads.keys()].some((k) => /conv\.1\.0\.weight|features\.\d+\.conv\.0\.0\.weight/.test(k)),
      "has a depthwise conv weight",
    );
    // Scale of each gradient: its largest entry, floored at 1e-3 of the model's largest. The floor matters for the
    // BatchNorm biases right before a 1×1 conv + training-mode BatchNorm: their true gradient is 0 (the next
    // BatchNorm removes any per-channel shift), so both backends give rounding noise (~1e-10) there.
    const top = Math.max(...[...r.cpu.grads.values()].map((g) => Math.max(...Array.from(g, Math.abs))));
    let worst = { name: "", rel: 0 };
    for (const [n, g] of r.gpu.grads) {
      const want = r.cpu.grads.get(n)!;
      const scale = Math.max(...Array.from(want, Math.abs), 1e-3 * top);
      const rel = (maxRel(g, want) * Math.max(...Array.from(want, Math.abs), 1e-30)) / scale;
      if (rel > worst.rel) worst = { name: n, rel };
    }
    const lossRel = maxRel([r.gpu.loss], [r.cpu.loss]);
    console.log(
      `      MobileNetV2-style step: loss rel ${lossRel.toExponential(2)}, ${r.gpu.grads.size} gradients, worst ${worst.name} ${worst.rel.toExponential(2)}`,
    );
    // Tolerance: float32 convolutions and BatchNorm reductions in another order (~1e-7 relative each); 1e-4 of each
    // gradient's scale still fails for a wrong backprop kernel (errors of the order of the gradient itself).
    assert.ok(lossRel <= 1e-5, `loss ${r.gpu.loss} vs ${r.cpu.loss}`);
    assert.ok(worst.rel <= 1e-4, `${worst.name}: ${worst.rel}`);
  });

  /** TinyNet (seed 2) with LoRA on its two convs (3×3 and 1×1) and a Linear, B drawn so ΔW ≠ 0. */
  function convLora() {
    const lm = getPeftModel(new TinyNet(2), { r: 2, loraAlpha: 4, targetModules: ["conv1", "pw", "fc1"], seed: 1 });
    for (const l of lm.layers.values()) {
      l.loraB.weight.variable.assign(tf.randomNormal(l.loraB.weight.shape, 0, 0.2, "float32", 3));
    }
    lm.model.eval();
    return lm;
  }

  it("LoRA Conv2d: unmerged, safe-merged and unmerged again agree on webgpu and equal cpu's", async function () {
    const r = await onBoth(this, async () => {
      const lm = convLora();
      const x = tinyImages(2, 8, 21); // [2, 8, 8, 3]
      const read = async () => {
        const y = lm.forward(x); // [2, 3]
        const d = (await y.data()) as Float32Array;
        y.dispose();
        return d;
      };
      const unmerged = await read();
      await lm.safeMergeAsync();
      const merged = await read();
      lm.unmerge();
      const again = await read();
      const spectra = await loraSpectraAsync(lm);
      const cpuSpectra = tf.getBackend() === "cpu" ? loraSpectra(lm) : spectra;
      x.dispose();
      lm.model.dispose();
      return { unmerged, merged, again, spectra, cpuSpectra };
    });
    assert.ok(maxRel(r.gpu.merged, r.gpu.unmerged) <= 1e-5, "merged = unmerged on webgpu");
    assert.ok(maxRel(r.gpu.again, r.gpu.unmerged) <= 1e-5, "unmerge restores");
    assert.ok(maxRel(r.gpu.unmerged, r.cpu.unmerged) <= 1e-5, "webgpu = cpu");
    assert.deepEqual(r.cpu.spectra, r.cpu.cpuSpectra, "loraSpectraAsync = loraSpectra on cpu");
    r.gpu.spectra.forEach((s, i) => assert.ok(maxRel(s.singularValues, r.cpu.spectra[i].singularValues) <= 1e-5));
  });

  it("safeMergeAsync refuses an adapter with NaN on webgpu (CheckpointError) and leaves the weights alone", async function () {
    await useWebgpuOrSkip(this);
    const lm = convLora();
    const before = await lm.layers.get("conv1")!.base.weight.variable.data();
    lm.layers.get("conv1")!.loraB.weight.variable.assign(tf.fill(lm.layers.get("conv1")!.loraB.weight.shape, NaN));
    await assert.rejects(lm.safeMergeAsync(), (e: unknown) => e instanceof CheckpointError && /conv1/.test(e.message));
    assert.deepEqual(await lm.layers.get("conv1")!.base.weight.variable.data(), before);
    lm.model.dispose();
  });

  it("loading pretrained weights with a new class count (fresh head, strict load) works on webgpu", async function () {
    await useWebgpuOrSkip(this);
    const src = createModel("vit_tiny_ci", { seed: 1 }).eval();
    const file = path.join(tmp, "vit_tiny_ci.safetensors");
    writeSafetensors(file, await src.stateDictAsync());
    const three = createModel("vit_tiny_ci", { weights: file, numClasses: 3, seed: 2, log: () => undefined }).eval();
    const x = tinyImages(2, 32, 24); // [2, 32, 32, 3]
    assert.equal(three.numClasses, 3);
    assert.equal(await maxAbsDiffAsync(three.forwardFeatures(x), src.forwardFeatures(x)), 0);
    tf.dispose(x);
    src.dispose();
    three.dispose();
  });

  it("adapter save/load round trip on webgpu: Conv2d + Linear LoRA and a qkvParts ViT adapter reproduce the forward", async function () {
    await useWebgpuOrSkip(this);
    const cases = [
      { name: "conv", make: () => convLora(), x: () => tinyImages(2, 8, 22), base: () => new TinyNet(2) },
      {
        name: "vit-qkv",
        make: () => {
          const lm = getPeftModel(tinyVit(0), {
            r: 2,
            loraAlpha: 4,
            targetModules: ["qkv"],
            qkvParts: { parts: ["q", "v"] },
            initLoraWeights: false,
          });
          lm.model.eval();
          return lm;
        },
        x: () => tinyImages(2, 16, 23),
        base: () => tinyVit(0),
      },
    ];
    for (const c of cases) {
      const lm = c.make();
      const x = c.x();
      const want = await lm.forward(x).data();
      const dir = path.join(tmp, `adapter-${c.name}`);
      await saveAdapter(lm, dir);
      const loaded = await loadAdapterAsync(c.base(), dir);
      loaded.model.eval();
      const got = await loaded.forward(x).data();
      assert.ok(maxRel(got, want) <= 1e-6, `${c.name}: ${maxRel(got, want)}`);
      tf.dispose(x);
      lm.model.dispose();
      loaded.model.dispose();
    }
  });
});
