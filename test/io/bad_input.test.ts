import { strict as assert } from "node:assert";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { zipSync } from "fflate";
import { cli } from "../helpers/cli";
import { CheckpointError, DataError, PeftlabError } from "../../lib/errors";
import { decodeNpy, readNpy, readNpyHeader } from "../../lib/io/npy";
import { NpzFile, readNpz } from "../../lib/io/npz";
import { SafetensorsFile } from "../../lib/io/safetensors";
import { readTorchCheckpoint } from "../../lib/io/torch_checkpoint";
import { crc32 } from "../../lib/io/zip";
import { npyBytes } from "../fuzz/targets";

/**
 * Regressions from the fuzz run in issue 19: paths that are not files, npy string arrays sized by untrusted input,
 * and corrupt files that numpy rejects (zip CRCs, npy header dicts).
 */
const TORCH = path.join(__dirname, "..", "fixtures", "torch");
let tmp: string;
before(() => (tmp = fs.mkdtempSync(path.join(os.tmpdir(), "peftlab-bad-"))));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** A path of each non-file kind, named with `ext` so readers dispatch on it. */
function nonFile(kind: "directory" | "fifo" | "missing", ext: string): string {
  const p = path.join(tmp, `${kind}-${Math.random().toString(36).slice(2)}${ext}`);
  if (kind === "directory") fs.mkdirSync(p);
  if (kind === "fifo") execFileSync("mkfifo", [p]);
  return p;
}

describe("io: paths that are not readable files give a typed error naming the path", () => {
  const readers: [string, string, typeof DataError | typeof CheckpointError, (p: string) => unknown][] = [
    ["readNpy", ".npy", DataError, readNpy],
    ["readNpyHeader", ".npy", DataError, readNpyHeader],
    ["readNpz", ".npz", DataError, readNpz],
    ["NpzFile.open", ".npz", DataError, (p) => NpzFile.open(p)],
    ["SafetensorsFile.open", ".safetensors", CheckpointError, (p) => SafetensorsFile.open(p)],
    ["readTorchCheckpoint", ".pt", CheckpointError, readTorchCheckpoint],
  ];
  for (const kind of ["directory", "fifo", "missing"] as const) {
    for (const [name, ext, Err, read] of readers) {
      it(`${name} on a ${kind}`, () => {
        const p = nonFile(kind, ext);
        assert.throws(
          () => read(p),
          (e: unknown) => e instanceof Err && (e as PeftlabError).where === p,
        );
      });
    }
  }
  it("a directory names its kind and how to fix it", () => {
    const p = nonFile("directory", ".npz");
    assert.throws(
      () => readNpz(p),
      /not a file; at .*; expected a regular zip archive, got a directory.*inside the folder/,
    );
  });
  it("an unreadable file (mode 000) names the path and EACCES", function () {
    if (process.getuid?.() === 0) this.skip(); // root reads any file: the case cannot arise
    const p = path.join(tmp, "locked.npy");
    fs.writeFileSync(p, npyBytes("|u1", [1], new Uint8Array([1])));
    fs.chmodSync(p, 0);
    assert.throws(
      () => readNpy(p),
      (e: unknown) => e instanceof DataError && e.got === "EACCES" && e.where === p,
    );
  });
  for (const [argv, ext] of [
    [["inspect"], ".safetensors"],
    [["inspect"], ".npz"],
    [["inspect"], ".npy"],
    [["weights", "convert"], ".pt"],
  ] as const) {
    it(`peftlab ${argv.join(" ")} on a directory named *${ext}: exit 2 and a one-line error naming it`, async () => {
      const p = nonFile("directory", ext);
      const r = await cli(...argv, p, ...(argv[0] === "weights" ? [path.join(tmp, "o.safetensors")] : []));
      assert.equal(r.code, 2, r.err);
      assert.match(r.err, /^error: Cannot read .*: the path is not a file; at .*directory-.*got a directory/);
      assert.ok(!/EISDIR|at readAt|\n\s+at /.test(r.err), r.err);
    });
  }
});

