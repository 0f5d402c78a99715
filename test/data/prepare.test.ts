import { strict as assert } from "node:assert";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import * as path from "node:path";
import { zipSync } from "fflate";
import sharp from "sharp";
import { DataError } from "../../lib/errors";
import { download } from "../../lib/data/prepare/download";
import { makeContext } from "../../lib/data/prepare/common";
import { prepareMedmnist } from "../../lib/data/prepare/medmnist";
import { preparePbc } from "../../lib/data/prepare/pbc";
import { loadPreparedDataset } from "../../lib/data/prepared";
import { DataLoader } from "../../lib/data/loader";
import { MEDMNIST_INFO } from "../../lib/data/prepare/medmnist_info";
import { parseBreakhisName } from "../../lib/data/prepare/breakhis";
import { kagglePreparers } from "../../lib/data/prepare/kaggle";
import { tmpDir } from "../helpers/tmp";

/** A .npy member: uint8 data with a v1.0 header padded to 64 bytes. */
function npy(shape: number[], data: Uint8Array): Uint8Array {
  let h = `{'descr': '|u1', 'fortran_order': False, 'shape': (${shape.join(", ")}${shape.length === 1 ? "," : ""}), }`;
  const pad = 64 - ((10 + h.length + 1) % 64);
  h = h + " ".repeat(pad % 64) + "\n";
  const head = new Uint8Array(10 + h.length);
  head.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, h.length & 0xff, h.length >> 8]);
  head.set(Buffer.from(h, "latin1"), 10);
  const out = new Uint8Array(head.length + data.length);
  out.set(head);
  out.set(data, head.length);
  return out;
}

/** A tiny MedMNIST-format npz (BloodMNIST layout, 28 px RGB, labels (N,1)). */
function tinyMedmnist(): Uint8Array {
  const files: Record<string, Uint8Array> = {};
  for (const [s, n] of [
    ["train", 16],
    ["val", 8],
    ["test", 8],
  ] as const) {
    const img = new Uint8Array(n * 28 * 28 * 3).map((_, i) => (i * 7) % 251);
    files[`${s}_images.npy`] = npy([n, 28, 28, 3], img);
    files[`${s}_labels.npy`] = npy(
      [n, 1],
      Uint8Array.from({ length: n }, (_, i) => i % 8),
    );
  }
  return zipSync(files);
}

interface Served {
  url: string;
  requests: { path: string; range?: string }[];
  close(): Promise<void>;
}

