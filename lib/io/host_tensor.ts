/**
 * Host-side tensors: plain typed arrays with a shape, independent of any tfjs backend.
 * Checkpoint converters are pure functions over these (`StateDict` → `StateDict`), like timm's checkpoint_filter_fn.
 */
import * as tf from "@tensorflow/tfjs";
import { ShapeError } from "../errors";

/** dtypes a host tensor can hold. int64 values are kept as BigInt64Array until converted. */
export type HostDType = "float32" | "float64" | "int32" | "int64" | "int16" | "int8" | "uint8" | "bool";

export type HostData = Float32Array | Float64Array | Int32Array | BigInt64Array | Int16Array | Int8Array | Uint8Array;

/** A tensor on the host: row-major (C order) data plus shape. */
export interface HostTensor {
  dtype: HostDType;
  shape: number[];
  data: HostData;
}

/** A state dict in PyTorch names and layouts, as read from a checkpoint. Insertion order is preserved. */
export type StateDict = Map<string, HostTensor>;

/** Number of elements of a shape. */
export function sizeOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Makes a host tensor, checking that data length equals the shape's size. */
export function hostTensor(data: HostData, shape: number[], dtype?: HostDType): HostTensor {
  const dt = dtype ?? inferDType(data);
  if (data.length !== sizeOf(shape)) {
    throw new ShapeError("Host tensor data length does not match its shape", {
      expected: `${sizeOf(shape)} elements for shape [${shape.join(", ")}]`,
      got: `${data.length}`,
    });
  }
  return { dtype: dt, shape: [...shape], data };
}

function inferDType(d: HostData): HostDType {
  if (d instanceof Float32Array) return "float32";
  if (d instanceof Float64Array) return "float64";
  if (d instanceof Int32Array) return "int32";
  if (d instanceof BigInt64Array) return "int64";
  if (d instanceof Int16Array) return "int16";
  if (d instanceof Int8Array) return "int8";
  return "uint8";
}

/**
 * Converts a host tensor to a tfjs tensor: floats become float32, integers int32 (int64 is range-checked), bool stays
 * bool. tfjs has no float64 or int64.
 */
export function toTensor(h: HostTensor, name = "tensor"): tf.Tensor {
  switch (h.dtype) {
    case "float32":
      return tf.tensor(h.data as Float32Array, h.shape, "float32");
    case "float64":
      return tf.tensor(Float32Array.from(h.data as Float64Array), h.shape, "float32");
    case "bool":
      return tf.tensor(h.data as Uint8Array, h.shape, "bool");
    case "int64": {
      const src = h.data as BigInt64Array;
      const out = new Int32Array(src.length);
      for (let i = 0; i < src.length; i++) {
        const v = src[i];
        if (v > 2147483647n || v < -2147483648n) {
          throw new ShapeError("int64 value does not fit in int32, which is the widest integer tfjs has", {
            where: `${name}[${i}]`,
            expected: "|value| < 2^31",
            got: v.toString(),
            fix: "convert the tensor to float or rescale it before loading",
          });
        }
        out[i] = Number(v);
      }
      return tf.tensor(out, h.shape, "int32");
    }
    default:
      return tf.tensor(Int32Array.from(h.data as ArrayLike<number>), h.shape, "int32");
  }
}

/** Reads a tfjs tensor back to the host (float32 / int32 / bool). */
export async function fromTensor(t: tf.Tensor): Promise<HostTensor> {
  const data = await t.data();
  const dtype: HostDType = t.dtype === "float32" ? "float32" : t.dtype === "bool" ? "bool" : "int32";
  const arr = t.dtype === "bool" ? Uint8Array.from(data as ArrayLike<number>) : (data as Float32Array | Int32Array);
  return { dtype, shape: [...t.shape], data: arr };
}

/** Whether the active backend can read tensors synchronously (webgpu in Node cannot: no OffscreenCanvas). */
export function syncReadsWork(): boolean {
  return tf.getBackend() !== "webgpu";
}

/** Synchronous variant of fromTensor (cpu/wasm/node only: webgpu cannot read synchronously in Node). */
export function fromTensorSync(t: tf.Tensor): HostTensor {
  const data = t.dataSync();
  const dtype: HostDType = t.dtype === "float32" ? "float32" : t.dtype === "bool" ? "bool" : "int32";
  const arr = t.dtype === "bool" ? Uint8Array.from(data as ArrayLike<number>) : (data as Float32Array | Int32Array);
  return { dtype, shape: [...t.shape], data: arr };
}
