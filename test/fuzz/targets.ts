/**
 * The parsers under fuzz: how to build each one's valid seed inputs (in the parent) and how to run it on a file (in
 * the worker). A run ends in success or throws; the campaign classifies the throw as typed (a PeftlabError) or not.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import sharp from "sharp";
import { zipSync } from "fflate";
import { hasShared, sharedPath } from "../../lib/paths";
import { cellSource, injectParameters, normalizeNotebook } from "../../lib/jupyter/runner/notebook";
import { readNotebook } from "../../lib/jupyter/runner/run";
import { inspectFile } from "../../lib/cli/commands/inspect";
import { readConfigFile } from "../../lib/cli/commands/train";
import { loadSweepFile } from "../../lib/experiments/sweep/spec";
import { planSweep } from "../../lib/experiments/sweep/plan";
import { decodeItem } from "../../lib/data/decode";
import { CheckpointError } from "../../lib/errors";
import { readWholeFile } from "../../lib/io/file_read";
import { readNpy } from "../../lib/io/npy";
import { NpzFile, readNpz } from "../../lib/io/npz";
import { SafetensorsFile, readSafetensors, writeSafetensors } from "../../lib/io/safetensors";
import { convertTorchToSafetensors } from "../../lib/io/torch_checkpoint";
import { globalResolver } from "../../lib/io/torch_globals";
import { unpickle } from "../../lib/io/torch_pickle";
import { readAdapter } from "../../lib/peft/lora/save";
import { resolveRunConfig } from "../../lib/experiments/run_config";
import type { Format } from "./mutate";

/** One parser under fuzz. */
export interface FuzzTarget {
  name: string;
  format: Format;
  /** File extension the parser dispatches on. */
  ext: string;
  /** Valid inputs to mutate (built once per campaign; `assets` is a scratch folder for helper files). */
  seeds(assets: string): Promise<Uint8Array[]>;
  /** Parses `file` fully (worker side). */
  run(file: string, assets: string): Promise<void>;
}

const root = path.resolve(__dirname, "../..");
const fixture = (p: string) => new Uint8Array(fs.readFileSync(path.join(root, p)));

