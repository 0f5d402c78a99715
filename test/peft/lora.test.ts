import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { CheckpointError, ConfigError } from "../../lib/errors";
import { readSafetensors } from "../../lib/io/safetensors";
import { sharedPath } from "../../lib/paths";
import {
  ADAPTER_CONFIG_NAME,
  ADAPTER_WEIGHTS_NAME,
  configFromJson,
  getPeftModel,
  loadAdapter,
  loraConfig,
  matchTarget,
  readAdapter,
  saveAdapter,
  setAdapterWeights,
  type LoraOptions,
} from "../../lib/peft/lora";
import { runLoraParity, modelFromCase } from "../../lib/peft/lora/parity";
import { describeBackends, maxAbsDiff } from "../helpers/backends";
import { TinyNet, tinyImages, tinyVit } from "./tiny_models";
import { tmpDir } from "../helpers/tmp";

const FIX = sharedPath("fixtures", "reference");
const bytesOf = (a: ArrayBufferView) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
const tmp = () => tmpDir("peftlab-lora-");
const vitLoraCase = () =>
  (JSON.parse(fs.readFileSync(path.join(FIX, "manifest.json"), "utf8")).cases as Record<string, unknown>[]).find(
    (c) => c.name === "vit_lora",
  )!;

describe("LoRA config", () => {
  const bad: [string, Partial<LoraOptions> & { targetModules: string[] | string }, string][] = [
    ["r must be a positive integer", { targetModules: ["fc1"], r: 0 }, "r"],
    ["alpha positive", { targetModules: ["fc1"], loraAlpha: -1 }, "lora_alpha"],
    ["dropout in [0,1)", { targetModules: ["fc1"], loraDropout: 1 }, "lora_dropout"],
    ["empty targets", { targetModules: [] }, "target_modules"],
    ["bad regex", { targetModules: "blocks.(" }, "target_modules"],
    ["init", { targetModules: ["fc1"], initLoraWeights: "pissa" as unknown as boolean }, "init_lora_weights"],
    ["layers_pattern alone", { targetModules: ["fc1"], layersPattern: "layers" }, "layers_pattern"],
    ["rank_pattern non-integer", { targetModules: ["fc1"], rankPattern: { fc1: 2.5 } }, "rank_pattern.fc1"],
    ["bias", { targetModules: ["fc1"], bias: "all" as "none" }, "bias"],
    ["qkv parts", { targetModules: ["qkv"], qkvParts: { parts: ["x" as "q"] } }, "qkvParts.parts"],
  ];
  for (const [title, opts, field] of bad) {
    it(`rejects ${title}, naming ${field}`, () => {
      assert.throws(
        () => loraConfig(opts),
        (e: unknown) => e instanceof ConfigError && e.where === field && e.message.includes(field),
      );
    });
  }

  it("reads peft's JSON, warning about and dropping unknown keys", () => {
    const warnings: string[] = [];
    const c = configFromJson({ r: 4, lora_alpha: 8, target_modules: ["qkv"], peft_type: "LORA", foo: 1 }, "cfg", (m) =>
      warnings.push(m),
    );
    assert.equal(c.r, 4);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0], /foo/);
    assert.throws(
      () => configFromJson({ target_modules: ["qkv"], use_dora: true }, "cfg", () => undefined),
      /use_dora/,
    );
  });
});