/** Serves `files`; paths under /cut/ drop the connection half-way through the body the first time. */
async function serve(files: Record<string, Uint8Array>): Promise<Served> {
  const requests: Served["requests"] = [];
  const cut = new Set<string>();
  const server = http.createServer((req, res) => {
    const p = decodeURIComponent((req.url ?? "").split("?")[0]);
    requests.push({ path: p, range: req.headers.range });
    const name = p.replace(/^\/(cut\/)?/, "");
    const body = files[name];
    if (!body) return void res.writeHead(404).end();
    const m = /bytes=(\d+)-/.exec(req.headers.range ?? "");
    const start = m ? Number(m[1]) : 0;
    const part = body.subarray(start);
    res.writeHead(m ? 206 : 200, {
      "content-length": String(part.length),
      ...(m ? { "content-range": `bytes ${start}-${body.length - 1}/${body.length}` } : {}),
    });
    if (p.startsWith("/cut/") && !cut.has(name)) {
      cut.add(name);
      res.write(part.subarray(0, Math.floor(part.length / 2)), () => res.destroy());
      return;
    }
    res.end(part);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const port = (server.address() as AddressInfo).port;
  return { url: `http://127.0.0.1:${port}`, requests, close: () => new Promise((r) => server.close(() => r())) };
}

const md5 = (b: Uint8Array) => crypto.createHash("md5").update(b).digest("hex");
const tmp = () => tmpDir("peftlab-prep-");
const quiet = () => undefined;

describe("data-scripts (offline, local HTTP server)", () => {
  let srv: Served;
  const big = crypto.randomBytes(300_000);
  const npz = tinyMedmnist();
  let pbcZip: Uint8Array;

  before(async () => {
    const entries: Record<string, Uint8Array> = {};
    const classes = [
      "basophil",
      "eosinophil",
      "erythroblast",
      "ig",
      "lymphocyte",
      "monocyte",
      "neutrophil",
      "platelet",
    ];
    for (const [ci, c] of classes.entries()) {
      for (let k = 0; k < 10; k++) {
        const png = await sharp({
          create: { width: 40, height: 36, channels: 3, background: { r: ci * 30, g: k * 20, b: 90 } },
        })
          .jpeg()
          .toBuffer();
        entries[`PBC_dataset_normal_DIB/${c}/${c.slice(0, 2).toUpperCase()}_${k}.jpg`] = png;
      }
    }
    entries["__MACOSX/PBC_dataset_normal_DIB/._x.jpg"] = new Uint8Array([1, 2, 3]);
    pbcZip = zipSync(entries);
    srv = await serve({
      "big.bin": big,
      "bloodmnist_224.npz": npz,
      "bloodmnist.npz": npz,
      "PBC_dataset_normal_DIB.zip": pbcZip,
    });
  });
  after(async () => srv.close());

  it("an interrupted download resumes with a Range request and verifies", async () => {
    const d = tmp();
    const r = await download({
      url: `${srv.url}/cut/big.bin`,
      dest: path.join(d, "big.bin"),
      md5: md5(big),
      progress: false,
      log: quiet,
    });
    assert.ok(r.resumes >= 1, "resumed at least once");
    assert.ok(
      srv.requests.some((q) => q.path === "/cut/big.bin" && q.range !== undefined && /bytes=\d+-/.test(q.range)),
    );
    assert.ok(Buffer.from(fs.readFileSync(path.join(d, "big.bin"))).equals(big));
    assert.ok(!fs.existsSync(path.join(d, "big.bin.part")));
    const again = await download({
      url: `${srv.url}/big.bin`,
      dest: path.join(d, "big.bin"),
      md5: md5(big),
      progress: false,
      log: quiet,
    });
    assert.equal(again.skipped, true);
  });

  it("a checksum mismatch fails loudly and leaves no file behind", async () => {
    const d = tmp();
    await assert.rejects(
      download({
        url: `${srv.url}/big.bin`,
        dest: path.join(d, "x.bin"),
        md5: "0".repeat(32),
        progress: false,
        log: quiet,
      }),
      (e: unknown) => e instanceof DataError && /Checksum mismatch/.test(e.message) && e.message.includes(md5(big)),
    );
    assert.ok(!fs.existsSync(path.join(d, "x.bin")) && !fs.existsSync(path.join(d, "x.bin.part")));
  });

  it("MedMNIST preparer: local copy → dataset.json (npz source) that loads and batches through lib/data", async () => {
    const d = tmp();
    // Same code path as the real Zenodo file; only the base URL and the expected md5 are injected.
    const ctx = makeContext(d, {
      baseUrl: srv.url,
      checksums: { "bloodmnist.npz": { md5: md5(npz) } },
      options: { name: "bloodmnist", size: "28" },
      log: quiet,
      progress: false,
    });
    const res = await prepareMedmnist(ctx);
    assert.deepEqual(res.counts, { train: 16, val: 8, test: 8 });
    const meta = JSON.parse(fs.readFileSync(res.descriptor, "utf8"));
    assert.deepEqual(meta.source, { kind: "npz", file: "bloodmnist.npz" });
    assert.equal(meta.format, "peftlab-dataset");
    const ds = loadPreparedDataset(d);
    assert.deepEqual(ds.classes, MEDMNIST_INFO.bloodmnist.labels);
    assert.equal(ds.items.length, 32);
    const l = new DataLoader(ds, { batchSize: 4, transform: { size: 28 } });
    const b = (await l.next())!;
    assert.deepEqual(b.x.shape, [4, 28, 28, 3]);
    await l.close();
    const bad = makeContext(tmp(), {
      baseUrl: srv.url,
      checksums: { "bloodmnist.npz": { md5: "f".repeat(32) } },
      options: { name: "bloodmnist" },
      log: quiet,
      progress: false,
    });
    await assert.rejects(prepareMedmnist(bad), /Checksum mismatch/);
  });

  it("PBC preparer: zip of class folders → manifest with a stratified split, loadable", async () => {
    const d = tmp();
    const res = await preparePbc(makeContext(d, { baseUrl: srv.url, options: {}, log: quiet, progress: false }));
    assert.deepEqual(res.counts, { train: 56, val: 8, test: 16 });
    const ds = loadPreparedDataset(d);
    assert.equal(ds.items.length, 80);
    assert.equal(ds.classes.length, 8);
    assert.ok(ds.items.every((i) => fs.existsSync(i.path!)));
    const l = new DataLoader(ds, { batchSize: 8, transform: { size: 32 } });
    assert.deepEqual((await l.next())!.x.shape, [8, 32, 32, 3]);
    await l.close();
  });

  it("BreakHis file names give patient and magnification; Kaggle without credentials prints the manual steps", async () => {
    assert.deepEqual(parseBreakhisName("/d/SOB_M_DC-14-16716-400-003.png"), {
      malignant: true,
      subtype: "DC",
      patient: "14-16716",
      magnification: 400,
    });
    assert.deepEqual(parseBreakhisName("SOB_B_TA-14-21978AB-40-001.png").patient, "14-21978AB");
    assert.throws(() => parseBreakhisName("x.png"), DataError);
    const saved = [process.env.KAGGLE_USERNAME, process.env.KAGGLE_KEY];
    delete process.env.KAGGLE_USERNAME;
    delete process.env.KAGGLE_KEY;
    try {
      const sip = kagglePreparers.find((p) => p.name === "sipakmed")!;
      await assert.rejects(
        sip.prepare(makeContext(tmp(), { log: quiet, progress: false })),
        (e: unknown) =>
          e instanceof DataError &&
          /kaggle\.com\/datasets\/prahladmehandiratta/.test(e.message) &&
          /Put the zip at/.test(e.message),
      );
    } finally {
      if (saved[0] !== undefined) process.env.KAGGLE_USERNAME = saved[0];
      if (saved[1] !== undefined) process.env.KAGGLE_KEY = saved[1];
    }
  });
});
