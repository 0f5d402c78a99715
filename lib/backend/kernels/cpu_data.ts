/**
 * Access to tfjs-backend-cpu's tensor storage for peftlab's cpu kernels (not a kernel itself).
 */
import * as tf from "@tensorflow/tfjs";
import { BackendError } from "../../errors";

/** The parts of tfjs-backend-cpu's MathBackendCPU that the cpu kernels use. */
export interface CpuBackend {
  data: { get(dataId: object): { values?: tf.backend_util.BackendValues } };
  makeTensorInfo(shape: number[], dtype: tf.DataType, values?: tf.backend_util.BackendValues): tf.TensorInfo;
}

/** Checks that `backend` is tfjs's cpu backend and returns it typed. */
export function asCpu(backend: unknown, where: string): CpuBackend {
  const b = backend as Partial<CpuBackend>;
  if (!b || typeof b.makeTensorInfo !== "function" || !b.data) {
    throw new BackendError("peftlab's cpu kernel ran on a backend that is not tfjs-backend-cpu", {
      where,
      expected: "MathBackendCPU",
      got: String((backend as object | undefined)?.constructor?.name),
      fix: "register the override only for the 'cpu' backend",
    });
  }
  return backend as CpuBackend;
}

/** The float32 values of a cpu tensor (as a Float32Array, converting other dtypes). */
export function valuesOf(b: CpuBackend, t: tf.TensorInfo): Float32Array {
  const v = b.data.get(t.dataId).values;
  return v instanceof Float32Array ? v : Float32Array.from(v as ArrayLike<number>);
}
