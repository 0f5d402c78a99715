import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { zipSync } from "fflate";
import { fetchVitTiny, prepareQuickstart, VIT_TINY_HUB_URL } from "../../lib/data/prepare/quickstart";
import { DataError } from "../../lib/errors";
import { readSafetensors } from "../../lib/io/safetensors";
import { getPretrainedCfg } from "../../lib/models/registry";
import { pretrainedWeightsPath, VIT_TINY_ID } from "../../lib/models/pretrained_load";
import { PBC_CLASSES } from "../../lib/data/prepare/pbc";
import { loadKerasMobileNetV2 } from "../../lib/models/convert/keras_mobilenet";
import { hasShared, sharedPath } from "../../lib/paths";
import { initBackend } from "../../lib/backend";

/** Serves files from a map at http://127.0.0.1:PORT/<name>. */
async function serve(files: Record<string, Uint8Array>) {
  const server = http.createServer((req, res) => {
    const body = files[decodeURIComponent((req.url ?? "").slice(1).split("?")[0])];
    if (!body) return void res.writeHead(404).end();
    res.writeHead(200, { "content-length": String(body.length) }).end(body);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url, close: () => new Promise<void>((r) => server.close(() => r())) };
}

describe("quickstart assets (npm run demo without ../shared), offline against a local server", function () {
  before(function () {
    if (!hasShared()) this.skip();
  });

  it("lays out PBC and the TF.js MobileNetV2 like shared/, and the model loads with identical weights", async () => {
    await initBackend({ prefer: "cpu", log: null, env: {} });
    const wdir = sharedPath("weights", "mobilenet_v2_035_224_tfjs");
    const zip: Record<string, Uint8Array> = {};
    for (const c of PBC_CLASSES) {
      const files = fs
        .readdirSync(sharedPath("data", "pbc-jpeg", c))
        .sort()
        .slice(0, 3);
      for (const f of files)
        zip[`PBC_dataset_normal_DIB/${c}/${f}`] = fs.readFileSync(sharedPath("data", "pbc-jpeg", c, f));
    }
    const srv = await serve({
      "tm/model.json": fs.readFileSync(path.join(wdir, "model.json")),
      "tm/weights.bin": fs.readFileSync(path.join(wdir, "weights.bin")),
      "PBC_dataset_normal_DIB.zip": zipSync(zip),
      "timm/vit_tiny_patch16_224.augreg_in21k_ft_in1k/resolve/main/model.safetensors": fs.readFileSync(
        sharedPath("weights", "vit_tiny_patch16_224", "model.safetensors"),
      ),
    });
    const vitUrl = `${srv.url}/timm/vit_tiny_patch16_224.augreg_in21k_ft_in1k/resolve/main/model.safetensors`;
    const dest = fs.mkdtempSync(path.join(os.tmpdir(), "peftlab-qs-"));
    try {
      const root = await prepareQuickstart({
        dest,
        perClass: 2,
        modelUrl: `${srv.url}/tm/model.json`,
        pbcBaseUrl: srv.url,
        vitUrl,
        log: () => undefined,
      });
      // The ViT-Ti lands in shared/'s layout, so registry loading finds it with PEFTLAB_SHARED=root.
      const vit = pretrainedWeightsPath(VIT_TINY_ID, { env: { PEFTLAB_SHARED: root }, downloadRoot: root });
      assert.equal(vit, path.join(root, "weights", "vit_tiny_patch16_224", "model.safetensors"));
      const got = readSafetensors(vit).tensors;
      const want = readSafetensors(sharedPath("weights", "vit_tiny_patch16_224", "model.safetensors")).tensors;
      assert.equal(got.size, 152);
      for (const [k, v] of want) assert.deepEqual(got.get(k)?.data, v.data, k);
      for (const c of PBC_CLASSES) assert.equal(fs.readdirSync(path.join(root, "data", "pbc-jpeg", c)).length, 2);
      const a = loadKerasMobileNetV2(path.join(root, "weights", "mobilenet_v2_035_224_tfjs"));
      const b = loadKerasMobileNetV2(wdir);
      const sa = a.stateDict();
      const sb = b.stateDict();
      assert.deepEqual([...sa.keys()], [...sb.keys()]);
      for (const [k, v] of sa)
        assert.deepEqual(Array.from(v.data as Float32Array), Array.from(sb.get(k)!.data as Float32Array), k);
      // A second call reuses what is there (no server needed).
      await srv.close();
      await prepareQuickstart({
        dest,
        perClass: 2,
        modelUrl: `${srv.url}/tm/model.json`,
        pbcBaseUrl: srv.url,
        vitUrl,
        log: () => undefined,
      });
      a.dispose();
      b.dispose();
    } finally {
      fs.rmSync(dest, { recursive: true, force: true });
    }
  });

  it("the ViT-Ti URL is the registry's hub file, and a download that is not a ViT-Ti is refused and removed", async () => {
    const cfg = getPretrainedCfg(VIT_TINY_ID);
    assert.equal(VIT_TINY_HUB_URL, `https://huggingface.co/${cfg.hubId}/resolve/main/${cfg.file}`);
    const srv = await serve({
      "wrong.safetensors": fs.readFileSync(path.join(__dirname, "..", "..", "package.json")),
      "mnv2.safetensors": fs.readFileSync(sharedPath("fixtures", "reference", "vit_timm.weights.safetensors")),
    });
    const dest = fs.mkdtempSync(path.join(os.tmpdir(), "peftlab-vit-"));
    try {
      await assert.rejects(
        fetchVitTiny(`${srv.url}/mnv2.safetensors`, dest, () => undefined),
        (e: unknown) => e instanceof DataError && /not timm's ViT-Ti\/16/.test(e.message),
      );
      assert.deepEqual(fs.readdirSync(path.join(dest, "weights", "vit_tiny_patch16_224")), []);
      await assert.rejects(fetchVitTiny(`${srv.url}/wrong.safetensors`, dest, () => undefined));
      assert.deepEqual(fs.readdirSync(path.join(dest, "weights", "vit_tiny_patch16_224")), []);
    } finally {
      await srv.close();
      fs.rmSync(dest, { recursive: true, force: true });
    }
  });
});
