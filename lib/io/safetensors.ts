/**
 * safetensors reading and writing. Reading is lazy (`SafetensorsFile`): only the header is parsed up front and each
 * tensor is read at its offset when asked for, so a 1.2 GB ViT-L checkpoint is never held twice in memory.
 * Writing is deterministic (tensors in name order by default, as the fixtures' writer did) and atomic.
 */
import * as fs from "node:fs";
import type * as tf from "@tensorflow/tfjs";
import { CheckpointError, ShapeError } from "../errors";
import { writeChunksAtomic } from "./atomic";
import { openForRead, readAt } from "./file_read";
import {
  bfloat16ToFloat32,
  float32ToBfloat16,
  float32ToHalf,
  halfToFloat32,
  HOST_LITTLE_ENDIAN,
  swapBytesInPlace,
} from "./float_bits";
import { sizeOf, toTensor, type HostData, type HostDType, type HostTensor, type StateDict } from "./host_tensor";
import {
  parseHeader,
  parseHeaderLength,
  SAFE_DTYPE_RANK,
  SAFE_DTYPES,
  shapeBytes,
  type SafeDType,
  type SafeHeader,
  type SafeTensorInfo,
} from "./safetensors_header";

export { SAFE_DTYPES, MAX_HEADER_BYTES, type SafeDType, type SafeTensorInfo } from "./safetensors_header";

/** A safetensors file opened for lazy reading. Call `close()` when done. */
export class SafetensorsFile {
  private fd: number | undefined;
  private readonly byName: Map<string, SafeTensorInfo>;

  private constructor(
    readonly path: string,
    fd: number,
    private readonly header: SafeHeader,
  ) {
    this.fd = fd;
    this.byName = new Map(header.tensors.map((t) => [t.name, t]));
  }

  /** Opens `path` and parses and validates its header; reads no tensor data. */
  static open(path: string): SafetensorsFile {
    const fd = openForRead(path, CheckpointError, "safetensors file");
    try {
      const size = fs.fstatSync(fd).size;
      const prefix = readAt(fd, 0, Math.min(8, size), path, CheckpointError);
      const n = parseHeaderLength(prefix, size, path);
      const header = parseHeader(readAt(fd, 8, n, path, CheckpointError), size, path);
      return new SafetensorsFile(path, fd, header);
    } catch (e) {
      fs.closeSync(fd);
      throw e;
    }
  }

  /** The `__metadata__` string map (empty when the file has none). */
  get metadata(): Record<string, string> {
    return { ...this.header.metadata };
  }

  /** Tensor names in file (data offset) order. */
  keys(): string[] {
    return this.header.tensors.map((t) => t.name);
  }

  /** Whether the file holds a tensor of this name. */
  has(name: string): boolean {
    return this.byName.has(name);
  }

  /** dtype, PyTorch shape and absolute byte range of one tensor. */
  info(name: string): SafeTensorInfo {
    const t = this.byName.get(name);
    if (t === undefined) {
      const keys = this.keys();
      throw new CheckpointError(`Tensor "${name}" is not in the checkpoint`, {
        where: this.path,
        expected: `one of ${keys.length} keys (${keys.slice(0, 5).join(", ")}${keys.length > 5 ? ", ..." : ""})`,
        got: JSON.stringify(name),
        fix: "check the key name and the checkpoint's naming scheme (timm, torchvision, HF)",
      });
    }
    return { ...t, shape: [...t.shape] };
  }

  /** Reads the raw little-endian bytes of one tensor. */
  readBytes(name: string): Uint8Array {
    const t = this.info(name);
    return readAt(this.requireFd(), t.begin, t.end - t.begin, this.path, CheckpointError);
  }

  /** Reads one tensor into a HostTensor (F16/BF16 widened to float32). */
  get(name: string): HostTensor {
    const t = this.info(name);
    return decodeTensor(this.readBytes(name), t.dtype, t.shape);
  }

  /** Releases the file descriptor; later reads throw. */
  close(): void {
    if (this.fd !== undefined) fs.closeSync(this.fd);
    this.fd = undefined;
  }

  private requireFd(): number {
    if (this.fd === undefined) {
      throw new CheckpointError("safetensors file is closed", {
        where: this.path,
        expected: "an open file",
        got: "closed",
        fix: "read tensors before calling close(), or open the file again",
      });
    }
    return this.fd;
  }
}