/** .npy bytes as numpy.save writes them (header padded to a 64-byte boundary, ending in a newline). */
export function npyBytes(descr: string, shape: number[], data: Uint8Array, fortran = false): Uint8Array {
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(", ")})`;
  const dict = `{'descr': '${descr}', 'fortran_order': ${fortran ? "True" : "False"}, 'shape': ${shapeText}, }`;
  const total = Math.ceil((10 + dict.length + 1) / 64) * 64;
  const header = Buffer.from(dict.padEnd(total - 11, " ") + "\n", "latin1");
  const out = Buffer.alloc(10 + header.length + data.length);
  Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]).copy(out, 0);
  out.writeUInt16LE(header.length, 8);
  header.copy(out, 10);
  Buffer.from(data).copy(out, 10 + header.length);
  return new Uint8Array(out);
}

function npySeeds(): Uint8Array[] {
  const f4 = new Uint8Array(new Float32Array([1, 2, 3, 4, 5, 6]).buffer);
  const u = new Uint8Array(new Uint32Array([0x61, 0x62, 0, 0x3b1, 0x1f600, 0]).buffer);
  return [
    npyBytes("<f4", [2, 3], f4),
    npyBytes("<f4", [3, 2], f4, true),
    npyBytes("|u1", [2, 2, 2], new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8])),
    npyBytes("<U3", [2], u),
    npyBytes("|S3", [2], new Uint8Array([0x61, 0x62, 0x63, 0x64, 0, 0])),
    npyBytes("<i8", [1], new Uint8Array(8).fill(7)),
  ];
}

/** A minimal DICOM Part 10 file: explicit VR little endian, 8-bit MONOCHROME2 pixels. */
export function dicomBytes(rows: number, cols: number): Uint8Array {
  const parts: Buffer[] = [Buffer.alloc(128), Buffer.from("DICM", "latin1")];
  const el = (g: number, e: number, vr: string, value: Buffer) => {
    const long = ["OB", "OW", "UN", "SQ", "UT"].includes(vr);
    const h = Buffer.alloc(long ? 12 : 8);
    h.writeUInt16LE(g, 0);
    h.writeUInt16LE(e, 2);
    h.write(vr, 4, "latin1");
    if (long) h.writeUInt32LE(value.length, 8);
    else h.writeUInt16LE(value.length, 6);
    parts.push(h, value);
  };
  const u16 = (x: number) => Buffer.from([x & 0xff, x >> 8]);
  const uid = (s: string) => Buffer.from(s.length % 2 ? s + "\0" : s, "latin1");
  el(0x0002, 0x0010, "UI", uid("1.2.840.10008.1.2.1"));
  el(0x0028, 0x0002, "US", u16(1));
  el(0x0028, 0x0004, "CS", Buffer.from("MONOCHROME2 ", "latin1"));
  el(0x0028, 0x0010, "US", u16(rows));
  el(0x0028, 0x0011, "US", u16(cols));
  el(0x0028, 0x0100, "US", u16(8));
  el(0x7fe0, 0x0010, "OB", Buffer.from(Array.from({ length: rows * cols }, (_, i) => (i * 7) & 0xff)));
  return new Uint8Array(Buffer.concat(parts));
}

async function imageSeed(kind: "jpeg" | "png"): Promise<Uint8Array> {
  const src = hasShared() ? fs.readdirSync(sharedPath("data/pbc-jpeg/basophil")).slice(0, 1) : [];
  const img =
    src.length > 0
      ? sharp(path.join(sharedPath("data/pbc-jpeg/basophil"), src[0])).resize(24, 24)
      : sharp({ create: { width: 24, height: 24, channels: 3, background: { r: 200, g: 40, b: 90 } } });
  return new Uint8Array(await (kind === "jpeg" ? img.jpeg({ quality: 80 }) : img.png()).toBuffer());
}

function bmpSeed(): Uint8Array {
  const bmp = require("bmp-js") as { encode(i: { data: Buffer; width: number; height: number }): { data: Buffer } };
  const data = Buffer.alloc(8 * 6 * 4);
  for (let i = 0; i < data.length; i++) data[i] = (i * 13) & 0xff;
  return new Uint8Array(bmp.encode({ data, width: 8, height: 6 }).data);
}

async function decodeImage(file: string): Promise<void> {
  await decodeItem({ id: "fuzz", path: file, label: 0 } as never, { shorter: 16, crop: 16 });
}

/** A safetensors file of a few small tensors in several dtypes. */
async function safetensorsSeed(assets: string, name = "seed.safetensors"): Promise<Uint8Array> {
  const file = path.join(assets, name);
  const sd = new Map([
    ["a.weight", { dtype: "float32" as const, shape: [2, 3], data: new Float32Array([1, 2, 3, 4, 5, 6]) }],
    ["b.bias", { dtype: "int32" as const, shape: [2], data: new Int32Array([7, 8]) }],
    ["c", { dtype: "float32" as const, shape: [], data: new Float32Array([9]) }],
  ]);
  writeSafetensors(file, sd, { metadata: { format: "pt" }, dtypes: new Map([["a.weight", "F16"]]) });
  return new Uint8Array(fs.readFileSync(file));
}

/**
 * pickle.dumps({'a': [1, 2.5, 'x', (True, None)], 'b': b'\x00\x01', 'c': OrderedDict(k=-7, big=2**70), 'd': [3]*3})
 * with protocols 2 and 4 (CPython 3).
 */
const PLAIN_PICKLES = [
  "80027d71002858010000006171015d7102284b014740040000000000005801000000787103884e867104655801000000627105635f636f64" +
    "6563730a656e636f64650a710658020000000001710758060000006c6174696e31710886710952710a580100000063710b63636f6c6c65" +
    "6374696f6e730a4f726465726564446963740a710c2952710d2858010000006b710e4af9ffffff5803000000626967710f8a0900000000" +
    "00000000407558010000006471105d7111284b034b034b0365752e",
  "80049578000000000000007d94288c0161945d94284b014740040000000000008c017894884e8694658c01629443020001948c0163948c0b" +
    "636f6c6c656374696f6e73948c0b4f72646572656444696374949394295294288c016b944af9ffffff8c03626967948a09000000000000" +
    "000040758c0164945d94284b034b034b0365752e",
];

const json = (v: unknown) => new Uint8Array(Buffer.from(JSON.stringify(v, null, 1)));

export const TARGETS: FuzzTarget[] = [
  {
    name: "safetensors-eager",
    format: "safetensors",
    ext: ".safetensors",
    seeds: async (a) => [await safetensorsSeed(a)],
    run: async (file) => {
      readSafetensors(file);
    },
  },
  {
    name: "safetensors-lazy",
    format: "safetensors",
    ext: ".safetensors",
    seeds: async (a) => [await safetensorsSeed(a)],
    run: async (file) => {
      inspectFile(file);
      const f = SafetensorsFile.open(file);
      try {
        for (const k of f.keys()) f.get(k);
      } finally {
        f.close();
      }
    },
  },
  {
    name: "npy",
    format: "npy",
    ext: ".npy",
    seeds: async () => npySeeds(),
    run: async (file) => {
      inspectFile(file);
      readNpy(file);
    },
  },
  {
    name: "npz",
    format: "zip",
    ext: ".npz",
    seeds: async () => {
      const m = Object.fromEntries(npySeeds().map((b, i) => [`a${i}.npy`, b]));
      return [new Uint8Array(zipSync(m, { level: 0 })), new Uint8Array(zipSync(m, { level: 6 }))];
    },
    run: async (file) => {
      inspectFile(file);
      const z = NpzFile.open(file);
      try {
        for (const k of z.keys()) z.describe(k);
      } finally {
        z.close();
      }
      readNpz(file);
    },
  },
  {
    name: "torch-zip",
    format: "zip",
    ext: ".pt",
    seeds: async () =>
      ["dtypes.pt", "dino.pth", "bigendian.pt", "module.bin"].map((f) => fixture(`test/fixtures/torch/${f}`)),
    run: async (file, assets) => {
      convertTorchToSafetensors(file, path.join(assets, `out-${process.pid}.safetensors`));
    },
  },
  {
    name: "torch-legacy",
    format: "pickle",
    ext: ".pt",
    seeds: async () => [fixture("test/fixtures/torch/legacy.pt")],
    run: async (file, assets) => {
      convertTorchToSafetensors(file, path.join(assets, `out-${process.pid}.safetensors`));
    },
  },
  {
    name: "unpickler",
    format: "pickle",
    ext: ".pkl",
    seeds: async () => [
      ...["malicious.pkl", "malicious_p4.pkl"].map((f) => fixture(`test/fixtures/torch/${f}`)),
      ...PLAIN_PICKLES.map((h) => new Uint8Array(Buffer.from(h, "hex"))),
    ],
    run: async (file) => {
      unpickle(readWholeFile(file, CheckpointError, "pickle"), { findGlobal: globalResolver() }, file);
    },
  },
  {
    name: "adapter-config",
    format: "json",
    ext: ".json",
    seeds: async (a) => {
      await safetensorsSeed(a, "adapter_model.safetensors");
      return [
        json({
          peft_type: "LORA",
          r: 4,
          lora_alpha: 8,
          lora_dropout: 0.1,
          target_modules: ["qkv", "proj"],
          bias: "none",
          rank_pattern: { qkv: 2 },
          alpha_pattern: {},
          task_type: null,
          use_rslora: false,
          modules_to_save: ["head"],
        }),
      ];
    },
    run: async (file, assets) => {
      readAdapter({ config: file, weights: path.join(assets, "adapter_model.safetensors") }, () => undefined);
    },
  },
  {
    name: "run-config",
    format: "json",
    ext: ".json",
    seeds: async () => [
      json({
        name: "t",
        model: { id: "fixture:resnet_basic" },
        data: { source: { kind: "imageFolder", path: "/data/pbc-jpeg" } },
        method: { kind: "strategy", name: "FT" },
        training: { epochs: 1, batchSize: 4, optimizer: { name: "sgd", lr: 0.1 } },
      }),
    ],
    run: async (file) => {
      resolveRunConfig(readConfigFile(file), { env: {}, warn: () => undefined });
    },
  },
  {
    name: "sweep-file",
    format: "json",
    ext: ".json",
    seeds: async () => [
      json({
        name: "s",
        base: {
          name: "t",
          model: { id: "fixture:resnet_basic" },
          data: { source: { kind: "imageFolder", path: "/data/pbc-jpeg" } },
          method: { kind: "strategy", name: "FT" },
          training: { epochs: 1, batchSize: 4, optimizer: { name: "sgd", lr: 0.1 } },
        },
        grid: { seed: [0, 1], "training.optimizer.lr": [0.1, 0.01] },
        points: [{ "method.name": "LP" }],
        slurm: { partition: "gpu", gres: "gpu:1", cpusPerTask: 2, mem: "4G", time: "00:10:00", extra: ["--qos=x"] },
      }),
    ],
    run: async (file) => {
      planSweep(loadSweepFile(file, {}), {});
    },
  },
  {
    name: "ipynb",
    format: "notebook",
    ext: ".ipynb",
    seeds: async () => [
      json({
        nbformat: 4,
        nbformat_minor: 5,
        metadata: { kernelspec: { name: "peftlab", display_name: "peftlab", language: "typescript" } },
        cells: [
          { cell_type: "markdown", id: "a", metadata: {}, source: ["# t\n"] },
          {
            cell_type: "code",
            id: "b",
            metadata: { tags: ["parameters"] },
            source: "const N = 1;",
            outputs: [],
            execution_count: null,
          },
          { cell_type: "code", id: "c", metadata: {}, source: ["N + 1\n", "\n"], outputs: [], execution_count: null },
        ],
      }),
    ],
    run: async (file) => {
      const nb = normalizeNotebook(readNotebook(file));
      for (const c of nb.cells) cellSource(c);
      injectParameters(nb, { N: 2 });
    },
  },
  { name: "jpeg", format: "image", ext: ".jpg", seeds: async () => [await imageSeed("jpeg")], run: decodeImage },
  { name: "png", format: "image", ext: ".png", seeds: async () => [await imageSeed("png")], run: decodeImage },
  { name: "bmp", format: "image", ext: ".bmp", seeds: async () => [bmpSeed()], run: decodeImage },
  { name: "dicom", format: "image", ext: ".dcm", seeds: async () => [dicomBytes(6, 5)], run: decodeImage },
];

const planted = (name: string, run: () => Promise<void>): FuzzTarget => ({
  name,
  format: "json",
  ext: ".txt",
  seeds: async () => [new Uint8Array([1])],
  run,
});

/**
 * Targets that fail on purpose, one per failure kind, so a test can show that the campaign detects each kind
 * (a fuzz harness that cannot fail would prove nothing). Never part of a real campaign.
 */
export const PLANTED: FuzzTarget[] = [
  planted("planted-untyped", async () => {
    throw new TypeError("planted");
  }),
  planted("planted-hang", async () => {
    for (;;);
  }),
  planted("planted-crash", async () => process.abort()),
  planted("planted-memory", async () => {
    const b = Buffer.alloc(384 << 20, 1); // touched, so it is resident
    if (b[12345] !== 1) throw new Error("unreachable");
  }),
];
