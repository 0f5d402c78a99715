/**
 * Checkpoint converters: HF v4 and v5 ViT names give the same timm state dict; CLIP's visual tower maps every key;
 * Meta DINOv2 names convert and fold into timm's no_embed_class layout with the same outputs; unknown naming errors.
 */
import { strict as assert } from "node:assert";
import * as path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { CheckpointError } from "../../lib/errors";
import { hostTensor, type HostTensor, type StateDict } from "../../lib/io/host_tensor";
import { convertStateDict, detectNaming, getNaming } from "../../lib/models/convert";
import { readWeightsFile } from "../../lib/models/create";
import { VisionTransformer } from "../../lib/models/vit";
import type { Linear } from "../../lib/nn/layers";
import { hasShared, sharedPath } from "../../lib/paths";
import { describeBackends, maxAbsDiff } from "../helpers/backends";

const DIR = sharedPath("fixtures", "reference");
const TINY = { imgSize: 32, patchSize: 8, embedDim: 64, depth: 2, numHeads: 4 };

function rename(sd: StateDict, f: (k: string) => string | null): StateDict {
  const out: StateDict = new Map();
  for (const [k, v] of sd) {
    const n = f(k);
    if (n !== null) out.set(n, v);
  }
  return out;
}

function assertSameDict(a: StateDict, b: StateDict): void {
  assert.deepEqual([...a.keys()].sort(), [...b.keys()].sort());
  for (const [k, v] of a) {
    const w = b.get(k)!;
    assert.deepEqual(v.shape, w.shape, k);
    assert.deepEqual(Array.from(v.data as Float32Array), Array.from(w.data as Float32Array), k);
  }
}

function randn(shape: number[], seed: number): HostTensor {
  const n = shape.reduce((a, b) => a * b, 1);
  let s = seed;
  const d = Float32Array.from({ length: n }, () => (s = (s * 1103515245 + 12345) % 2147483648) / 2147483648 - 0.5);
  return hostTensor(d, shape);
}

/** v4 (ViTModel) names → the v5-style names the hf-vit-v5 rules accept. */
function toV5(k: string): string {
  return k
    .replace(/^encoder\.layer\./, "layers.")
    .replace(".attention.attention.query.", ".attention.q_proj.")
    .replace(".attention.attention.key.", ".attention.k_proj.")
    .replace(".attention.attention.value.", ".attention.v_proj.")
    .replace(".attention.output.dense.", ".attention.o_proj.")
    .replace(".intermediate.dense.", ".mlp.fc1.")
    .replace(/\.output\.dense\./, ".mlp.fc2.");
}

describe("HF transformers ViT → timm", () => {
  let v4: StateDict;
  before(function () {
    if (!hasShared()) this.skip();
    v4 = readWeightsFile(path.join(DIR, "vit_hf.weights.safetensors"));
  });

  it("detects v4, ViTForImageClassification (vit. prefix) and v5 names", () => {
    assert.equal(detectNaming(v4), "hf-vit");
    assert.equal(detectNaming(rename(v4, (k) => (k.startsWith("classifier") ? k : `vit.${k}`))), "hf-vit");
    assert.equal(detectNaming(rename(v4, toV5)), "hf-vit-v5");
  });

  it("v4 and v5 names give the same timm state dict, with q|k|v fused in that order", () => {
    const a = convertStateDict(v4).stateDict;
    const b = convertStateDict(rename(v4, toV5)).stateDict;
    const c = convertStateDict(rename(v4, (k) => (k.startsWith("classifier") ? k : `vit.${k}`))).stateDict;
    assertSameDict(a, b);
    assertSameDict(a, c);
    const qkv = a.get("blocks.1.attn.qkv.weight")!;
    const d = 64 * 64;
    const parts = ["query", "key", "value"].map((p) => v4.get(`encoder.layer.1.attention.attention.${p}.weight`)!);
    parts.forEach((p, i) =>
      assert.deepEqual(
        Array.from((qkv.data as Float32Array).subarray(i * d, (i + 1) * d)),
        Array.from(p.data as Float32Array),
      ),
    );
    assert.deepEqual(qkv.shape, [192, 64]);
    assert.ok(a.has("head.weight") && a.has("norm.weight") && a.has("pos_embed") && a.has("patch_embed.proj.weight"));
  });

  it("drops the ViTModel pooler and says so", () => {
    const withPooler = new Map(v4);
    withPooler.set("pooler.dense.weight", randn([64, 64], 1));
    withPooler.set("pooler.dense.bias", randn([64], 2));
    const dropped: string[] = [];
    const out = getNaming("hf-vit").convert(withPooler, { onDrop: (k) => dropped.push(k) });
    assert.deepEqual(dropped, ["pooler.dense.weight", "pooler.dense.bias"]);
    assert.ok(![...out.keys()].some((k) => k.includes("pooler")));
  });
});