/** What `readSafetensors` returns: tensors in file order, metadata, and each tensor's on-disk dtype. */
export interface SafetensorsContents {
  tensors: StateDict;
  metadata: Record<string, string>;
  /** On-disk dtype per tensor; pass it back to `writeSafetensors` to write the same dtypes. */
  dtypes: Map<string, SafeDType>;
}

/** Reads every tensor of a safetensors file. */
export function readSafetensors(path: string): SafetensorsContents {
  const f = SafetensorsFile.open(path);
  try {
    const tensors: StateDict = new Map();
    const dtypes = new Map<string, SafeDType>();
    for (const name of f.keys()) {
      tensors.set(name, f.get(name));
      dtypes.set(name, f.info(name).dtype);
    }
    return { tensors, metadata: f.metadata, dtypes };
  } finally {
    f.close();
  }
}

/** Converts a state dict to tfjs tensors (floats → float32, ints → int32, range-checked). */
export function toTensors(sd: StateDict): Map<string, tf.Tensor> {
  const out = new Map<string, tf.Tensor>();
  for (const [name, h] of sd) out.set(name, toTensor(h, name));
  return out;
}

/** Tensor order in a written file: `name` (sorted by name, as older safetensors wrote, e.g. the fixtures) or
 * `alignment` (descending dtype rank then name, as safetensors >= 0.4 writes). */
export type SafetensorsOrder = "name" | "alignment";

export interface WriteSafetensorsOptions {
  /** `__metadata__` string map, written first with sorted keys. */
  metadata?: Record<string, string>;
  /** On-disk dtype per tensor name (e.g. `F16` for a float32 tensor); default follows the host dtype. */
  dtypes?: Map<string, SafeDType> | Record<string, SafeDType>;
  /** Default on-disk dtype for float32 tensors not listed in `dtypes` (`F32`, `F16` or `BF16`). */
  floatDType?: "F32" | "F16" | "BF16";
  order?: SafetensorsOrder;
}

/** Writes tensors to a safetensors file atomically; the same input always gives the same bytes. */
export function writeSafetensors(
  path: string,
  tensors: StateDict | Record<string, HostTensor>,
  options: WriteSafetensorsOptions = {},
): void {
  const entries = tensors instanceof Map ? [...tensors] : Object.entries(tensors);
  const plan = entries.map(([name, t]) => ({ name, t, dtype: chooseDType(name, t, options) }));
  const byName = (a: { name: string }, b: { name: string }) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
  if ((options.order ?? "name") === "alignment") {
    plan.sort((a, b) => SAFE_DTYPE_RANK[b.dtype] - SAFE_DTYPE_RANK[a.dtype] || byName(a, b));
  } else {
    plan.sort(byName);
  }
  for (let i = 1; i < plan.length; i++) {
    if (plan[i].name === plan[i - 1].name) {
      throw new CheckpointError("Duplicate tensor name", {
        where: path,
        expected: "unique names",
        got: JSON.stringify(plan[i].name),
        fix: "give each tensor a distinct name",
      });
    }
  }
  const header = encodeHeader(plan, options.metadata ?? {});
  function* chunks(): Generator<Uint8Array> {
    yield header;
    // One tensor at a time, so a converted (e.g. F16) copy exists for one tensor only.
    for (const p of plan) yield encodeTensor(p.t, p.dtype);
  }
  writeChunksAtomic(path, chunks());
}

function chooseDType(name: string, t: HostTensor, o: WriteSafetensorsOptions): SafeDType {
  if (t.data.length !== sizeOf(t.shape)) {
    throw new ShapeError("Tensor data length does not match its shape", {
      where: name,
      expected: `${sizeOf(t.shape)} elements for [${t.shape.join(", ")}]`,
      got: `${t.data.length}`,
      fix: "build host tensors with hostTensor(), which checks this",
    });
  }
  const asked = o.dtypes instanceof Map ? o.dtypes.get(name) : o.dtypes?.[name];
  const natural = NATURAL[t.dtype];
  const want = asked ?? (t.dtype === "float32" && o.floatDType ? o.floatDType : natural);
  const isFloat = t.dtype === "float32" || t.dtype === "float64";
  const ok = want === natural || (isFloat && (want === "F32" || want === "F16" || want === "BF16" || want === "F64"));
  if (!ok || !(want in SAFE_DTYPES)) {
    throw new CheckpointError("Cannot write this tensor with the requested dtype", {
      where: name,
      expected: isFloat ? "one of F64, F32, F16, BF16" : natural,
      got: `${String(want)} for a ${t.dtype} tensor`,
      fix: "convert the tensor first, or drop it from the dtypes option",
    });
  }
  return want;
}

