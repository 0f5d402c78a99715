/**
 * The safetensors header: dtype table, parsing and validation. A file is
 * `u64 little-endian N` + `N bytes of JSON` + a data buffer whose tensors are contiguous, in offset order, with no gaps.
 * Validation follows the Rust crate (huggingface/safetensors) so that anything it rejects we reject too, with a message
 * that says where and how to fix it.
 */
import { CheckpointError } from "../errors";
import type { HostDType } from "./host_tensor";

/** safetensors dtypes peftlab reads. F16 and BF16 are widened to float32 on read. */
export type SafeDType = "F64" | "F32" | "F16" | "BF16" | "I64" | "I32" | "I16" | "I8" | "U8" | "BOOL";

/** Bytes per element and the host dtype each safetensors dtype becomes. */
export const SAFE_DTYPES: Readonly<Record<SafeDType, { size: number; host: HostDType }>> = {
  F64: { size: 8, host: "float64" },
  F32: { size: 4, host: "float32" },
  F16: { size: 2, host: "float32" },
  BF16: { size: 2, host: "float32" },
  I64: { size: 8, host: "int64" },
  I32: { size: 4, host: "int32" },
  I16: { size: 2, host: "int16" },
  I8: { size: 1, host: "int8" },
  U8: { size: 1, host: "uint8" },
  BOOL: { size: 1, host: "bool" },
};

/** Rank of each dtype in the Rust crate's `Dtype` enum; its writer orders tensors by descending rank, then name. */
export const SAFE_DTYPE_RANK: Readonly<Record<SafeDType, number>> = {
  BOOL: 0,
  U8: 1,
  I8: 2,
  I16: 3,
  F16: 4,
  BF16: 5,
  I32: 6,
  F32: 7,
  F64: 8,
  I64: 9,
};

/** The Rust crate refuses headers above 100 MB; so do we (a real header is a few hundred KB at most). */
export const MAX_HEADER_BYTES = 100_000_000;

/** One tensor's entry in the header; `begin`/`end` are absolute byte offsets in the file. */
export interface SafeTensorInfo {
  name: string;
  dtype: SafeDType;
  /** PyTorch shape as stored. */
  shape: number[];
  begin: number;
  end: number;
}

/** A parsed, validated header. `tensors` are in data (offset) order. */
export interface SafeHeader {
  headerBytes: number;
  dataStart: number;
  tensors: SafeTensorInfo[];
  metadata: Record<string, string>;
}

const FIX_CORRUPT = "the file is corrupt or truncated; re-download or re-export it (safetensors.torch.save_file)";

function fail(what: string, where: string, expected: string, got: string, fix = FIX_CORRUPT): never {
  throw new CheckpointError(what, { where, expected, got, fix });
}

/** Reads the 8-byte header length and checks it against the file size and the 100 MB cap. */
export function parseHeaderLength(prefix: Uint8Array, fileSize: number, file: string): number {
  if (fileSize < 8) {
    fail("safetensors file is shorter than its 8-byte header length", `${file}:0`, ">= 8 bytes", `${fileSize} bytes`);
  }
  const n = new DataView(prefix.buffer, prefix.byteOffset, 8).getBigUint64(0, true);
  if (n > BigInt(MAX_HEADER_BYTES)) {
    fail("safetensors header length is implausibly large", `${file}:0`, `<= ${MAX_HEADER_BYTES} bytes`, `${n} bytes`);
  }
  if (n < 2n) fail("safetensors header is too short to hold a JSON object", `${file}:0`, ">= 2 bytes", `${n} bytes`);
  if (Number(n) + 8 > fileSize) {
    fail(
      "safetensors header runs past the end of the file",
      `${file}:8`,
      `8 + header length (${n}) <= file size`,
      `file size ${fileSize}`,
    );
  }
  return Number(n);
}

/** Parses and validates the JSON header bytes (everything after the 8-byte length). */
export function parseHeader(json: Uint8Array, fileSize: number, file: string): SafeHeader {
  const dataStart = 8 + json.length;
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(json);
  } catch {
    fail("safetensors header is not valid UTF-8", `${file}:8`, "UTF-8 JSON", "invalid byte sequence");
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    fail("safetensors header is not valid JSON", `${file}:8`, "a JSON object", (e as Error).message);
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
    fail(
      "safetensors header is not a JSON object",
      `${file}:8`,
      "{name: {dtype, shape, data_offsets}}",
      typeName(parsed),
    );
  }
  const obj = parsed as Record<string, unknown>;
  const metadata = parseMetadata(obj.__metadata__, file);
  const tensors: SafeTensorInfo[] = [];
  for (const [name, entry] of Object.entries(obj)) {
    if (name === "__metadata__") continue;
    tensors.push(parseEntry(name, entry, dataStart, file));
  }
  tensors.sort((a, b) => a.begin - b.begin || a.end - b.end);
  checkContiguous(tensors, dataStart, fileSize, file);
  return { headerBytes: json.length, dataStart, tensors, metadata };
}