/** timm CLIP names → OpenAI CLIP names, written independently of the converter. */
function toClip(k: string): string {
  const m = /^blocks\.(\d+)\.(.*)$/.exec(k);
  if (m) {
    const sub: Record<string, string> = {
      "norm1.weight": "ln_1.weight",
      "norm1.bias": "ln_1.bias",
      "norm2.weight": "ln_2.weight",
      "norm2.bias": "ln_2.bias",
      "attn.qkv.weight": "attn.in_proj_weight",
      "attn.qkv.bias": "attn.in_proj_bias",
      "attn.proj.weight": "attn.out_proj.weight",
      "attn.proj.bias": "attn.out_proj.bias",
      "mlp.fc1.weight": "mlp.c_fc.weight",
      "mlp.fc1.bias": "mlp.c_fc.bias",
      "mlp.fc2.weight": "mlp.c_proj.weight",
      "mlp.fc2.bias": "mlp.c_proj.bias",
    };
    return `visual.transformer.resblocks.${m[1]}.${sub[m[2]]}`;
  }
  const top: Record<string, string> = {
    cls_token: "class_embedding",
    pos_embed: "positional_embedding",
    "patch_embed.proj.weight": "conv1.weight",
    "norm_pre.weight": "ln_pre.weight",
    "norm_pre.bias": "ln_pre.bias",
    "norm.weight": "ln_post.weight",
    "norm.bias": "ln_post.bias",
  };
  return `visual.${top[k]}`;
}

describeBackends("OpenAI CLIP visual tower → timm", () => {
  it("maps every visual key, drops the text tower, and the loaded model matches the source", () => {
    const cfg = { ...TINY, preNorm: true, layerNormEps: 1e-5, act: "quick_gelu" as const, numClasses: 16, seed: 3 };
    const src = new VisionTransformer(cfg);
    const headBias = (src.head as Linear).bias!;
    headBias.assign(tf.zeros(headBias.shape)); // CLIP's projection has no bias; the converter adds a zero one
    const timm = src.stateDict();
    const clip: StateDict = new Map();
    for (const [k, v] of timm) {
      if (k === "head.bias") continue;
      if (k === "head.weight") clip.set("visual.proj", hostTensor(transpose2d(v), [v.shape[1], v.shape[0]]));
      else if (k === "cls_token") clip.set(toClip(k), hostTensor(v.data, [64]));
      else if (k === "pos_embed") clip.set(toClip(k), hostTensor(v.data, v.shape.slice(1)));
      else clip.set(toClip(k), v);
    }
    clip.set("transformer.resblocks.0.attn.in_proj_weight", randn([48, 16], 4));
    clip.set("token_embedding.weight", randn([10, 16], 5));
    clip.set("logit_scale", randn([], 6));
    assert.equal(detectNaming(clip), "openai-clip");
    const dropped: string[] = [];
    const out = convertStateDict(clip, undefined, { onDrop: (k) => dropped.push(k) }).stateDict;
    assert.deepEqual(dropped.sort(), [
      "logit_scale",
      "token_embedding.weight",
      "transformer.resblocks.0.attn.in_proj_weight",
    ]);
    assertSameDict(out, timm);
    const dst = new VisionTransformer({ ...cfg, seed: 9 });
    dst.loadStateDict(out);
    const x = tf.randomNormal([2, 32, 32, 3], 0, 1, "float32", 1);
    assert.ok(maxAbsDiff(src.eval().apply(x), dst.eval().apply(x)) < 1e-6);
    assert.equal(src.patchEmbed.proj.bias, undefined, "CLIP's conv1 has no bias");
    src.dispose();
    dst.dispose();
  });
});