const NATURAL: Record<HostDType, SafeDType> = {
  float32: "F32",
  float64: "F64",
  int64: "I64",
  int32: "I32",
  int16: "I16",
  int8: "I8",
  uint8: "U8",
  bool: "BOOL",
};

function encodeHeader(
  plan: { name: string; t: HostTensor; dtype: SafeDType }[],
  meta: Record<string, string>,
): Uint8Array {
  // Built by hand so field order and spacing match serde_json's compact output byte for byte.
  const parts: string[] = [];
  const metaKeys = Object.keys(meta).sort();
  if (metaKeys.length > 0) {
    for (const k of metaKeys) {
      if (typeof meta[k] !== "string") {
        throw new CheckpointError("safetensors metadata values must be strings", {
          where: `__metadata__.${k}`,
          expected: "a string",
          got: typeof meta[k],
          fix: "JSON.stringify the value before writing",
        });
      }
    }
    parts.push(`"__metadata__":{${metaKeys.map((k) => `${JSON.stringify(k)}:${JSON.stringify(meta[k])}`).join(",")}}`);
  }
  let offset = 0;
  for (const p of plan) {
    const n = shapeBytes(p.t.shape, p.dtype);
    parts.push(
      `${JSON.stringify(p.name)}:{"dtype":"${p.dtype}","shape":[${p.t.shape.join(",")}],"data_offsets":[${offset},${offset + n}]}`,
    );
    offset += n;
  }
  const json = Buffer.from(`{${parts.join(",")}}`, "utf8");
  const padded = Math.ceil(json.length / 8) * 8; // 8-byte alignment, padded with spaces like the Rust crate
  const out = new Uint8Array(8 + padded).fill(0x20, 8);
  new DataView(out.buffer).setBigUint64(0, BigInt(padded), true);
  out.set(json, 8);
  return out;
}

function encodeTensor(t: HostTensor, dtype: SafeDType): Uint8Array {
  let data: HostData | Uint16Array = t.data;
  if (dtype === "F16") data = float32ToHalf(t.data as Float32Array | Float64Array);
  else if (dtype === "BF16") data = float32ToBfloat16(t.data as Float32Array | Float64Array);
  else if (dtype === "F32" && t.dtype === "float64") data = Float32Array.from(t.data as Float64Array);
  else if (dtype === "F64" && t.dtype === "float32") data = Float64Array.from(t.data as Float32Array);
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (HOST_LITTLE_ENDIAN) return bytes;
  const copy = bytes.slice();
  swapBytesInPlace(copy, SAFE_DTYPES[dtype].size);
  return copy;
}

/** Decodes little-endian tensor bytes (a fresh, exclusively owned buffer) into a HostTensor. */
function decodeTensor(bytes: Uint8Array, dtype: SafeDType, shape: number[]): HostTensor {
  const size = SAFE_DTYPES[dtype].size;
  if (!HOST_LITTLE_ENDIAN) swapBytesInPlace(bytes, size);
  const buf = bytes.buffer as ArrayBuffer;
  const n = bytes.byteLength / size;
  const o = bytes.byteOffset;
  const host = SAFE_DTYPES[dtype].host;
  switch (dtype) {
    case "F64":
      return { dtype: host, shape, data: new Float64Array(buf, o, n) };
    case "F32":
      return { dtype: host, shape, data: new Float32Array(buf, o, n) };
    case "F16":
      return { dtype: host, shape, data: halfToFloat32(new Uint16Array(buf, o, n)) };
    case "BF16":
      return { dtype: host, shape, data: bfloat16ToFloat32(new Uint16Array(buf, o, n)) };
    case "I64":
      return { dtype: host, shape, data: new BigInt64Array(buf, o, n) };
    case "I32":
      return { dtype: host, shape, data: new Int32Array(buf, o, n) };
    case "I16":
      return { dtype: host, shape, data: new Int16Array(buf, o, n) };
    case "I8":
      return { dtype: host, shape, data: new Int8Array(buf, o, n) };
    case "U8":
    case "BOOL":
      return { dtype: host, shape, data: new Uint8Array(buf, o, n) };
  }
}
