import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { zipSync } from "fflate";
import { prepareQuickstart } from "../../lib/data/prepare/quickstart";
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
    });
    const dest = fs.mkdtempSync(path.join(os.tmpdir(), "peftlab-qs-"));
    try {
      const root = await prepareQuickstart({
        dest,
        perClass: 2,
        modelUrl: `${srv.url}/tm/model.json`,
        pbcBaseUrl: srv.url,
        log: () => undefined,
      });
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
        log: () => undefined,
      });
      a.dispose();
      b.dispose();
    } finally {
      fs.rmSync(dest, { recursive: true, force: true });
    }
  });
});