describe("io/npy: string arrays are not sized by untrusted shapes", () => {
  it("|S0 with shape (2**40, 2**40) is a DataError, not a RangeError", () => {
    const b = npyBytes("|S0", [2 ** 40, 2 ** 40], new Uint8Array(0));
    assert.throws(
      () => decodeNpy(b, "s0.npy"),
      (e: unknown) => e instanceof DataError && /too large|Too many/.test(e.message),
    );
  });
  it("|S0 with shape (100000000,) (a 128-byte file) is refused before building 1e8 strings", async () => {
    const b = npyBytes("|S0", [100_000_000], new Uint8Array(0));
    assert.ok(b.length <= 256);
    const f = path.join(tmp, "s0.npy");
    fs.writeFileSync(f, b);
    const before = process.memoryUsage().heapUsed;
    assert.throws(
      () => readNpy(f),
      /Too many elements in a \.npy string array.*at most 16777216 strings, got 100000000/,
    );
    assert.ok(process.memoryUsage().heapUsed - before < 64 << 20, "no large allocation happened");
    const r = await cli("inspect", f);
    assert.equal(r.code, 2);
    assert.match(r.err, /^error: Too many elements/);
  });
  it("|S0 within the bound still reads (numpy accepts zero-width strings)", () => {
    const a = decodeNpy(npyBytes("|S0", [3], new Uint8Array(0)));
    assert.deepEqual(a.kind === "string" && a.values, ["", "", ""]);
  });
  it("<U with 0xFF bytes (code point 0xFFFFFFFF) is a DataError naming the element", () => {
    const b = npyBytes("<U2", [2], new Uint8Array(16).fill(0xff));
    assert.throws(
      () => decodeNpy(b, "u.npy"),
      (e: unknown) => e instanceof DataError && e.where === "u.npy[0]" && e.got === "0xffffffff",
    );
  });
});

/** numpy's header dict, with its text edited; numpy.load rejects each "reject" case (checked with numpy 2.4). */
const BASE = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
const f4 = new Uint8Array(new Float32Array([0, 1, 2, 3, 4, 5]).buffer);
function npyWithDict(dict: string): Uint8Array {
  const b = npyBytes("<f4", [2, 3], f4);
  const text = Buffer.from(b.subarray(10, 10 + new DataView(b.buffer).getUint16(8, true))).toString("latin1");
  const edited = dict.padEnd(text.length - 1, " ") + "\n";
  assert.equal(edited.length, text.length);
  const out = new Uint8Array(b);
  out.set(Buffer.from(edited, "latin1"), 10);
  return out;
}

describe("io/npy: the header must be the Python literal dict numpy writes", () => {
  const reject: [string, string, RegExp][] = [
    ["bit flip 0x7b→0x79: '{' becomes 'y'", "y" + BASE.slice(1), /not a valid Python literal/],
    ["bit flip 0x2c→0x2d: ',' becomes '-'", BASE.replace("False,", "False-"), /not a valid Python literal/],
    ["':' becomes ';'", BASE.replace("'shape':", "'shape';"), /not a valid Python literal/],
    ["an extra key", BASE.replace("}", "'x': 1}"), /wrong keys.*descr, fortran_order, shape, x/],
    ["a missing key", "{'descr': '<f4', 'shape': (2, 3), }", /wrong keys/],
    ["fortran_order 1", BASE.replace("False", "1"), /'fortran_order' is not a bool/],
    ["shape 6 (not a tuple)", BASE.replace("(2, 3)", "6"), /'shape' is not a tuple/],
    ["negative dimension", BASE.replace("(2, 3)", "(-2, 3)"), /'shape' is not a tuple of non-negative/],
    ["text after the dict", BASE + " 1", /trailing characters/],
  ];
  for (const [name, dict, want] of reject) {
    it(`rejects ${name}`, () => {
      assert.throws(
        () => decodeNpy(npyWithDict(dict), "h.npy"),
        (e: unknown) => e instanceof DataError && want.test(e.message),
      );
    });
  }
  const accept: [string, string][] = [
    ["numpy's own header", BASE],
    ["a duplicate key (the last wins, as in Python)", BASE.replace("{", "{'descr': '<i4', ")],
    ["Python 2 long suffixes", BASE.replace("(2, 3)", "(2L, 3L)")],
    ["double-quoted keys", BASE.replace("'descr'", '"descr"')],
  ];
  for (const [name, dict] of accept) {
    it(`accepts ${name}, as numpy does`, () => {
      const a = decodeNpy(npyWithDict(dict));
      assert.ok(a.kind === "numeric");
      assert.deepEqual([...(a.tensor.data as Float32Array)], [0, 1, 2, 3, 4, 5]);
    });
  }
  it("a v2 header length over numpy's max_header_size (10000) is refused before it is read", () => {
    const b = new Uint8Array(npyBytes("<f4", [2, 3], f4));
    b[6] = 2;
    new DataView(b.buffer).setUint32(8, 0xffffffff, true);
    assert.throws(() => decodeNpy(b), /header is too large.*at most 10000 bytes/);
  });
});

