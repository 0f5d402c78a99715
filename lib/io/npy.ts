/**
 * NumPy .npy reading (format versions 1.0, 2.0 and 3.0). Numeric arrays become HostTensors in C order; `<U`/`|S`
 * string arrays become string lists with a shape. Pickled object arrays are refused: unpickling can run arbitrary
 * code and needs Python's object model.
 */
import * as fs from "node:fs";
import { DataError } from "../errors";
import { openForRead, readAt, readWholeFile } from "./file_read";
import { halfToFloat32, HOST_LITTLE_ENDIAN, swapBytesInPlace } from "./float_bits";
import { sizeOf, type HostData, type HostDType, type HostTensor } from "./host_tensor";
import { isDict, isTuple, parsePyLiteral, PyLiteralSyntaxError, type PyLit } from "./py_literal";

/** A decoded .npy array: numeric data as a HostTensor, or strings with their shape (both in C order). */
export type NpyArray =
  | { kind: "numeric"; descr: string; tensor: HostTensor }
  | { kind: "string"; descr: string; shape: number[]; values: string[] };

/** The parsed .npy header. */
export interface NpyHeader {
  version: string;
  /** NumPy dtype string, e.g. `<f4`, `|u1`, `<U32`. */
  descr: string;
  fortranOrder: boolean;
  shape: number[];
  /** Offset of the first data byte. */
  dataOffset: number;
  /** Bytes per element. */
  itemSize: number;
  /** Total data bytes (elements × itemSize). */
  dataBytes: number;
}

/** The largest .npy header read, as numpy.load's default `max_header_size`. */
export const MAX_NPY_HEADER_BYTES = 10000;
/** The most elements a string (`<U`/`|S`) array may have: each becomes a JS string, whatever its stored width. */
export const MAX_NPY_STRING_ELEMENTS = 1 << 24;

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // "\x93NUMPY"

/** NumPy dtype kinds+sizes this reader understands, and the host dtype each becomes. */
const NUMERIC: Record<string, HostDType> = {
  b1: "bool",
  u1: "uint8",
  i1: "int8",
  i2: "int16",
  u2: "int32", // widened: tfjs and HostTensor have no uint16
  i4: "int32",
  i8: "int64",
  f2: "float32", // widened exactly
  f4: "float32",
  f8: "float64",
};

/** Human list of supported dtypes, for error messages. */
export const NPY_SUPPORTED =
  "bool (|b1), uint8, int8, int16, uint16, int32, int64, float16, float32, float64, unicode (<U), bytes (|S)";

/** How many leading bytes are enough to parse the header of a file with this prefix (needs ≥ 12 bytes). */
export function npyHeaderEnd(prefix: Uint8Array, where: string): number {
  checkMagic(prefix, where);
  const major = prefix[6];
  const view = new DataView(prefix.buffer, prefix.byteOffset, prefix.byteLength);
  if (major === 2 || major === 3) {
    const len = view.getUint32(8, true);
    if (len > MAX_NPY_HEADER_BYTES) {
      throw new DataError(".npy header is too large", {
        where: `${where}:8`,
        expected: `at most ${MAX_NPY_HEADER_BYTES} bytes (numpy.load's default max_header_size)`,
        got: `${len} bytes`,
        fix: "the header length field is corrupt; re-create the file with numpy.save",
      });
    }
    return 12 + len;
  }
  if (major === 1) return 10 + view.getUint16(8, true);
  throw new DataError("Unsupported .npy format version", {
    where: `${where}:6`,
    expected: "1.0, 2.0 or 3.0",
    got: `${major}.${prefix[7]}`,
    fix: "re-save the array with numpy.save (a current NumPy writes 1.0 when it can)",
  });
}

function checkMagic(b: Uint8Array, where: string): void {
  if (b.length < 10 || !MAGIC.every((m, i) => b[i] === m)) {
    const got = Buffer.from(b.subarray(0, 6)).toString("latin1");
    throw new DataError("Not a .npy file (bad magic)", {
      where: `${where}:0`,
      expected: '"\\x93NUMPY" followed by a version and header length',
      got: b.length < 10 ? `${b.length} bytes` : JSON.stringify(got),
      fix: "pass a file written by numpy.save / numpy.savez",
    });
  }
}

