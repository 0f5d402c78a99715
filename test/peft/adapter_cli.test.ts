import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { cli } from "../helpers/cli";
import { toTensor } from "../../lib/io/host_tensor";
import { readSafetensors } from "../../lib/io/safetensors";
import { sharedPath } from "../../lib/paths";
import { modelFromCase } from "../../lib/peft/lora/parity";
import { maxAbsDiff } from "../helpers/backends";

describe("peftlab adapter (CLI)", () => {
  const fix = sharedPath("fixtures", "reference");
  const manifest = path.join(fix, "manifest.json");
  let dir: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "peftlab-adapter-cli-"));
    fs.copyFileSync(path.join(fix, "vit_lora.adapter_config.json"), path.join(dir, "adapter_config.json"));
    fs.copyFileSync(path.join(fix, "vit_lora.adapter_model.safetensors"), path.join(dir, "adapter_model.safetensors"));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("inspect reports config, tensors, scaling per module and peft compatibility", async () => {
    const r = await cli("adapter", "inspect", dir, "--json");
    assert.equal(r.code, 0, r.err);
    const rep = JSON.parse(r.out) as {
      tensors: unknown[];
      modules: { module: string; scaling: number }[];
      pythonPeftLoadable: boolean;
    };
    assert.equal(rep.tensors.length, 8);
    assert.deepEqual(
      rep.modules.map((m) => m.module),
      ["blocks.0.attn.qkv", "blocks.0.mlp.fc2", "blocks.1.attn.qkv", "blocks.1.mlp.fc2"],
    );
    assert.ok(rep.modules.every((m) => m.scaling === 2)); // alpha 8 / r 4
    assert.equal(rep.pythonPeftLoadable, true);
    const text = await cli("adapter", "inspect", dir);
    assert.match(text.out, /Python peft can load it: yes/);
  });

  it("merge --manifest --case writes the merged model, which reproduces the LoRA logits", async () => {
    const out = path.join(dir, "merged.safetensors");
    const r = await cli(
      "adapter",
      "merge",
      "--manifest",
      manifest,
      "--case",
      "vit_lora",
      "--adapter",
      dir,
      "--out",
      out,
    );
    assert.equal(r.code, 0, r.err);
    const merged = readSafetensors(out).tensors;
    const base = readSafetensors(path.join(fix, "vit_lora.weights.safetensors")).tensors;
    assert.deepEqual([...merged.keys()].sort(), [...base.keys()].sort());
    assert.ok(
      maxAbsDiff(merged.get("blocks.0.attn.qkv.weight")!.data, base.get("blocks.0.attn.qkv.weight")!.data) > 1e-4,
    );
    const c = (JSON.parse(fs.readFileSync(manifest, "utf8")).cases as Record<string, unknown>[]).find(
      (x) => x.name === "vit_lora",
    )!;
    const model = modelFromCase(c, merged);
    model.loadStateDict(merged);
    model.eval();
    const io = readSafetensors(path.join(fix, "vit_lora.io.safetensors")).tensors;
    const x = tf.transpose(toTensor(io.get("input")!), [0, 2, 3, 1]);
    assert.ok(maxAbsDiff(model.apply(x), io.get("logits")!.data) <= 1e-4);
  });

  it("check-parity runs vit_lora through the LoRA case handler (logits, loss, gradients)", async () => {
    const r = await cli("check-parity", manifest, "--backend", "cpu", "--json");
    const rows = (JSON.parse(r.out) as { rows: { case: string; status: string; logitsErr: number; detail: string }[] })
      .rows;
    const row = rows.find((x) => x.case === "vit_lora")!;
    assert.equal(row.status, "ok", row.detail);
    assert.ok(row.logitsErr <= 1e-4);
    assert.match(row.detail, /max rel grad Δ .* over 10 tensors/);
  });

  it("merge without a base model is a usage error", async () => {
    const r = await cli("adapter", "merge", "--adapter", dir, "--out", path.join(dir, "x.safetensors"));
    assert.equal(r.code, 2);
    assert.match(r.err, /--model ID --weights FILE or --manifest FILE --case NAME/);
  });
});