describe("LoRA target matching (peft's rules)", () => {
  const names = [
    "conv1",
    "pw",
    "encoder.layers.0.fc1",
    "encoder.layers.0.fc2",
    "encoder.layers.1.fc1",
    "encoder.layers.1.fc2",
    "head",
  ];
  const table: [string, Partial<LoraOptions> & { targetModules: string[] | string }, string[]][] = [
    ["list entry = suffix after a dot", { targetModules: ["fc1"] }, ["encoder.layers.0.fc1", "encoder.layers.1.fc1"]],
    ["list entry = whole name", { targetModules: ["head", "pw"] }, ["pw", "head"]],
    ["list entry is not a substring match", { targetModules: ["c1"] }, []],
    ["regex must match the whole name", { targetModules: "fc1" }, []],
    ["regex", { targetModules: ".*layers\\.1\\.fc\\d" }, ["encoder.layers.1.fc1", "encoder.layers.1.fc2"]],
    [
      "exclude list",
      { targetModules: ["fc1", "fc2"], excludeModules: ["layers.0.fc2"] },
      ["encoder.layers.0.fc1", "encoder.layers.1.fc1", "encoder.layers.1.fc2"],
    ],
    [
      "exclude regex",
      { targetModules: ["fc1", "fc2"], excludeModules: ".*fc2" },
      ["encoder.layers.0.fc1", "encoder.layers.1.fc1"],
    ],
    [
      "layers_to_transform + pattern",
      { targetModules: ["fc1", "fc2"], layersToTransform: [1], layersPattern: "layers" },
      ["encoder.layers.1.fc1", "encoder.layers.1.fc2"],
    ],
    ["layers_to_transform int, no pattern", { targetModules: ["fc2"], layersToTransform: 0 }, ["encoder.layers.0.fc2"]],
    [
      "modules_to_save never targeted",
      { targetModules: ["head", "fc1"], modulesToSave: ["head"] },
      ["encoder.layers.0.fc1", "encoder.layers.1.fc1"],
    ],
  ];
  for (const [title, opts, want] of table) {
    it(title, () => {
      const o = loraConfig(opts);
      assert.deepEqual(
        names.filter((n) => matchTarget(o, n) === "target"),
        want,
      );
    });
  }

  it("a pattern matching nothing is an error listing the candidate modules", () => {
    assert.throws(
      () => getPeftModel(tinyVit(), { targetModules: ["qkvv"] }),
      (e: unknown) =>
        e instanceof ConfigError &&
        /target_modules \['qkvv'\] matched 0 of \d+ modules; Linear modules are blocks\.N\.attn\.\{qkv,proj\}, blocks\.N\.mlp\.\{fc1,fc2\}, head/.test(
          e.message,
        ),
    );
    assert.throws(() => getPeftModel(new TinyNet(), { targetModules: ["fc1", "fc3"] }), /\['fc3'\] matched 0/);
    assert.throws(
      () => getPeftModel(new TinyNet(), { targetModules: ["fc1"], modulesToSave: ["classifier"] }),
      /modules_to_save/,
    );
    assert.throws(() => getPeftModel(new TinyNet(), { targetModules: ["encoder"] }), /not a Linear or Conv2d/);
    // "proj" also matches the ViT's patch_embed.proj, which its PatchEmbed reads directly: an actionable error.
    const vit = getPeftModel(tinyVit(), { targetModules: ["proj"] });
    assert.throws(
      () => vit.forward(tinyImages(1, 16)),
      (e: unknown) => e instanceof ConfigError && /attn\.proj/.test(e.message),
    );
  });
});

