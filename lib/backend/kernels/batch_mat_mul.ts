/**
 * wasm `BatchMatMul` on peftlab's packed SIMD GEMM for every layout (transposed, batched, broadcast), instead of
 * tfjs's scalar loop for all but the 2D untransposed case. Attention (q·kᵀ, p·v) and every matmul backward pass land here.
 */
import * as tf from "@tensorflow/tfjs";
import { asWasm } from "./wasm_gemm";
import { wasmMatMul } from "./wasm_mat_mul";

interface Args {
  inputs: { a: tf.TensorInfo; b: tf.TensorInfo };
  backend: unknown;
  attrs?: { transposeA?: boolean; transposeB?: boolean };
}

function batchMatMul(args: Args): tf.TensorInfo {
  const { a, b } = args.inputs;
  const attrs = args.attrs ?? {};
  return wasmMatMul(asWasm(args.backend, "BatchMatMul"), {
    a,
    b,
    transposeA: !!attrs.transposeA,
    transposeB: !!attrs.transposeB,
    kernel: "BatchMatMul",
  });
}

/** KernelConfig replacing tfjs-backend-wasm's BatchMatMul. */
export const batchMatMulConfig: tf.KernelConfig = {
  kernelName: tf.BatchMatMul,
  backendName: "wasm",
  kernelFunc: batchMatMul as unknown as tf.KernelFunc,
};
