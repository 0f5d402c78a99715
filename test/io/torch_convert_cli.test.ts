import { strict as assert } from "node:assert";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { cli } from "../helpers/cli";
import { readSafetensors } from "../../lib/io/safetensors";
import { loadTorchStateDict } from "../../lib/io/torch_checkpoint";
import { pretrainedWeightsPath, VIT_TINY_ID } from "../../lib/models/pretrained_load";
import { sharedPath } from "../../lib/paths";

/** `peftlab weights convert` and `weights get` (registry ids, gated models, .bin → safetensors) against a local hub. */
const DIR = path.join(__dirname, "..", "fixtures", "torch");

interface Hub {
  url: string;
  auth: (string | undefined)[];
  close: () => Promise<void>;
}

/** A minimal hub: HEAD /<repo>/resolve/<rev>/<file> with X-Linked-Etag, GET with the body; 401 without the token. */
async function hub(files: Record<string, Uint8Array>, token?: string): Promise<Hub> {
  const auth: (string | undefined)[] = [];
  const server = http.createServer((req, res) => {
    auth.push(req.headers.authorization);
    const m = /^\/(.+)\/resolve\/([^/]+)\/(.+)$/.exec(decodeURIComponent(req.url ?? ""));
    const body = m ? files[`${m[1]}/${m[3]}`] : undefined;
    if (!body) return void res.writeHead(404).end();
    if (token && req.headers.authorization !== `Bearer ${token}`) return void res.writeHead(401).end();
    const sha = crypto.createHash("sha256").update(body).digest("hex");
    res.writeHead(200, { "content-length": String(body.length), "x-linked-etag": `"${sha}"` });
    res.end(req.method === "HEAD" ? undefined : body);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const port = (server.address() as AddressInfo).port;
  return { url: `http://127.0.0.1:${port}`, auth, close: () => new Promise((r) => server.close(() => r())) };
}

describe("io/torch: weights convert and weights get (CLI)", () => {
  let tmp: string;
  const savedToken = process.env.HF_TOKEN;
  before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "peftlab-wcli-"));
  });
  after(() => {
    fs.rmSync(tmp, { recursive: true, force: true });
    if (savedToken === undefined) delete process.env.HF_TOKEN;
    else process.env.HF_TOKEN = savedToken;
  });

  it("weights convert writes safetensors equal to the checkpoint and reports the source key", async () => {
    const out = path.join(tmp, "dino.safetensors");
    const r = await cli("weights", "convert", path.join(DIR, "dino.pth"), out);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /1 tensor from "teacher" \(1 F32\)/);
    const want = loadTorchStateDict(path.join(DIR, "dino.pth")).stateDict;
    assert.deepEqual(readSafetensors(out).tensors, want);
  });

  it("weights convert --json names the stripped prefix; a bad input is one error line, exit 2", async () => {
    const out = path.join(tmp, "nested.safetensors");
    const r = await cli("weights", "convert", path.join(DIR, "nested.pth"), out, "--json");
    assert.equal(r.code, 0, r.err);
    const j = JSON.parse(r.out);
    assert.equal(j.from, "model");
    assert.equal(j.strippedPrefix, "module.");
    assert.deepEqual(Object.keys(j.dtypes), ["fc.weight", "fc.bias"]);
    const bad = await cli("weights", "convert", path.join(DIR, "malicious.pt"), path.join(tmp, "evil.safetensors"));
    assert.equal(bad.code, 2);
    assert.match(bad.err, /^error: Checkpoint references the Python global os\.system.*nothing was executed/);
    assert.equal(bad.err.trim().split("\n").length, 1);
  });

  it("weights convert --inert-globals reads a training checkpoint that is refused without it", async () => {
    const f = path.join(DIR, "training.pth");
    const out = path.join(tmp, "training.safetensors");
    const refused = await cli("weights", "convert", f, out);
    assert.equal(refused.code, 2);
    assert.match(refused.err, /argparse\.Namespace.*--inert-globals/);
    assert.ok(!fs.existsSync(out));
    const r = await cli("weights", "convert", f, out, "--inert-globals");
    assert.equal(r.code, 0, r.err);
    assert.deepEqual(readSafetensors(out).tensors, loadTorchStateDict(f, { inertGlobals: true }).stateDict);
  });

  it("weights get <registry id> refuses a gated model without HF_TOKEN before any request", async () => {
    delete process.env.HF_TOKEN;
    const r = await cli("weights", "get", "vit_large_patch16_224.uni_mass100k", "--endpoint", "http://127.0.0.1:9");
    assert.equal(r.code, 2);
    assert.match(r.err, /gated.*MahmoodLab\/UNI.*HF_TOKEN/);
  });

  it("weights get <registry id> downloads the registry's file with the token and converts pytorch_model.bin", async () => {
    const token = "hf_test_secret_token_123";
    const bin = fs.readFileSync(path.join(DIR, "module.bin"));
    const h = await hub({ "MahmoodLab/UNI/pytorch_model.bin": bin }, token);
    process.env.HF_TOKEN = token;
    try {
      const dest = path.join(tmp, "uni");
      const r = await cli("weights", "get", "vit_large_patch16_224.uni_mass100k", "--endpoint", h.url, "--dest", dest);
      assert.equal(r.code, 0, r.err);
      assert.match(r.out, /matches the hub/);
      assert.ok(h.auth.length >= 2 && h.auth.every((a) => a === `Bearer ${token}`));
      const st = path.join(dest, "pytorch_model.safetensors");
      assert.deepEqual(readSafetensors(st).tensors, loadTorchStateDict(path.join(DIR, "module.bin")).stateDict);
      for (const f of fs.readdirSync(dest)) {
        assert.ok(!fs.readFileSync(path.join(dest, f)).includes(token), `token written to ${f}`);
      }
      assert.ok(!(r.out + r.err).includes(token), "token printed");
    } finally {
      delete process.env.HF_TOKEN;
      await h.close();
    }
  });

  it("weights get <ViT-Ti id> puts the hub file where the one-call loader looks when there is no shared copy", async function () {
    const shared = sharedPath("weights", "vit_tiny_patch16_224", "model.safetensors");
    if (!fs.existsSync(shared)) this.skip();
    const repo = "timm/vit_tiny_patch16_224.augreg_in21k_ft_in1k";
    const h = await hub({ [`${repo}/model.safetensors`]: fs.readFileSync(shared) });
    try {
      const dest = path.join(tmp, "weights", repo); // the default --dest, under tmp instead of the cwd
      const r = await cli("weights", "get", VIT_TINY_ID, "--endpoint", h.url, "--dest", dest);
      assert.equal(r.code, 0, r.err);
      assert.match(r.out, /matches the hub/);
      const found = pretrainedWeightsPath(VIT_TINY_ID, { env: { PEFTLAB_SHARED: "/nonexistent" }, downloadRoot: tmp });
      assert.equal(found, path.join(dest, "model.safetensors"));
      assert.ok(fs.readFileSync(found).equals(fs.readFileSync(shared)));
    } finally {
      await h.close();
    }
  });

  it("weights get: unknown ids, plain-HTTP endpoints and unreachable hubs are one clear error line", async () => {
    const cases: [string[], RegExp][] = [
      [["weights", "get", "vit_nope.x"], /Unknown model id/],
      [["weights", "get", "owner/repo"], /No file given/],
      [["weights", "get", "owner/repo", "model.safetensors", "--endpoint", "http://example.com"], /must be an https/],
      [
        ["weights", "get", "owner/repo", "model.safetensors", "--endpoint", "https://peftlab-test.invalid"],
        /Cannot reach the Hugging Face hub; at https:\/\/peftlab-test\.invalid\/owner\/repo\/resolve\/main\/model\.safetensors.*getaddrinfo/,
      ],
      [["weights", "get", "vit_base_patch16_224.mrm"], /has no Hugging Face hub source.*Google Drive/],
    ];
    for (const [argv, re] of cases) {
      const r = await cli(...argv, "--dest", path.join(tmp, "x"));
      assert.equal(r.code, 2, argv.join(" "));
      assert.match(r.err, re, argv.join(" "));
      assert.equal(r.err.trim().split("\n").length, 1, r.err);
    }
  });
});
