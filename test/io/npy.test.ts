import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { zipSync } from "fflate";
import { DataError } from "../../lib/errors";
import { decodeNpy, readNpy, type NpyArray } from "../../lib/io/npy";
import { NpzFile, readNpz } from "../../lib/io/npz";
import { hasShared, sharedPath } from "../../lib/paths";

/**
 * Builds .npy bytes as numpy.save does: magic, version, header length, a Python-dict header padded with spaces and
 * ending in a newline so that the data starts on a 64-byte boundary.
 */
function npy(
  descr: string,
  shape: number[],
  data: Uint8Array,
  o: { fortran?: boolean; version?: 1 | 2 | 3 } = {},
): Uint8Array {
  const version = o.version ?? 1;
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(", ")})`;
  const dict = `{'descr': '${descr}', 'fortran_order': ${o.fortran ? "True" : "False"}, 'shape': ${shapeText}, }`;
  const pre = version === 1 ? 10 : 12;
  const total = Math.ceil((pre + dict.length + 1) / 64) * 64;
  const header = Buffer.from(dict.padEnd(total - pre - 1, " ") + "\n", version === 3 ? "utf8" : "latin1");
  const out = Buffer.alloc(pre + header.length + data.length);
  Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, version, 0]).copy(out, 0);
  if (version === 1) out.writeUInt16LE(header.length, 8);
  else out.writeUInt32LE(header.length, 8);
  header.copy(out, pre);
  Buffer.from(data).copy(out, pre + header.length);
  return out;
}

type Setter = (v: DataView, off: number, x: number, le: boolean) => void;
/** Encodes numbers with a DataView setter, independent of the reader's decoding. */
function encode(values: number[], size: number, set: Setter, little: boolean): Uint8Array {
  const b = new Uint8Array(values.length * size);
  const v = new DataView(b.buffer);
  values.forEach((x, i) => set(v, i * size, x, little));
  return b;
}
const S = {
  u1: ((v, o, x) => v.setUint8(o, x)) as Setter,
  i1: ((v, o, x) => v.setInt8(o, x)) as Setter,
  i2: ((v, o, x, le) => v.setInt16(o, x, le)) as Setter,
  u2: ((v, o, x, le) => v.setUint16(o, x, le)) as Setter,
  i4: ((v, o, x, le) => v.setInt32(o, x, le)) as Setter,
  i8: ((v, o, x, le) => v.setBigInt64(o, BigInt(x), le)) as Setter,
  f4: ((v, o, x, le) => v.setFloat32(o, x, le)) as Setter,
  f8: ((v, o, x, le) => v.setFloat64(o, x, le)) as Setter,
};

function values(a: NpyArray): unknown[] {
  if (a.kind === "string") return a.values;
  return Array.from(a.tensor.data as ArrayLike<number | bigint>, (x) => (typeof x === "bigint" ? Number(x) : x));
}

describe("io/npy", () => {
  describe("dtypes and byte orders", () => {
    const cases: { descr: string; host: string; size: number; set: Setter; vals: number[] }[] = [
      { descr: "|u1", host: "uint8", size: 1, set: S.u1, vals: [0, 1, 255] },
      { descr: "|b1", host: "bool", size: 1, set: S.u1, vals: [1, 0, 1] },
      { descr: "|i1", host: "int8", size: 1, set: S.i1, vals: [-128, 0, 127] },
      { descr: "<i2", host: "int16", size: 2, set: S.i2, vals: [-32768, 2, 32767] },
      { descr: ">i2", host: "int16", size: 2, set: S.i2, vals: [-300, 2, 300] },
      { descr: "<u2", host: "int32", size: 2, set: S.u2, vals: [0, 40000, 65535] },
      { descr: "<i4", host: "int32", size: 4, set: S.i4, vals: [-2147483648, 5, 2147483647] },
      { descr: ">i4", host: "int32", size: 4, set: S.i4, vals: [-7, 5, 70000] },
      { descr: "<i8", host: "int64", size: 8, set: S.i8, vals: [-(2 ** 53), 0, 2 ** 40] },
      { descr: ">i8", host: "int64", size: 8, set: S.i8, vals: [-1, 0, 2 ** 40 + 3] },
      { descr: "<f4", host: "float32", size: 4, set: S.f4, vals: [1.5, -0.25, Infinity] },
      { descr: ">f4", host: "float32", size: 4, set: S.f4, vals: [1.5, -0.25, -Infinity] },
      { descr: "<f8", host: "float64", size: 8, set: S.f8, vals: [Math.PI, -1e300, 5e-324] },
      { descr: ">f8", host: "float64", size: 8, set: S.f8, vals: [Math.E, 1e-300, -0] },
    ];
    for (const c of cases) {
      it(`${c.descr} → ${c.host}`, () => {
        const a = decodeNpy(npy(c.descr, [3], encode(c.vals, c.size, c.set, !c.descr.startsWith(">"))));
        assert.equal(a.kind, "numeric");
        if (a.kind !== "numeric") return;
        assert.equal(a.tensor.dtype, c.host);
        assert.deepEqual(a.tensor.shape, [3]);
        assert.deepEqual(values(a), c.vals);
      });
    }

    it("<f2 and >f2 widen to float32 exactly (normal, subnormal, inf)", () => {
      const bits = [0x3c00, 0xc000, 0x0001, 0x7c00]; // 1, -2, 2^-24, inf
      for (const little of [true, false]) {
        const a = decodeNpy(npy(little ? "<f2" : ">f2", [4], encode(bits, 2, S.u2, little)));
        assert.ok(a.kind === "numeric" && a.tensor.dtype === "float32");
        assert.deepEqual(values(a), [1, -2, 2 ** -24, Infinity]);
      }
    });

    it("a 0-d array and an empty array", () => {
      const s = decodeNpy(npy("<f8", [], encode([2.5], 8, S.f8, true)));
      assert.ok(s.kind === "numeric");
      assert.deepEqual(s.tensor.shape, []);
      assert.deepEqual(values(s), [2.5]);
      const e = decodeNpy(npy("<f4", [0, 3], new Uint8Array(0)));
      assert.ok(e.kind === "numeric");
      assert.deepEqual(e.tensor.shape, [0, 3]);
      assert.equal(e.tensor.data.length, 0);
    });
  });

  describe("versions and memory order", () => {
    for (const version of [1, 2, 3] as const) {
      it(`format version ${version}.0`, () => {
        const a = decodeNpy(npy("<i4", [2, 2], encode([1, 2, 3, 4], 4, S.i4, true), { version }));
        assert.ok(a.kind === "numeric");
        assert.deepEqual(a.tensor.shape, [2, 2]);
        assert.deepEqual(values(a), [1, 2, 3, 4]);
      });
    }

    const shapes = [
      [2, 3],
      [2, 3, 4],
      [3, 1, 2, 2],
    ];
    for (const shape of shapes) {
      it(`Fortran order [${shape.join(", ")}] is returned in C order`, () => {
        // Element at multi-index idx has value = its C-order flat index; lay it out column-major.
        const n = shape.reduce((a, b) => a * b, 1);
        const fortran: number[] = new Array(n);
        for (let c = 0; c < n; c++) {
          let rem = c;
          let f = 0;
          let fStride = 1;
          const idx = shape.map(() => 0);
          for (let d = shape.length - 1; d >= 0; d--) {
            idx[d] = rem % shape[d];
            rem = Math.floor(rem / shape[d]);
          }
          for (let d = 0; d < shape.length; d++) {
            f += idx[d] * fStride;
            fStride *= shape[d];
          }
          fortran[f] = c;
        }
        const a = decodeNpy(npy("<f4", shape, encode(fortran, 4, S.f4, true), { fortran: true }));
        assert.deepEqual(
          values(a),
          Array.from({ length: n }, (_, i) => i),
        );
      });
    }
  });

  describe("string arrays", () => {
    function ucs4(strings: string[], chars: number, little = true): Uint8Array {
      const cps = strings.flatMap((s) => {
        const cp = Array.from(s, (ch) => ch.codePointAt(0)!);
        return [...cp, ...new Array(chars - cp.length).fill(0)];
      });
      return encode(cps, 4, (v, o, x, le) => v.setUint32(o, x, le), little);
    }
    it("<U with padding, non-ASCII and astral characters", () => {
      const s = ["basophil", "ig", "", "µm 🩸"];
      const a = decodeNpy(npy("<U8", [4], ucs4(s, 8)));
      assert.ok(a.kind === "string");
      assert.deepEqual(a.shape, [4]);
      assert.deepEqual(a.values, s);
    });
    it(">U big-endian, 2-D, Fortran order", () => {
      const c = ["a", "b", "c", "d", "e", "f"]; // C order of shape [2, 3]
      const f = ["a", "d", "b", "e", "c", "f"];
      const a = decodeNpy(npy(">U1", [2, 3], ucs4(f, 1, false), { fortran: true }));
      assert.ok(a.kind === "string");
      assert.deepEqual(a.values, c);
    });
    it("|S byte strings", () => {
      const a = decodeNpy(npy("|S3", [2], new Uint8Array([0x61, 0x62, 0x63, 0x78, 0, 0])));
      assert.ok(a.kind === "string");
      assert.deepEqual(a.values, ["abc", "x"]);
    });
  });

  describe("bad files give DataError", () => {
    const good = npy("<f4", [2], encode([1, 2], 4, S.f4, true));
    const cases: { name: string; bytes: Uint8Array; want: RegExp }[] = [
      { name: "bad magic", bytes: Buffer.from("PK\u0003\u0004 not an npy file"), want: /bad magic/ },
      { name: "too short for a header", bytes: good.subarray(0, 6), want: /bad magic.*6 bytes/ },
      {
        name: "object array",
        bytes: npy("|O", [2], new Uint8Array(16)),
        want: /Pickled object arrays.*not supported.*arbitrary code/,
      },
      {
        name: "complex dtype",
        bytes: npy("<c8", [1], new Uint8Array(8)),
        want: /Unsupported \.npy dtype.*float32.*got <c8/,
      },
      { name: "uint64 dtype", bytes: npy("<u8", [1], new Uint8Array(8)), want: /Unsupported \.npy dtype.*got <u8/ },
      {
        name: "structured dtype",
        bytes: Buffer.from(
          Buffer.from(npy("<f4", [1], new Uint8Array(4)))
            .toString("latin1")
            .replace("'<f4'", "[('a', '<f4')]"),
          "latin1",
        ),
        want: /Structured/,
      },
      { name: "truncated data", bytes: good.subarray(0, good.length - 3), want: /truncated.*8 data bytes.*got 5/ },
      { name: "truncated header", bytes: good.subarray(0, 40), want: /header is truncated/ },
      {
        name: "version 4.0",
        bytes: Buffer.from([...good.subarray(0, 6), 4, 0, ...good.subarray(8)]),
        want: /format version.*got 4\.0/,
      },
      {
        name: "header without shape",
        bytes: Buffer.from(Buffer.from(good).toString("latin1").replace("'shape'", "'shapf'"), "latin1"),
        want: /wrong keys.*shapf/,
      },
    ];
    for (const c of cases) {
      it(c.name, () => {
        assert.throws(
          () => decodeNpy(c.bytes, "t.npy"),
          (e: unknown) => {
            assert.ok(e instanceof DataError, `not a DataError: ${String(e)}`);
            assert.match(e.message, c.want);
            assert.ok(e.where?.startsWith("t.npy:"), `where: ${e.where}`);
            return true;
          },
        );
      });
    }
  });

  describe("files on disk and .npz archives", () => {
    let tmp: string;
    before(() => {
      tmp = fs.mkdtempSync(path.join(os.tmpdir(), "peftlab-npy-"));
    });
    after(() => fs.rmSync(tmp, { recursive: true, force: true }));

    const members = {
      "x.npy": npy("<f4", [2, 2], encode([1, 2, 3, 4], 4, S.f4, true)),
      "names.npy": npy(
        "<U3",
        [2],
        encode([0x61, 0x62, 0x63, 0x64, 0, 0], 4, (v, o, x, le) => v.setUint32(o, x, le), true),
      ),
      "y.npy": npy("|u1", [3], new Uint8Array([7, 8, 9])),
    };
    for (const level of [0, 6] as const) {
      it(`reads a ${level === 0 ? "stored" : "deflated"} .npz lazily`, () => {
        const file = path.join(tmp, `a${level}.npz`);
        fs.writeFileSync(file, zipSync(members, { level }));
        const z = NpzFile.open(file);
        assert.deepEqual(z.keys(), ["x", "names", "y"]);
        const d = z.describe("names");
        assert.equal(d.descr, "<U3");
        assert.deepEqual(d.shape, [2]);
        assert.equal(d.dataBytes, 24);
        assert.equal(d.compressed, level !== 0);
        assert.deepEqual(values(z.get("y")), [7, 8, 9]);
        z.close();
        const all = readNpz(file);
        assert.deepEqual(values(all.x), [1, 2, 3, 4]);
        assert.deepEqual(values(all.names), ["abc", "d"]);
      });
    }

    it("a corrupted member fails its CRC check; a missing member names the others", () => {
      const file = path.join(tmp, "crc.npz");
      const zip = zipSync({ "y.npy": members["y.npy"] }, { level: 0 });
      zip[zip.indexOf(0x07, 30 + "y.npy".length + 64)] = 0x17; // flip one data byte (the first value, 7)
      fs.writeFileSync(file, zip);
      const z = NpzFile.open(file);
      assert.throws(
        () => z.get("y"),
        (e: unknown) => e instanceof DataError && /CRC-32/.test(e.message),
      );
      assert.throws(
        () => z.get("q"),
        (e: unknown) => e instanceof DataError && /one of y/.test(e.message),
      );
      z.close();
    });

    it("a file that is not a zip is a DataError; readNpy reads a file from disk", () => {
      const file = path.join(tmp, "x.npy");
      fs.writeFileSync(file, members["x.npy"]);
      assert.deepEqual(values(readNpy(file)), [1, 2, 3, 4]);
      assert.throws(
        () => NpzFile.open(file),
        (e: unknown) => e instanceof DataError && /Not a zip archive/.test(e.message),
      );
      fs.writeFileSync(path.join(tmp, "cut.npz"), zipSync(members).subarray(0, 100));
      assert.throws(() => NpzFile.open(path.join(tmp, "cut.npz")), DataError);
    });
  });

  describe("shared MedMNIST-style archives", function () {
    before(function () {
      if (!hasShared()) this.skip();
    });
    // Sizes from shared/README.md and pbc_counts.json; pixel sums and label counts computed once with numpy.
    const cases = [
      {
        file: "pbc_28.npz",
        splits: [11685, 1669, 3338],
        image: [28, 28, 3],
        label: [1],
        sum0: 445307,
        counts: [818, 2147, 1051, 1991, 815, 959, 2295, 1609],
      },
      {
        file: "pneumoniamnist.npz",
        splits: [3882, 524, 624],
        image: [28, 28],
        label: [1],
        sum0: 120758,
        counts: [388, 3494],
      },
      { file: "breastmnist.npz", splits: [546, 78, 156], image: [28, 28], label: [], sum0: 79609, counts: [147, 399] },
    ];
    for (const c of cases) {
      it(`${c.file}: split sizes, shapes, dtypes and values`, () => {
        const d = readNpz(sharedPath("data", c.file));
        ["train", "val", "test"].forEach((split, i) => {
          const im = d[`${split}_images`];
          const lb = d[`${split}_labels`];
          assert.ok(im.kind === "numeric" && lb.kind === "numeric");
          assert.equal(im.tensor.dtype, "uint8");
          assert.deepEqual(im.tensor.shape, [c.splits[i], ...c.image]);
          assert.equal(lb.tensor.dtype, "uint8");
          assert.deepEqual(lb.tensor.shape, [c.splits[i], ...c.label]);
          assert.ok((lb.tensor.data as Uint8Array).every((v) => v < c.counts.length));
        });
        const im = d.train_images;
        const lb = d.train_labels;
        assert.ok(im.kind === "numeric" && lb.kind === "numeric");
        const per = c.image.reduce((a, b) => a * b, 1);
        assert.equal(
          (im.tensor.data as Uint8Array).subarray(0, per).reduce((a, b) => a + b, 0),
          c.sum0,
        );
        const counts = new Array(c.counts.length).fill(0);
        for (const v of lb.tensor.data as Uint8Array) counts[v]++;
        assert.deepEqual(counts, c.counts);
      });
    }

    it("pbc_28.npz: <U file names and classes match pbc_counts.json", () => {
      const meta = JSON.parse(fs.readFileSync(sharedPath("data", "pbc_counts.json"), "utf8")) as { classes: string[] };
      const z = NpzFile.open(sharedPath("data", "pbc_28.npz"));
      const classes = z.get("classes");
      assert.ok(classes.kind === "string");
      assert.deepEqual(classes.values, meta.classes);
      const files = z.get("train_files");
      const labels = z.get("train_labels");
      assert.ok(files.kind === "string" && labels.kind === "numeric");
      assert.deepEqual(files.shape, [11685]);
      // Each row's file name starts with its class folder.
      files.values.forEach((f, i) =>
        assert.ok(f.startsWith(`${meta.classes[(labels.tensor.data as Uint8Array)[i]]}/`), f),
      );
      z.close();
    });
  });
});