/** Parses the header of a .npy byte buffer (only the header bytes need to be present). */
export function parseNpyHeader(bytes: Uint8Array, where = "<npy>"): NpyHeader {
  const end = npyHeaderEnd(bytes, where);
  const version = `${bytes[6]}.${bytes[7]}`;
  if (bytes.length < end) {
    throw new DataError(".npy header is truncated", {
      where: `${where}:${bytes.length}`,
      expected: `${end} header bytes`,
      got: `${bytes.length} bytes`,
      fix: "the file is truncated; re-create it",
    });
  }
  const text = Buffer.from(bytes.subarray(bytes[6] === 1 ? 10 : 12, end)).toString(bytes[6] === 3 ? "utf8" : "latin1");
  const { descr, fortranOrder, shape } = headerDict(text, where);
  const itemSize = describeDType(descr, where).itemSize;
  return {
    version,
    descr,
    fortranOrder,
    shape,
    dataOffset: end,
    itemSize,
    dataBytes: checkedBytes(shape, itemSize, where),
  };
}

/** The header dict, checked as numpy does: a Python literal dict with exactly descr, fortran_order and shape. */
function headerDict(text: string, where: string): { descr: string; fortranOrder: boolean; shape: number[] } {
  const bad = (what: string, got: string) =>
    new DataError(what, {
      where: `${where}:header`,
      expected: "{'descr': <dtype str>, 'fortran_order': <bool>, 'shape': <tuple of int>} (a Python literal)",
      got,
      fix: "the header is corrupt; re-create the file with numpy.save",
    });
  let lit: PyLit;
  try {
    lit = parsePyLiteral(text);
  } catch (e) {
    if (!(e instanceof PyLiteralSyntaxError)) throw e;
    throw bad(
      ".npy header is not a valid Python literal",
      `${e.message}: ${JSON.stringify(text.trim().slice(0, 120))}`,
    );
  }
  if (!isDict(lit)) throw bad(".npy header is not a dict", JSON.stringify(text.trim().slice(0, 120)));
  const keys = [...lit.dict.keys()].map(String).sort();
  if (keys.join(",") !== "descr,fortran_order,shape") throw bad(".npy header has the wrong keys", keys.join(", "));
  const descr = lit.dict.get("descr")!;
  const fortran = lit.dict.get("fortran_order")!;
  const shape = lit.dict.get("shape")!;
  if (Array.isArray(descr)) {
    throw new DataError("Structured (record) .npy arrays are not supported", {
      where: `${where}:header.descr`,
      expected: "a simple dtype",
      got: text.trim().slice(0, 120),
      fix: "save each field as its own array",
    });
  }
  if (typeof descr !== "string") throw bad(".npy header 'descr' is not a string", JSON.stringify(descr));
  if (typeof fortran !== "boolean") throw bad(".npy header 'fortran_order' is not a bool", JSON.stringify(fortran));
  if (!isTuple(shape) || !shape.tuple.every((d) => typeof d === "number" && Number.isSafeInteger(d) && d >= 0)) {
    throw bad(".npy header 'shape' is not a tuple of non-negative integers", JSON.stringify(shape));
  }
  return { descr, fortranOrder: fortran, shape: shape.tuple as number[] };
}

/** elements × itemSize, refusing shapes whose size overflows (it is compared with the bytes present later). */
function checkedBytes(shape: readonly number[], itemSize: number, where: string): number {
  let n = 1;
  for (const d of shape) n *= d;
  if (!Number.isSafeInteger(n) || !Number.isSafeInteger(n * itemSize)) {
    throw new DataError(".npy shape is too large", {
      where: `${where}:header.shape`,
      expected: `an element count and byte size below 2**53`,
      got: `(${shape.join(", ")}) of ${itemSize}-byte items`,
      fix: "the header is corrupt; re-create the file",
    });
  }
  return n * itemSize;
}

interface DTypeInfo {
  kind: "numeric" | "unicode" | "bytes";
  itemSize: number;
  little: boolean;
  host?: HostDType;
  /** Bytes per stored scalar, used for byte swapping (4 for unicode). */
  unit: number;
}

