import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { CheckpointError } from "../../lib/errors";
import { hostTensor, type HostTensor, type StateDict } from "../../lib/io/host_tensor";
import {
  readSafetensors,
  SafetensorsFile,
  toTensors,
  writeSafetensors,
  type SafeDType,
} from "../../lib/io/safetensors";
import { hasShared, sharedPath } from "../../lib/paths";

describe("io/safetensors", () => {
  let tmp: string;
  before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "peftlab-st-"));
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  /** Builds a safetensors file by hand (independent of the writer): 8-byte length, JSON, then raw data. */
  function handMade(
    name: string,
    header: unknown,
    data: Uint8Array,
    opts: { headerText?: string; n?: bigint } = {},
  ): string {
    const json = Buffer.from(opts.headerText ?? JSON.stringify(header), "utf8");
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(opts.n ?? BigInt(json.length));
    const file = path.join(tmp, name);
    fs.writeFileSync(file, Buffer.concat([len, json, data]));
    return file;
  }

  /** Reads a file's header straight from its bytes, as the test's independent view of what it holds. */
  function rawHeader(file: string): Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }> {
    const b = fs.readFileSync(file);
    const n = Number(b.readBigUInt64LE(0));
    const h = JSON.parse(b.subarray(8, 8 + n).toString("utf8"));
    delete h.__metadata__;
    return h;
  }

  describe("safetensors: write → read → write is byte-identical", () => {
    const f32 = new Float32Array([0, -0, 1.5, -2.25, 3.4028234663852886e38, 1e-45, Infinity, -Infinity]);
    const cases: { dtype: SafeDType; t: HostTensor }[] = [
      { dtype: "F32", t: hostTensor(f32, [2, 4]) },
      // Values exactly representable in half: ±0, 1, -2, 65504 (max), 2^-14 (min normal), 2^-24 (min subnormal), inf.
      { dtype: "F16", t: hostTensor(new Float32Array([0, -0, 1, -2, 65504, 2 ** -14, 2 ** -24, Infinity]), [8]) },
      { dtype: "BF16", t: hostTensor(new Float32Array([1, -2, 3.140625, 2 ** -126, -Infinity, 0]), [3, 2]) },
      { dtype: "F64", t: hostTensor(new Float64Array([Math.PI, -1e300, 5e-324]), [3]) },
      { dtype: "I64", t: hostTensor(new BigInt64Array([0n, -1n, 9007199254740993n, -(2n ** 63n)]), [4, 1]) },
      { dtype: "I32", t: hostTensor(new Int32Array([2147483647, -2147483648, 7]), [3]) },
      { dtype: "I16", t: hostTensor(new Int16Array([32767, -32768]), [2]) },
      { dtype: "I8", t: hostTensor(new Int8Array([127, -128, 0]), [1, 3]) },
      { dtype: "U8", t: hostTensor(new Uint8Array([0, 255, 17]), [3]) },
      { dtype: "BOOL", t: hostTensor(new Uint8Array([1, 0, 1]), [3], "bool") },
      { dtype: "F32", t: hostTensor(new Float32Array([42]), []) }, // a scalar
      { dtype: "F32", t: hostTensor(new Float32Array(0), [0, 5]) }, // an empty tensor
    ];
    for (const [i, { dtype, t }] of cases.entries()) {
      it(`${dtype} [${t.shape.join(", ")}]`, () => {
        const a = path.join(tmp, `rt${i}a.safetensors`);
        const b = path.join(tmp, `rt${i}b.safetensors`);
        const other = hostTensor(new Float32Array([1, 2]), [2]);
        writeSafetensors(
          a,
          new Map([
            ["x", t],
            ["a.other", other],
          ]),
          { dtypes: { x: dtype }, metadata: { format: "pt" } },
        );
        const r = readSafetensors(a);
        assert.equal(r.dtypes.get("x"), dtype);
        assert.deepEqual(r.metadata, { format: "pt" });
        const back = r.tensors.get("x")!;
        assert.deepEqual(back.shape, t.shape);
        assert.deepEqual(Array.from(back.data as ArrayLike<unknown>), Array.from(t.data as ArrayLike<unknown>));
        writeSafetensors(b, r.tensors, { dtypes: r.dtypes, metadata: r.metadata });
        assert.ok(fs.readFileSync(a).equals(fs.readFileSync(b)), "second write differs from the first");
        assert.equal((fs.readFileSync(a).readUInt32LE(0) + 8) % 8, 0, "header is 8-byte aligned");
      });
    }

    it("orders tensors by name (or by dtype alignment on request) whatever the input order", () => {
      const t1 = hostTensor(new Float32Array([1]), [1]);
      const t2 = hostTensor(new BigInt64Array([2n]), [1]);
      const a = path.join(tmp, "ord_a.safetensors");
      const b = path.join(tmp, "ord_b.safetensors");
      writeSafetensors(a, { b: t1, a: t2 }, { metadata: { z: "1", a: "2" } });
      writeSafetensors(b, { a: t2, b: t1 }, { metadata: { a: "2", z: "1" } });
      assert.ok(fs.readFileSync(a).equals(fs.readFileSync(b)));
      assert.deepEqual(Object.keys(rawHeader(a)), ["a", "b"]);
      writeSafetensors(a, { z: t1, y: hostTensor(new Uint8Array([1]), [1]), a: t2 }, { order: "alignment" });
      assert.deepEqual(Object.keys(rawHeader(a)), ["a", "z", "y"]); // I64, F32, U8
    });

    it("writes float32 as F16 by default when floatDType is F16, rounding to nearest even", () => {
      const f = path.join(tmp, "half.safetensors");
      // 1+2^-11 is halfway between 1 and 1+2^-10: ties go to the even mantissa (1). 65520 overflows to inf.
      const x = new Float32Array([1 + 2 ** -11, 1 + 3 * 2 ** -11, 65520, 2 ** -25, 1.5 * 2 ** -25, -0]);
      writeSafetensors(f, { x: hostTensor(x, [6]) }, { floatDType: "F16" });
      const raw = fs.readFileSync(f);
      const start = 8 + Number(raw.readBigUInt64LE(0));
      const bits = Array.from({ length: 6 }, (_, i) => raw.readUInt16LE(start + 2 * i));
      assert.deepEqual(bits, [0x3c00, 0x3c02, 0x7c00, 0x0000, 0x0001, 0x8000]);
    });

    it("leaves no temporary files behind and refuses bad dtype requests", () => {
      const f = path.join(tmp, "sub", "atomic.safetensors");
      writeSafetensors(f, { x: hostTensor(new Int32Array([1]), [1]) });
      assert.deepEqual(fs.readdirSync(path.dirname(f)), ["atomic.safetensors"]);
      assert.throws(
        () => writeSafetensors(f, { x: hostTensor(new Int32Array([1]), [1]) }, { dtypes: { x: "F16" } }),
        (e: unknown) => e instanceof CheckpointError && /F16 for a int32 tensor/.test(e.message),
      );
    });
  });

  describe("safetensors: F16 / BF16 widening is bit-exact", () => {
    // [half bits, float32 bits]: computed by hand from the IEEE layouts.
    const f16: [number, number][] = [
      [0x0000, 0x00000000], // +0
      [0x8000, 0x80000000], // -0
      [0x3c00, 0x3f800000], // 1
      [0xc000, 0xc0000000], // -2
      [0x7bff, 0x477fe000], // 65504, the largest half
      [0x0400, 0x38800000], // 2^-14, the smallest normal
      [0x03ff, 0x387fc000], // largest subnormal, 1023 × 2^-24
      [0x0001, 0x33800000], // 2^-24, the smallest subnormal
      [0x8001, 0xb3800000], // -2^-24
      [0x3555, 0x3eaaa000], // 0.333251953125
      [0x7c00, 0x7f800000], // +inf
      [0xfc00, 0xff800000], // -inf
      [0x7e00, 0x7fc00000], // quiet NaN
      [0x7c01, 0x7f802000], // signalling NaN: payload kept
    ];
    const bf16: [number, number][] = [
      [0x3f80, 0x3f800000],
      [0xc000, 0xc0000000],
      [0x4049, 0x40490000], // 3.140625
      [0x0001, 0x00010000], // a float32 subnormal
      [0x7f80, 0x7f800000],
      [0xff80, 0xff800000],
      [0x7fc1, 0x7fc10000], // NaN with payload
    ];
    for (const [dtype, table] of [
      ["F16", f16],
      ["BF16", bf16],
    ] as const) {
      it(`${dtype}: ${table.length} bit patterns`, () => {
        const data = Buffer.alloc(table.length * 2);
        table.forEach(([h], i) => data.writeUInt16LE(h, 2 * i));
        const file = handMade(
          `${dtype}.safetensors`,
          { x: { dtype, shape: [table.length], data_offsets: [0, data.length] } },
          data,
        );
        const t = readSafetensors(file).tensors.get("x")!;
        assert.equal(t.dtype, "float32");
        const got = Array.from(
          new Uint32Array((t.data as Float32Array).buffer, (t.data as Float32Array).byteOffset, table.length),
        );
        assert.deepEqual(
          got.map(hex),
          table.map(([, f]) => hex(f)),
        );
        // And back: writing the widened values as the same dtype restores the original bits.
        const out = path.join(tmp, `${dtype}_back.safetensors`);
        writeSafetensors(out, { x: t }, { dtypes: { x: dtype } });
        assert.ok(fs.readFileSync(out).subarray(-data.length).equals(data));
      });
    }
  });

  function hex(n: number): string {
    return `0x${(n >>> 0).toString(16)}`;
  }

  const FIXTURES = sharedPath("fixtures", "reference");
  const fixtureFiles =
    hasShared() && fs.existsSync(FIXTURES) ? fs.readdirSync(FIXTURES).filter((f) => f.endsWith(".safetensors")) : [];

  describe("safetensors: reference fixtures written by Python safetensors", function () {
    before(function () {
      if (fixtureFiles.length === 0) this.skip();
    });
    for (const name of fixtureFiles) {
      it(`${name}: keys, dtypes, shapes and data match the file header; rewrite is byte-identical`, () => {
        const file = path.join(FIXTURES, name);
        const header = rawHeader(file);
        const raw = fs.readFileSync(file);
        const start = 8 + Number(raw.readBigUInt64LE(0));
        const r = readSafetensors(file);
        assert.deepEqual([...r.tensors.keys()].sort(), Object.keys(header).sort());
        for (const [k, h] of Object.entries(header)) {
          const t = r.tensors.get(k)!;
          assert.deepEqual(t.shape, h.shape, k);
          assert.equal(r.dtypes.get(k), h.dtype, k);
          assert.equal(t.data.byteLength, h.data_offsets[1] - h.data_offsets[0], k);
          if (h.dtype === "F32" && t.data.length > 0) {
            const last = t.data.length - 1;
            assert.equal((t.data as Float32Array)[last], raw.readFloatLE(start + h.data_offsets[0] + 4 * last), k);
          }
        }
        const out = path.join(tmp, `fixture_${name}`);
        writeSafetensors(out, r.tensors, { dtypes: r.dtypes, metadata: r.metadata });
        assert.ok(fs.readFileSync(out).equals(raw), "rewritten fixture differs from the original");
      });
    }

    it("reads lazily: one tensor at a time, equal to the eager read", () => {
      const file = path.join(FIXTURES, "vit_timm.weights.safetensors");
      const f = SafetensorsFile.open(file);
      const eager = readSafetensors(file).tensors;
      assert.deepEqual(f.keys(), [...eager.keys()]);
      const info = f.info("pos_embed");
      assert.equal(info.dtype, "F32");
      assert.equal(info.end - info.begin, 4 * info.shape.reduce((a, b) => a * b, 1));
      assert.deepEqual(f.get("pos_embed").data, eager.get("pos_embed")!.data);
      assert.throws(
        () => f.get("no.such.key"),
        (e: unknown) => e instanceof CheckpointError && /no\.such\.key/.test(e.message),
      );
      f.close();
      assert.throws(() => f.get("pos_embed"), /closed/);
    });
  });

  describe("safetensors: toTensors", () => {
    it("converts floats to float32 and int64 to int32", () => {
      const sd: StateDict = new Map([
        ["w", hostTensor(new Float64Array([1.5, -2]), [2])],
        ["n", hostTensor(new BigInt64Array([7n]), [1])],
      ]);
      const t = toTensors(sd);
      assert.equal(t.get("w")!.dtype, "float32");
      assert.deepEqual(t.get("w")!.arraySync(), [1.5, -2]);
      assert.equal(t.get("n")!.dtype, "int32");
      assert.deepEqual(t.get("n")!.arraySync(), [7]);
      tf.dispose([...t.values()]);
    });
  });

  describe("safetensors: corrupt and truncated files give CheckpointError", () => {
    const f32x4 = new Uint8Array(16);
    const ok = (extra: object = {}) => ({ a: { dtype: "F32", shape: [2, 2], data_offsets: [0, 16] }, ...extra });
    const cases: {
      name: string;
      header?: unknown;
      data?: Uint8Array;
      text?: string;
      n?: bigint;
      raw?: Buffer;
      want: RegExp;
    }[] = [
      { name: "empty file", raw: Buffer.alloc(0), want: /shorter than its 8-byte header length/ },
      { name: "5-byte file", raw: Buffer.from("hello"), want: /shorter than.*got 5 bytes/ },
      {
        name: "header length above 100 MB",
        header: ok(),
        data: f32x4,
        n: 200_000_000n,
        want: /implausibly large.*<= 100000000/,
      },
      {
        name: "header length past end of file",
        header: ok(),
        data: f32x4,
        n: 5000n,
        want: /runs past the end of the file/,
      },
      { name: "header is not JSON", text: "{not json", data: f32x4, want: /not valid JSON/ },
      {
        name: "header is a JSON array",
        text: "[1,2]",
        data: new Uint8Array(0),
        want: /not a JSON object.*got an array/,
      },
      { name: "header is invalid UTF-8", text: "\u0000", raw: undefined, data: f32x4, want: /UTF-8/ },
      {
        name: "unknown dtype",
        header: { a: { dtype: "F8_E4M3", shape: [4], data_offsets: [0, 4] } },
        data: new Uint8Array(4),
        want: /unsupported safetensors dtype.*one of F64, F32.*got "F8_E4M3"/,
      },
      { name: "entry not an object", header: { a: 3 }, data: new Uint8Array(0), want: /entry is not an object/ },
      {
        name: "fractional shape",
        header: { a: { dtype: "F32", shape: [2.5], data_offsets: [0, 10] } },
        data: new Uint8Array(10),
        want: /shape is not a list of non-negative integers/,
      },
      {
        name: "missing data_offsets",
        header: { a: { dtype: "F32", shape: [4] } },
        data: f32x4,
        want: /data_offsets are invalid/,
      },
      {
        name: "reversed data_offsets",
        header: { a: { dtype: "F32", shape: [0], data_offsets: [8, 0] } },
        data: new Uint8Array(8),
        want: /data_offsets are invalid/,
      },
      {
        name: "bytes ≠ dtype size × shape",
        header: { a: { dtype: "F32", shape: [2, 2], data_offsets: [0, 12] } },
        data: new Uint8Array(12),
        want: /byte size does not match.*16 bytes.*12 bytes/,
      },
      {
        name: "gap between tensors",
        header: {
          a: { dtype: "F32", shape: [2], data_offsets: [0, 8] },
          b: { dtype: "F32", shape: [2], data_offsets: [12, 20] },
        },
        data: new Uint8Array(20),
        want: /a gap before this tensor.*\(b\)/,
      },
      {
        name: "overlapping tensors",
        header: {
          a: { dtype: "F32", shape: [2], data_offsets: [0, 8] },
          b: { dtype: "F32", shape: [2], data_offsets: [4, 12] },
        },
        data: new Uint8Array(12),
        want: /an overlap before this tensor/,
      },
      {
        name: "data not starting at 0",
        header: { a: { dtype: "F32", shape: [2], data_offsets: [4, 12] } },
        data: new Uint8Array(12),
        want: /a gap/,
      },
      {
        name: "truncated tensor data",
        header: ok(),
        data: new Uint8Array(10),
        want: /truncated: tensor data runs past the end.*\(a\)/,
      },
      { name: "trailing bytes", header: ok(), data: new Uint8Array(20), want: /trailing bytes/ },
      {
        name: "non-string metadata",
        header: ok({ __metadata__: { epoch: 3 } }),
        data: f32x4,
        want: /__metadata__ values must be strings/,
      },
    ];
    for (const c of cases) {
      it(c.name, () => {
        let file: string;
        if (c.raw) {
          file = path.join(tmp, "raw.safetensors");
          fs.writeFileSync(file, c.raw);
        } else if (c.name.includes("UTF-8")) {
          file = handMade("utf8.safetensors", null, c.data!, { headerText: '{"a":1}' });
          const b = fs.readFileSync(file);
          b[10] = 0xff; // a lone continuation byte is never valid UTF-8
          fs.writeFileSync(file, b);
        } else {
          file = handMade("bad.safetensors", c.header, c.data ?? new Uint8Array(0), { headerText: c.text, n: c.n });
        }
        assert.throws(
          () => SafetensorsFile.open(file),
          (e: unknown) => {
            assert.ok(e instanceof CheckpointError, `not a CheckpointError: ${String(e)}`);
            assert.match(e.message, c.want);
            assert.ok(e.where?.startsWith(`${file}:`), `where should be file:offset, got ${e.where}`);
            assert.ok((e.fix ?? "").length > 0, "message says how to fix it");
            return true;
          },
        );
      });
    }

    it("a missing file is a CheckpointError naming the path", () => {
      const f = path.join(tmp, "missing.safetensors");
      assert.throws(
        () => readSafetensors(f),
        (e: unknown) => e instanceof CheckpointError && /ENOENT/.test(e.message) && e.where === f,
      );
    });
  });
});