describeBackends("LoRA layers", () => {
  // init false: B is random, so the adapter changes the output and merging is a real test.
  const cases: [string, string][] = [
    ["Linear", "encoder.layers.0.fc1"],
    ["Conv2d 1×1", "pw"],
    ["Conv2d 3×3", "conv1"],
  ];
  for (const [kind, target] of cases) {
    it(`${kind}: merged output equals unmerged, unmerge restores W`, () => {
      const net = new TinyNet();
      const x = tinyImages(2, 6);
      const base = net.apply(x);
      const w0 = (net.getSubmodule(target) as unknown as { weight: { variable: tf.Variable } }).weight.variable.clone();
      const lm = getPeftModel(net, { targetModules: [target], r: 2, loraAlpha: 4, initLoraWeights: false, seed: 5 });
      const y = lm.forward(x);
      assert.ok(maxAbsDiff(y, base) > 1e-3, "adapter with random B must change the output");
      lm.merge();
      const layer = lm.layers.get(target)!;
      assert.ok(maxAbsDiff(layer.base.weight.variable, w0) > 1e-4);
      assert.ok(maxAbsDiff(lm.forward(x), y) <= 1e-5);
      lm.unmerge();
      assert.ok(maxAbsDiff(layer.base.weight.variable, w0) <= 1e-6);
      assert.ok(maxAbsDiff(lm.forward(x), y) <= 1e-5);
      lm.disableAdapters();
      assert.ok(maxAbsDiff(lm.forward(x), base) <= 1e-6);
      lm.enableAdapters();
      assert.ok(maxAbsDiff(lm.forward(x), y) <= 1e-6);
      tf.dispose([x, base, w0, y]);
    });
  }

  it("default init is identity (B = 0), A ~ U(±1/√in); gaussian A has std 1/r", () => {
    const lm = getPeftModel(new TinyNet(), { targetModules: ["fc1"], r: 4 });
    const l = lm.layers.get("encoder.layers.0.fc1")!;
    assert.equal(tf.max(tf.abs(l.loraB.weight.variable)).dataSync()[0], 0);
    const bound = 1 / Math.sqrt(6);
    const amax = tf.max(tf.abs(l.loraA.weight.variable)).dataSync()[0];
    assert.ok(amax <= bound && amax > bound / 2, `A max ${amax} vs bound ${bound}`);
    const big = getPeftModel(tinyVit(), { targetModules: ["fc1"], r: 4, initLoraWeights: "gaussian" });
    const a = big.layers.get("blocks.0.mlp.fc1")!.loraA.weight.variable;
    const std = Math.sqrt(tf.moments(a).variance.dataSync()[0]);
    assert.ok(Math.abs(std - 0.25) < 0.06, `std ${std}`);
  });

  it("safeMerge refuses NaN and leaves the weights unmerged", () => {
    const lm = getPeftModel(new TinyNet(), { targetModules: ["fc1", "fc2"], initLoraWeights: false });
    const l = lm.layers.get("encoder.layers.1.fc2")!;
    l.loraB.weight.assign(tf.fill(l.loraB.weight.shape, NaN));
    const w = lm.layers.get("encoder.layers.0.fc1")!.base.weight.variable.clone();
    assert.throws(
      () => lm.safeMerge(),
      (e: unknown) => e instanceof CheckpointError && /encoder\.layers\.1\.fc2/.test(e.message),
    );
    assert.equal(maxAbsDiff(lm.layers.get("encoder.layers.0.fc1")!.base.weight.variable, w), 0);
    assert.ok([...lm.layers.values()].every((x) => !x.merged));
  });

  it("freezes everything but LoRA and modules_to_save, and prints peft's line", () => {
    const lm = getPeftModel(new TinyNet(), { targetModules: ["fc1"], r: 2, modulesToSave: ["head"] });
    const trainable = lm.model
      .namedParameters()
      .filter(([, p]) => p.trainable)
      .map(([n]) => n);
    assert.deepEqual(trainable.sort(), [
      "encoder.layers.0.fc1.lora_A.weight",
      "encoder.layers.0.fc1.lora_B.weight",
      "encoder.layers.1.fc1.lora_A.weight",
      "encoder.layers.1.fc1.lora_B.weight",
      "head.bias",
      "head.weight",
    ]);
    // trainable: 2·(2·6 + 12·2) LoRA + 21 head = 93; all: base + 72 LoRA + 21 for peft's frozen head copy.
    const base = new TinyNet().numParameters();
    const line = lm.printTrainableParameters(() => undefined);
    const all = base + 72 + 21;
    assert.equal(line, `trainable params: 93 || all params: ${all} || trainable%: ${((100 * 93) / all).toFixed(4)}`);
    assert.match(line, /^trainable params: [\d,]+ \|\| all params: [\d,]+ \|\| trainable%: \d+\.\d{4}$/);
  });

  it("base checkpoints still load under the original names", async () => {
    const src = new TinyNet(9);
    const lm = getPeftModel(new TinyNet(1), { targetModules: ["fc1", "pw"], modulesToSave: ["head"] });
    lm.loadBaseStateDict(src.stateDict());
    const x = tinyImages(2, 6);
    assert.ok(maxAbsDiff(lm.forward(x), src.apply(x)) <= 1e-6, "B = 0 so the wrapped model computes the base");
    const merged = await lm.mergedStateDict();
    assert.deepEqual([...merged.keys()], [...src.stateDict().keys()]);
  });
});