function describeDType(descr: string, where: string): DTypeInfo {
  const m = /^([<>|=])([a-zA-Z])(\d*)$/.exec(descr); // object arrays are written as "|O", with no size
  const little = m ? m[1] === "<" || m[1] === "|" || (m[1] === "=" && HOST_LITTLE_ENDIAN) : true;
  if (m && m[3] !== "" && (m[2] === "U" || m[2] === "S")) {
    const n = Number(m[3]);
    if (!Number.isSafeInteger(4 * n)) {
      throw new DataError("Unsupported .npy dtype", {
        where: `${where}:header.descr`,
        expected: "a string width below 2**51",
        got: descr,
        fix: "the header is corrupt; re-create the file",
      });
    }
    return m[2] === "U"
      ? { kind: "unicode", itemSize: 4 * n, little, unit: 4 }
      : { kind: "bytes", itemSize: n, little, unit: 1 };
  }
  const key = m ? `${m[2]}${m[3]}` : "";
  if (m && key in NUMERIC)
    return { kind: "numeric", itemSize: Number(m[3]), little, host: NUMERIC[key], unit: Number(m[3]) };
  if (m && m[2] === "O") {
    throw new DataError("Pickled object arrays (dtype |O) are not supported", {
      where: `${where}:header.descr`,
      expected: NPY_SUPPORTED,
      got: descr,
      fix:
        "object arrays are stored as Python pickles, which can run arbitrary code and need Python to decode; " +
        "re-save them as a fixed-width string (arr.astype(str)) or numeric array",
    });
  }
  throw new DataError("Unsupported .npy dtype", {
    where: `${where}:header.descr`,
    expected: NPY_SUPPORTED,
    got: descr,
    fix: "convert the array in NumPy (e.g. arr.astype(np.float32)) and save it again",
  });
}

/** Decodes a whole .npy file held in memory. */
export function decodeNpy(bytes: Uint8Array, where = "<npy>"): NpyArray {
  const h = parseNpyHeader(bytes, where);
  const dt = describeDType(h.descr, where);
  if (bytes.length - h.dataOffset < h.dataBytes) {
    throw new DataError(".npy data is truncated", {
      where: `${where}:${bytes.length}`,
      expected: `${h.dataBytes} data bytes for ${h.descr} × (${h.shape.join(", ")})`,
      got: `${bytes.length - h.dataOffset} bytes`,
      fix: "the file is truncated; re-create or re-download it",
    });
  }
  // A fresh copy: aligned for typed-array views, safe to byte-swap, and independent of the caller's buffer.
  // (new Uint8Array(view) copies; Buffer#slice would not.)
  const data = new Uint8Array(bytes.subarray(h.dataOffset, h.dataOffset + h.dataBytes));
  if (dt.little !== HOST_LITTLE_ENDIAN) swapBytesInPlace(data, dt.unit);
  const n = sizeOf(h.shape);
  if (dt.kind !== "numeric") {
    if (n > MAX_NPY_STRING_ELEMENTS) {
      // Zero-width strings (|S0, <U0) take no data bytes, so only this bounds the list built from the shape.
      throw new DataError("Too many elements in a .npy string array", {
        where: `${where}:header.shape`,
        expected: `at most ${MAX_NPY_STRING_ELEMENTS} strings`,
        got: `${n} (${h.descr} × (${h.shape.join(", ")}))`,
        fix: "split the array, or store codes in a numeric array and the strings separately",
      });
    }
    const values = decodeStrings(data, n, dt, where);
    return {
      kind: "string",
      descr: h.descr,
      shape: h.shape,
      values: h.fortranOrder ? fortranToC(values, h.shape) : values,
    };
  }
  let arr = numericView(data, h.descr, n);
  if (h.fortranOrder) arr = fortranToC(arr, h.shape);
  return { kind: "numeric", descr: h.descr, tensor: { dtype: dt.host as HostDType, shape: h.shape, data: arr } };
}

