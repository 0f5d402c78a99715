/**
 * wasm `_FusedMatMul` (what Dense layers and tf.fused.matMul call) on peftlab's packed GEMM for transposed and
 * batched operands too, with bias and ReLU/ReLU6 fused in its epilogue (other activations through XNNPACK's).
 */
import * as tf from "@tensorflow/tfjs";
import { BackendError } from "../../errors";
import { ACTIVATION_CODE, asWasm } from "./wasm_gemm";
import { wasmMatMul } from "./wasm_mat_mul";

interface FusedAttrs {
  transposeA?: boolean;
  transposeB?: boolean;
  activation?: string;
  leakyreluAlpha?: number;
}

interface Args {
  inputs: { a: tf.TensorInfo; b: tf.TensorInfo; bias?: tf.TensorInfo; preluActivationWeights?: tf.TensorInfo };
  backend: unknown;
  attrs?: FusedAttrs;
}

function fusedMatMul(args: Args): tf.TensorInfo {
  const wb = asWasm(args.backend, "_FusedMatMul");
  const { a, b, bias, preluActivationWeights: prelu } = args.inputs;
  const attrs = args.attrs ?? {};
  const activation = ACTIVATION_CODE[attrs.activation ?? "linear"];
  const br = b.shape.length;
  const n = attrs.transposeB ? b.shape[br - 2] : b.shape[br - 1];
  const where = `_FusedMatMul(a=[${a.shape}], b=[${b.shape}])`;
  if (activation === undefined) {
    throw new BackendError("_FusedMatMul: unsupported activation on wasm", {
      where,
      expected: Object.keys(ACTIVATION_CODE).join(", "),
      got: String(attrs.activation),
      fix: "apply the activation as a separate op",
    });
  }
  // Each GEMM applies the epilogue to one [M, N] slice, so bias and PReLU weights must broadcast along N only.
  for (const [name, t] of [
    ["bias", bias],
    ["preluActivationWeights", prelu],
  ] as const) {
    if (t != null && !(t.shape.length === 1 && (t.shape[0] === n || t.shape[0] === 1))) {
      throw new BackendError(`_FusedMatMul: ${name} must be rank 1 on wasm`, {
        where,
        expected: `${name} of shape [${n}] or [1]`,
        got: `[${t.shape}]`,
        fix: `add the ${name} term with a separate op`,
      });
    }
  }
  return wasmMatMul(wb, {
    a,
    b,
    transposeA: !!attrs.transposeA,
    transposeB: !!attrs.transposeB,
    kernel: "_FusedMatMul",
    epilogue: { activation, bias, prelu, leakyAlpha: attrs.leakyreluAlpha ?? 0 },
  });
}

/** KernelConfig replacing tfjs-backend-wasm's _FusedMatMul. */
export const fusedMatMulConfig: tf.KernelConfig = {
  kernelName: tf._FusedMatMul,
  backendName: "wasm",
  kernelFunc: fusedMatMul as unknown as tf.KernelFunc,
};
