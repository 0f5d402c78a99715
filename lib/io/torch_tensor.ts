/**
 * PyTorch storages and tensors as the restricted unpickler rebuilds them: a typed storage (raw bytes read lazily from
 * the checkpoint) plus offset, size and stride gives a contiguous C-order HostTensor. Views saved without
 * `.contiguous()` (a transposed weight, a strided slice, an expanded bias) are gathered element by element.
 */
import { CheckpointError } from "../errors";
import { bfloat16ToFloat32, halfToFloat32, swapBytesInPlace } from "./float_bits";
import { sizeOf, type HostDType, type HostTensor } from "./host_tensor";
import type { PyBuildable, PyValue } from "./torch_pickle";
import type { SafeDType } from "./safetensors_header";

/** The element types of the typed storages PyTorch pickles (torch.FloatStorage etc.). */
export interface TorchDTypeInfo {
  /** torch dtype name without the `torch.` prefix. */
  name: string;
  itemsize: number;
  /** HostTensor dtype (float16 / bfloat16 are widened to float32, as the safetensors reader does). */
  host: HostDType;
  /** safetensors dtype that keeps the values bit for bit. */
  safe: SafeDType;
}

/** Storage class name → element type, for every storage a state dict can hold that HostTensor can represent. */
export const TORCH_STORAGES: Readonly<Record<string, TorchDTypeInfo>> = {
  DoubleStorage: { name: "float64", itemsize: 8, host: "float64", safe: "F64" },
  FloatStorage: { name: "float32", itemsize: 4, host: "float32", safe: "F32" },
  HalfStorage: { name: "float16", itemsize: 2, host: "float32", safe: "F16" },
  BFloat16Storage: { name: "bfloat16", itemsize: 2, host: "float32", safe: "BF16" },
  LongStorage: { name: "int64", itemsize: 8, host: "int64", safe: "I64" },
  IntStorage: { name: "int32", itemsize: 4, host: "int32", safe: "I32" },
  ShortStorage: { name: "int16", itemsize: 2, host: "int16", safe: "I16" },
  CharStorage: { name: "int8", itemsize: 1, host: "int8", safe: "I8" },
  ByteStorage: { name: "uint8", itemsize: 1, host: "uint8", safe: "U8" },
  BoolStorage: { name: "bool", itemsize: 1, host: "bool", safe: "BOOL" },
};

/** The inert value GLOBAL `torch.FloatStorage` (etc.) resolves to: it only names an element type. */
export class TorchStorageType {
  constructor(
    readonly qualname: string,
    readonly dtype: TorchDTypeInfo,
  ) {}
}

/** A typed storage: `numel` elements whose bytes are read on first use and then shared by every view of it. */
export class TorchStorage {
  private bytes: Uint8Array | undefined;

  constructor(
    /** Storage key in the checkpoint (`archive/data/<key>`), for messages. */
    readonly key: string,
    readonly dtype: TorchDTypeInfo,
    readonly numel: number,
    private readonly load: () => Uint8Array,
    /** Whether the file's byte order differs from the host's. */
    private readonly swap: boolean,
  ) {}

  /** The storage's bytes in host byte order (read once). */
  data(): Uint8Array {
    if (this.bytes === undefined) {
      const b = this.load();
      const want = this.numel * this.dtype.itemsize;
      if (b.length < want) {
        throw new CheckpointError("Tensor storage is shorter than its declared size", {
          where: `storage ${this.key}`,
          expected: `${want} bytes (${this.numel} × ${this.dtype.name})`,
          got: `${b.length} bytes`,
          fix: "the checkpoint is truncated or corrupt; re-download or re-save it",
        });
      }
      if (this.swap) swapBytesInPlace(b, this.dtype.itemsize);
      this.bytes = b;
    }
    return this.bytes;
  }

  /** A view of `size` elements from element `offset` (legacy checkpoints' storage views). */
  view(key: string, offset: number, size: number): TorchStorage {
    return new TorchStorage(
      key,
      this.dtype,
      size,
      () => this.data().slice(offset * this.dtype.itemsize, (offset + size) * this.dtype.itemsize),
      false,
    );
  }
}

/** A tensor rebuilt from a checkpoint: C-order host data plus what PyTorch recorded about it. */
export class TorchTensor implements PyBuildable {
  /** Attributes a `_rebuild_parameter_with_state` / BUILD set (kept, not interpreted). */
  state: PyValue = null;

  constructor(
    readonly tensor: HostTensor,
    readonly dtype: TorchDTypeInfo,
    readonly requiresGrad: boolean,
    readonly isParameter: boolean,
  ) {}

  /** Records BUILD state (a Parameter's or tensor subclass's __dict__); it never runs code. */
  setState(state: PyValue): void {
    this.state = state;
  }