describeBackends("LoRA adapters on disk", () => {
  const variants: [
    string,
    Partial<LoraOptions> & { targetModules: string[] | string },
    () => tf.Tensor,
    () => ReturnType<typeof tinyVit>,
  ][] = [
    [
      "plain + modules_to_save",
      { targetModules: ["qkv", "fc2"], r: 2, loraAlpha: 4, modulesToSave: ["head"], initLoraWeights: false },
      () => tinyImages(2, 16),
      () => tinyVit(),
    ],
    [
      "rsLoRA + rank/alpha patterns",
      {
        targetModules: ["qkv", "attn.proj"],
        r: 2,
        useRslora: true,
        rankPattern: { proj: 3 },
        alphaPattern: { "blocks.1.attn.qkv": 5 },
        initLoraWeights: false,
      },
      () => tinyImages(2, 16),
      () => tinyVit(),
    ],
    [
      "q/v-only on fused qkv",
      { targetModules: ["qkv"], r: 2, loraAlpha: 32, qkvParts: { parts: ["q", "v"] }, initLoraWeights: false },
      () => tinyImages(2, 16),
      () => tinyVit(),
    ],
    [
      "exclude_modules",
      { targetModules: ["fc1", "fc2"], excludeModules: ["blocks.0.mlp.fc2"], initLoraWeights: false },
      () => tinyImages(2, 16),
      () => tinyVit(),
    ],
    [
      "convs (1×1 and 3×3)",
      { targetModules: ["pw", "conv1", "fc1"], initLoraWeights: false, r: 3 },
      () => tinyImages(2, 6),
      () => new TinyNet(),
    ],
  ];
  for (const [title, opts, input, build] of variants) {
    it(`${title}: save → load → save is byte-identical and outputs agree`, () => {
      const d1 = tmp();
      const d2 = tmp();
      const lm = getPeftModel(build(), { ...opts, seed: 3 });
      const head = lm.model.getSubmodule("head") as unknown as {
        weight: { assign(t: tf.Tensor): void; shape: number[] };
      };
      if (opts.modulesToSave) head.weight.assign(tf.randomNormal(head.weight.shape, 0, 1, "float32", 11));
      saveAdapter(lm, d1);
      const cfg = JSON.parse(fs.readFileSync(path.join(d1, ADAPTER_CONFIG_NAME), "utf8")) as Record<string, unknown>;
      assert.ok(
        Object.keys(cfg).every((k) => !k.startsWith("peftlab") && k !== "exclude_modules" && k !== "qkv_parts"),
      );
      const back = loadAdapter(build(), d1);
      saveAdapter(back, d2);
      for (const f of [ADAPTER_CONFIG_NAME, ADAPTER_WEIGHTS_NAME]) {
        assert.ok(fs.readFileSync(path.join(d1, f)).equals(fs.readFileSync(path.join(d2, f))), `${f} differs`);
      }
      const x = input();
      assert.ok(maxAbsDiff(back.forward(x), lm.forward(x)) <= 1e-6);
      const keys = [...readSafetensors(path.join(d1, ADAPTER_WEIGHTS_NAME)).tensors.keys()];
      assert.ok(keys.every((k) => k.startsWith("base_model.model.")));
    });
  }

  it("q/v-only LoRA loads in peft's terms (plain rank-2r qkv LoRA) with the same outputs, and touches only q and v", () => {
    const d = tmp();
    const lm = getPeftModel(tinyVit(), {
      targetModules: ["qkv"],
      r: 2,
      loraAlpha: 8,
      qkvParts: { parts: ["q", "v"] },
      initLoraWeights: false,
      seed: 1,
    });
    saveAdapter(lm, d);
    const { metadata, tensors } = readAdapter(d);
    assert.equal(metadata["peftlab.python_peft_loadable"], "true");
    assert.ok(metadata["peftlab.qkv_parts"].includes('"q","v"'));
    // What Python peft sees: the JSON alone (no peftlab metadata).
    const json = JSON.parse(fs.readFileSync(path.join(d, ADAPTER_CONFIG_NAME), "utf8")) as Record<string, unknown>;
    assert.deepEqual(json.rank_pattern, { "blocks.0.attn.qkv": 4, "blocks.1.attn.qkv": 4 });
    const plain = getPeftModel(
      tinyVit(),
      configFromJson(json, "cfg", () => undefined),
    );
    setAdapterWeights(plain, tensors);
    const x = tinyImages(2, 16);
    assert.ok(maxAbsDiff(plain.forward(x), lm.forward(x)) <= 1e-6);
    // ΔW has no k rows: the k slice of the merged qkv weight is unchanged.
    const layer = lm.layers.get("blocks.0.attn.qkv")!;
    const delta = layer.deltaWeight(); // [in, 3D]
    const [q, k, v] = tf.split(delta, 3, 1);
    assert.equal(tf.max(tf.abs(k)).dataSync()[0], 0);
    assert.ok(tf.max(tf.abs(q)).dataSync()[0] > 0 && tf.max(tf.abs(v)).dataSync()[0] > 0);
  });

  it("missing and unmatched adapter keys are errors", () => {
    const d = tmp();
    const lm = getPeftModel(new TinyNet(), { targetModules: ["fc1"] });
    saveAdapter(lm, d);
    const { tensors } = readAdapter(d);
    const fresh = () => getPeftModel(new TinyNet(), { targetModules: ["fc1"] });
    const missing = new Map(tensors);
    missing.delete("base_model.model.encoder.layers.1.fc1.lora_B.weight");
    assert.throws(
      () => setAdapterWeights(fresh(), missing),
      (e: unknown) => e instanceof CheckpointError && /1 missing/.test(e.message),
    );
    const extra = new Map(tensors);
    extra.set("base_model.model.encoder.layers.9.fc1.lora_A.weight", tensors.values().next().value!);
    assert.throws(() => setAdapterWeights(fresh(), extra), /1 matching nothing/);
    const noPrefix = new Map([...tensors].map(([k, v]) => [k.replace("base_model.model.", ""), v]));
    assert.throws(() => setAdapterWeights(fresh(), noPrefix), /base_model\.model\. prefix/);
  });
});