function numericView(data: Uint8Array, descr: string, n: number): HostData {
  const buf = data.buffer as ArrayBuffer;
  const kind = descr.slice(1);
  switch (kind) {
    case "f2":
      return halfToFloat32(new Uint16Array(buf, 0, n));
    case "u2":
      return Int32Array.from(new Uint16Array(buf, 0, n));
    case "f4":
      return new Float32Array(buf, 0, n);
    case "f8":
      return new Float64Array(buf, 0, n);
    case "i8":
      return new BigInt64Array(buf, 0, n);
    case "i4":
      return new Int32Array(buf, 0, n);
    case "i2":
      return new Int16Array(buf, 0, n);
    case "i1":
      return new Int8Array(buf, 0, n);
    default:
      return new Uint8Array(buf, 0, n); // u1 and b1
  }
}

function decodeStrings(data: Uint8Array, n: number, dt: DTypeInfo, where: string): string[] {
  const out: string[] = new Array(n);
  if (dt.kind === "bytes") {
    for (let i = 0; i < n; i++) {
      let end = (i + 1) * dt.itemSize;
      while (end > i * dt.itemSize && data[end - 1] === 0) end--; // NumPy strips trailing NULs
      out[i] = Buffer.from(data.subarray(i * dt.itemSize, end)).toString("latin1");
    }
    return out;
  }
  const chars = dt.itemSize / 4;
  const cps = new Uint32Array(data.buffer, 0, n * chars);
  for (let i = 0; i < n; i++) {
    let end = (i + 1) * chars;
    while (end > i * chars && cps[end - 1] === 0) end--;
    let s = "";
    for (let j = i * chars; j < end; j++) {
      if (cps[j] > 0x10ffff) {
        throw new DataError("Invalid character in a .npy unicode array", {
          where: `${where}[${i}]`,
          expected: "UTF-32 code points up to 0x10FFFF",
          got: `0x${cps[j].toString(16)}`,
          fix: "the data are corrupt; re-create the file",
        });
      }
      s += String.fromCodePoint(cps[j]);
    }
    out[i] = s;
  }
  return out;
}

/** Reorders a column-major (Fortran) array of this shape into row-major (C) order. */
export function fortranToC<T extends HostData | string[]>(src: T, shape: readonly number[]): T {
  const nd = shape.length;
  const n = sizeOf(shape);
  if (nd <= 1 || n === 0) return src;
  const out = (Array.isArray(src) ? new Array(n) : new (src.constructor as new (len: number) => HostData)(n)) as T;
  const fStride: number[] = [];
  for (let d = 0, s = 1; d < nd; d++) {
    fStride.push(s);
    s *= shape[d];
  }
  const idx = new Array<number>(nd).fill(0);
  let f = 0;
  for (let i = 0; i < n; i++) {
    (out as unknown as unknown[])[i] = (src as unknown as unknown[])[f];
    for (let d = nd - 1; d >= 0; d--) {
      idx[d]++;
      f += fStride[d];
      if (idx[d] < shape[d]) break;
      f -= shape[d] * fStride[d];
      idx[d] = 0;
    }
  }
  return out;
}

/** Reads only the header of a .npy file on disk. */
export function readNpyHeader(path: string): NpyHeader {
  const fd = openForRead(path, DataError, ".npy file");
  try {
    const size = fs.fstatSync(fd).size;
    const end = Math.min(size, npyHeaderEnd(readAt(fd, 0, Math.min(size, 12), path, DataError), path));
    return parseNpyHeader(readAt(fd, 0, end, path, DataError), path);
  } finally {
    fs.closeSync(fd);
  }
}

/** Reads a .npy file. */
export function readNpy(path: string): NpyArray {
  return decodeNpy(readWholeFile(path, DataError, ".npy file"), path);
}

const NAMES: Record<string, string> = {
  b1: "bool",
  u1: "uint8",
  i1: "int8",
  i2: "int16",
  u2: "uint16",
  i4: "int32",
  i8: "int64",
  f2: "float16",
  f4: "float32",
  f8: "float64",
};

/** NumPy's name for a descr (`<f4` → `float32`); string dtypes keep their descr (`<U32`). */
export function npyDTypeName(descr: string): string {
  return NAMES[descr.slice(1)] ?? descr;
}

/** Bytes per element, and whether the dtype is a string type, for a NumPy descr (throws on unsupported ones). */
export function npyDTypeInfo(descr: string): { itemSize: number; isString: boolean } {
  const d = describeDType(descr, "<descr>");
  return { itemSize: d.itemSize, isString: d.kind !== "numeric" };
}