  /** The same tensor marked as an nn.Parameter. */
  asParameter(requiresGrad: boolean): TorchTensor {
    return new TorchTensor(this.tensor, this.dtype, requiresGrad, true);
  }
}

/** Gathers `size`/`stride` elements from `offset` of a storage into a contiguous C-order HostTensor. */
export function rebuildTensor(
  storage: TorchStorage,
  offset: number,
  size: number[],
  stride: number[],
  where: string,
): HostTensor {
  const bad = (what: string, expected: string, got: string) =>
    new CheckpointError(what, {
      where: `${where} (storage ${storage.key})`,
      expected,
      got,
      fix: "the checkpoint is corrupt; re-save it with torch.save(model.state_dict(), f)",
    });
  if (size.length !== stride.length) {
    throw bad("Tensor size and stride have different ranks", `${size.length} strides`, `${stride.length}`);
  }
  const n = sizeOf(size);
  const w = storage.dtype.itemsize;
  let last = offset;
  for (let d = 0; d < size.length; d++) {
    if (size[d] < 0 || stride[d] < 0) throw bad("Negative tensor size or stride", ">= 0", `[${size}] / [${stride}]`);
    if (size[d] > 0) last += (size[d] - 1) * stride[d];
  }
  if (n > 0 && (offset < 0 || last >= storage.numel)) {
    throw bad("Tensor view runs past the end of its storage", `elements < ${storage.numel}`, `element ${last}`);
  }
  const contiguous = isContiguous(size, stride);
  if (n > 0 && contiguous && offset === 0 && n === storage.numel && storage.data().byteOffset === 0) {
    // The usual state-dict case (one tensor per whole storage): share the bytes instead of copying a 1 GB model twice.
    const whole = storage.data();
    return { dtype: storage.dtype.host, shape: [...size], data: decode(whole.subarray(0, n * w), storage.dtype, n) };
  }
  const out = new Uint8Array(new ArrayBuffer(n * w));
  if (n > 0) {
    const src = storage.data();
    if (contiguous) out.set(src.subarray(offset * w, (offset + n) * w));
    else gather(src, out, w, offset, size, stride);
  }
  return { dtype: storage.dtype.host, shape: [...size], data: decode(out, storage.dtype, n) };
}

function isContiguous(size: number[], stride: number[]): boolean {
  let expect = 1;
  for (let d = size.length - 1; d >= 0; d--) {
    if (size[d] !== 1 && stride[d] !== expect) return false;
    expect *= size[d];
  }
  return true;
}

/** Strided copy in C order through element-width views, so float bit patterns (NaN payloads) are kept. */
function gather(src: Uint8Array, out: Uint8Array, w: number, offset: number, size: number[], stride: number[]): void {
  const view = (b: Uint8Array) =>
    w === 8
      ? new BigUint64Array(b.buffer, b.byteOffset, b.byteLength / 8)
      : w === 4
        ? new Uint32Array(b.buffer, b.byteOffset, b.byteLength / 4)
        : w === 2
          ? new Uint16Array(b.buffer, b.byteOffset, b.byteLength / 2)
          : b;
  // Storages and outputs are fresh buffers at byte offset 0, so these views are aligned.
  const s = view(src) as Uint32Array; // any of the views; elements are copied, never interpreted
  const o = view(out) as Uint32Array;
  const rank = size.length;
  const inner = size[rank - 1];
  const innerStride = stride[rank - 1];
  const idx = new Array<number>(rank).fill(0);
  let base = offset;
  for (let k = 0; k < o.length; k += inner) {
    for (let j = 0, p = base; j < inner; j++, p += innerStride) o[k + j] = s[p];
    // Advance the outer index like an odometer, keeping `base` = offset + Σ idx[d]·stride[d].
    for (let d = rank - 2; d >= 0; d--) {
      idx[d]++;
      base += stride[d];
      if (idx[d] < size[d]) break;
      base -= idx[d] * stride[d];
      idx[d] = 0;
    }
  }
}

/** Host-order bytes of `n` elements (at byte offset 0 of their buffer) → HostTensor data (f16 / bf16 widened). */
function decode(b: Uint8Array, dt: TorchDTypeInfo, n: number): HostTensor["data"] {
  const buf = b.buffer as ArrayBuffer;
  switch (dt.name) {
    case "float64":
      return new Float64Array(buf, 0, n);
    case "float32":
      return new Float32Array(buf, 0, n);
    case "float16":
      return halfToFloat32(new Uint16Array(buf, 0, n));
    case "bfloat16":
      return bfloat16ToFloat32(new Uint16Array(buf, 0, n));
    case "int64":
      return new BigInt64Array(buf, 0, n);
    case "int32":
      return new Int32Array(buf, 0, n);
    case "int16":
      return new Int16Array(buf, 0, n);
    case "int8":
      return new Int8Array(buf, 0, n);
    default:
      return b; // uint8, bool
  }
}