function transpose2d(h: HostTensor): Float32Array {
  const [r, c] = h.shape;
  const src = h.data as Float32Array;
  const out = new Float32Array(r * c);
  for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) out[j * r + i] = src[i * c + j];
  return out;
}

describeBackends("Meta DINOv2 → timm", () => {
  it("renames register_tokens, drops mask_token, renames w12/w3, and folding into no_embed_class keeps outputs", function () {
    if (!hasShared()) this.skip();
    const timmMeta = readWeightsFile(path.join(DIR, "vit_dinov2_reg.weights.safetensors"));
    const meta = rename(timmMeta, (k) => (k === "reg_token" ? "register_tokens" : k));
    meta.set("mask_token", randn([1, 64], 7));
    assert.equal(detectNaming(meta), "meta-dinov2");
    const dropped: string[] = [];
    const kept = convertStateDict(meta, undefined, { onDrop: (k) => dropped.push(k) }).stateDict;
    assert.deepEqual(dropped, ["mask_token"]);
    assertSameDict(kept, timmMeta);
    const folded = convertStateDict(meta, undefined, { posEmbed: "patches" }).stateDict;
    assert.deepEqual(folded.get("pos_embed")!.shape, [1, 16, 64]);
    const base = { ...TINY, numClasses: 3, initValues: 1e-5, numRegTokens: 4 };
    const a = new VisionTransformer({ ...base, posEmbed: "cls+patches" });
    const b = new VisionTransformer({ ...base, posEmbed: "patches" });
    a.loadStateDict(kept);
    b.loadStateDict(folded);
    const x = tf.randomNormal([2, 32, 32, 3], 0, 1, "float32", 2);
    assert.ok(maxAbsDiff(a.eval().apply(x), b.eval().apply(x)) < 1e-5);
    a.dispose();
    b.dispose();
    const swiglu = new Map(meta);
    swiglu.set("blocks.0.mlp.w12.weight", randn([8, 4], 8));
    swiglu.set("blocks.0.mlp.w3.weight", randn([4, 4], 9));
    const s = convertStateDict(swiglu).stateDict;
    assert.ok(s.has("blocks.0.mlp.fc1.weight") && s.has("blocks.0.mlp.fc2.weight"));
    assert.ok(![...s.keys()].some((k) => /w12|w3/.test(k)));
  });
});

describe("naming detection", () => {
  it("recognises timm and torchvision fixtures", function () {
    if (!hasShared()) this.skip();
    assert.equal(detectNaming(readWeightsFile(path.join(DIR, "vit_timm.weights.safetensors"))), "timm");
    assert.equal(detectNaming(readWeightsFile(path.join(DIR, "resnet_basic.weights.safetensors"))), "torchvision");
  });

  it("rejects an unknown naming with an error that lists some keys", () => {
    const sd: StateDict = new Map([
      ["encoder.weird.0.kernel", randn([2], 1)],
      ["decoder.thing", randn([2], 2)],
    ]);
    assert.throws(
      () => detectNaming(sd),
      (e: unknown) =>
        e instanceof CheckpointError &&
        /Unknown checkpoint naming/.test(e.message) &&
        e.message.includes("encoder.weird.0.kernel"),
    );
    assert.throws(() => getNaming("nope"), CheckpointError);
  });
});