/** Offsets of every record with this signature. */
function records(b: Uint8Array, sig: number): number[] {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const at: number[] = [];
  for (let i = 0; i + 4 <= b.length; i++) if (v.getUint32(i, true) === sig) at.push(i);
  return at;
}
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;

describe("io/zip: CRC-32 and sizes are checked against the central directory and the local header", () => {
  const member = npyBytes("<f4", [2, 3], f4);
  const archive = (level: 0 | 6) => new Uint8Array(zipSync({ "a.npy": member }, { level }));
  const write = (b: Uint8Array) => {
    const f = path.join(tmp, `z-${Math.random().toString(36).slice(2)}.npz`);
    fs.writeFileSync(f, b);
    return f;
  };

  it("a deflated member whose data fail their CRC-32 (both headers agree) is a DataError", () => {
    const z = archive(6);
    const wrong = (crc32(member) ^ 1) >>> 0;
    for (const [sig, off] of [
      [CENTRAL, 16],
      [LOCAL, 14],
    ] as const) {
      new DataView(z.buffer).setUint32(records(z, sig)[0] + off, wrong, true);
    }
    const f = write(z);
    assert.throws(
      () => readNpz(f),
      (e: unknown) => e instanceof DataError && /fails its CRC-32 check/.test(e.message),
    );
    // The header alone (inspect) still reads: the CRC covers the whole member.
    const n = NpzFile.open(f);
    assert.deepEqual(n.describe("a").shape, [2, 3]);
    n.close();
  });
  for (const [field, off, cdOff] of [
    ["CRC-32", 14, 16],
    ["compressed size", 18, 20],
    ["size", 22, 24],
    ["compression method", 8, 10],
  ] as const) {
    it(`a local header whose ${field} differs from the central directory is a DataError`, () => {
      const z = archive(0);
      const v = new DataView(z.buffer);
      const lh = records(z, LOCAL)[0];
      if (field === "compression method") v.setUint16(lh + off, 8, true);
      else v.setUint32(lh + off, v.getUint32(records(z, CENTRAL)[0] + cdOff, true) + 1, true);
      const f = write(z);
      assert.throws(
        () => readNpz(f),
        (e: unknown) => e instanceof DataError && e.message.includes(`disagrees with the central directory (${field})`),
      );
    });
  }
  it("a central-directory size beyond deflate's 1032:1 limit is refused before allocating", () => {
    const z = archive(6);
    const v = new DataView(z.buffer);
    v.setUint32(records(z, CENTRAL)[0] + 24, 0xfffffff0, true);
    v.setUint32(records(z, LOCAL)[0] + 22, 0xfffffff0, true);
    assert.throws(() => readNpz(write(z)), /size is impossible for its compressed size/);
  });
  it("the same corruption in a PyTorch zip checkpoint is a CheckpointError", () => {
    const z = new Uint8Array(fs.readFileSync(path.join(TORCH, "dtypes.pt")));
    const v = new DataView(z.buffer);
    // The central record of <name>/data.pkl (its name follows the 46-byte fixed part).
    const cd = records(z, CENTRAL).find((at) =>
      Buffer.from(z.subarray(at + 46, at + 46 + v.getUint16(at + 28, true)))
        .toString("latin1")
        .endsWith("/data.pkl"),
    )!;
    v.setUint32(cd + 16, (v.getUint32(cd + 16, true) ^ 0x10) >>> 0, true);
    const f = path.join(tmp, "crc.pt");
    fs.writeFileSync(f, z);
    assert.throws(
      () => readTorchCheckpoint(f),
      (e: unknown) => e instanceof CheckpointError && /CRC-32/.test(e.message),
    );
  });
});