function parseMetadata(m: unknown, file: string): Record<string, string> {
  if (m === undefined) return {};
  const where = `${file}:8 (__metadata__)`;
  if (m === null || typeof m !== "object" || Array.isArray(m)) {
    fail("safetensors __metadata__ is not an object", where, "an object of string values", typeName(m));
  }
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(m as Record<string, unknown>)) {
    if (typeof v !== "string") {
      fail("safetensors __metadata__ values must be strings", `${where}.${k}`, "a string", typeName(v));
    }
    out[k] = v;
  }
  return out;
}

function parseEntry(name: string, entry: unknown, dataStart: number, file: string): SafeTensorInfo {
  const where = `${file}:8 (${name})`;
  if (entry === null || typeof entry !== "object" || Array.isArray(entry)) {
    fail("safetensors header entry is not an object", where, "{dtype, shape, data_offsets}", typeName(entry));
  }
  const e = entry as Record<string, unknown>;
  const dtype = e.dtype;
  if (typeof dtype !== "string" || !(dtype in SAFE_DTYPES)) {
    fail(
      "unsupported safetensors dtype",
      `${where}.dtype`,
      `one of ${Object.keys(SAFE_DTYPES).join(", ")}`,
      JSON.stringify(dtype),
      "convert the checkpoint to a supported dtype (e.g. tensor.float() in PyTorch) and save it again",
    );
  }
  const shape = e.shape;
  if (!Array.isArray(shape) || !shape.every(isCount)) {
    fail("safetensors shape is not a list of non-negative integers", `${where}.shape`, "[d0, d1, ...]", show(shape));
  }
  const offs = e.data_offsets;
  if (!Array.isArray(offs) || offs.length !== 2 || !offs.every(isCount) || offs[0] > offs[1]) {
    fail(
      "safetensors data_offsets are invalid",
      `${where}.data_offsets`,
      "[begin, end] with 0 <= begin <= end",
      show(offs),
    );
  }
  const info: SafeTensorInfo = {
    name,
    dtype: dtype as SafeDType,
    shape: [...(shape as number[])],
    begin: dataStart + (offs[0] as number),
    end: dataStart + (offs[1] as number),
  };
  const want = shapeBytes(info.shape, info.dtype);
  if (want !== info.end - info.begin) {
    fail(
      "safetensors tensor byte size does not match its dtype and shape",
      `${file}:${info.begin} (${name})`,
      `${want} bytes (${info.dtype} × [${info.shape.join(", ")}])`,
      `${info.end - info.begin} bytes (data_offsets ${show(offs)})`,
    );
  }
  return info;
}

function checkContiguous(tensors: SafeTensorInfo[], dataStart: number, fileSize: number, file: string): void {
  let pos = dataStart;
  for (const t of tensors) {
    if (t.begin !== pos) {
      const what = t.begin > pos ? "a gap" : "an overlap";
      fail(
        `safetensors tensor data has ${what} before this tensor`,
        `${file}:${t.begin} (${t.name})`,
        `data_offsets starting at ${pos - dataStart} (contiguous, sorted, no gaps or overlaps)`,
        `starting at ${t.begin - dataStart}`,
      );
    }
    pos = t.end;
  }
  if (pos > fileSize) {
    const last = tensors[tensors.length - 1];
    fail(
      "safetensors file is truncated: tensor data runs past the end of the file",
      `${file}:${fileSize}${last ? ` (${last.name})` : ""}`,
      `file size ${pos} bytes`,
      `${fileSize} bytes`,
    );
  }
  if (pos < fileSize) {
    fail(
      "safetensors file has trailing bytes after the last tensor",
      `${file}:${pos}`,
      `file size ${pos} bytes`,
      `${fileSize} bytes`,
    );
  }
}

/** Bytes a tensor of this shape and dtype occupies. */
export function shapeBytes(shape: readonly number[], dtype: SafeDType): number {
  return shape.reduce((a, b) => a * b, 1) * SAFE_DTYPES[dtype].size;
}

function isCount(v: unknown): v is number {
  return typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
}

function typeName(v: unknown): string {
  return v === null ? "null" : Array.isArray(v) ? "an array" : typeof v;
}

function show(v: unknown): string {
  const s = JSON.stringify(v);
  return s === undefined ? "undefined" : s.length > 80 ? `${s.slice(0, 77)}...` : s;
}