describeBackends("LoRA vs Python peft (shared fixture)", () => {
  it("vit_lora: logits, loss and every gradient match PyTorch + peft", async function () {
    const r = await runLoraParity(FIX, vitLoraCase() as never);
    assert.ok(r.logitsMaxAbs <= 1e-4, `logits ${r.logitsMaxAbs}`);
    assert.ok(r.lossAbsErr <= 1e-4, `loss ${r.lossAbsErr}`);
    assert.equal(r.grads.length, 10);
    for (const g of r.grads) assert.ok(g.rel <= 1e-4, `${g.name} ${g.rel}`);
    assert.ok(r.pass);
  });

  it("re-saving the fixture adapter gives peft's keys, shapes and values", () => {
    const c = vitLoraCase();
    const base = readSafetensors(path.join(FIX, c.weights as string)).tensors;
    const model = modelFromCase(c, base);
    model.loadStateDict(base);
    const files = { config: path.join(FIX, c.adapter_config as string), weights: path.join(FIX, c.adapter as string) };
    const lm = loadAdapter(model, files, { warn: () => undefined });
    const d = tmp();
    saveAdapter(lm, d);
    const ref = readSafetensors(files.weights).tensors;
    const ours = readSafetensors(path.join(d, ADAPTER_WEIGHTS_NAME)).tensors;
    assert.deepEqual([...ours.keys()], [...ref.keys()]);
    for (const [k, h] of ref) {
      assert.deepEqual(ours.get(k)!.shape, h.shape, k);
      assert.ok(bytesOf(ours.get(k)!.data).equals(bytesOf(h.data)), `${k} values differ`);
    }
    const cfg = JSON.parse(fs.readFileSync(path.join(d, ADAPTER_CONFIG_NAME), "utf8")) as Record<string, unknown>;
    const refCfg = JSON.parse(fs.readFileSync(files.config, "utf8")) as Record<string, unknown>;
    for (const k of Object.keys(refCfg)) assert.deepEqual(cfg[k], refCfg[k], k);
  });
});
