/**
 * ReLU and ReLU6 whose gradient is computed from the OUTPUT, as one recorded op (tf.customGrad).
 *
 * Why: tfjs's Relu/Relu6 keep their input for the backward pass; in a Conv-BN-ReLU6 stack that input (the BN output)
 * is kept by nothing else, so it costs a full activation per layer on the tape. The output is kept anyway by the next
 * layer. The mask is PyTorch's: ReLU passes where x > 0 ⇔ y > 0; ReLU6 (hardtanh(0, 6)) where 0 < x < 6 ⇔ 0 < y < 6.
 */
import * as tf from "@tensorflow/tfjs";
import { RELU_GRAD_KERNEL } from "../backend/kernels";

/** max(x, 0), or min(max(x, 0), 6) when `cap6`, with an output-based gradient. */
export function leanRelu(x: tf.Tensor, cap6: boolean): tf.Tensor {
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const xi = args[0] as tf.Tensor;
    const save = args[1] as tf.GradSaveFunc;
    const value = cap6 ? tf.relu6(xi) : tf.relu(xi);
    save([value]);
    return {
      value,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) =>
        tf.tidy(() => {
          const y = saved[0];
          if (tf.getKernel(RELU_GRAD_KERNEL, tf.getBackend()) !== undefined && dy.dtype === "float32") {
            return [
              tf.engine().runKernel(RELU_GRAD_KERNEL, { dy, y }, { cap6 } as unknown as tf.NamedAttrMap) as tf.Tensor,
            ];
          }
          const pass = cap6 ? tf.logicalAnd(tf.greater(y, 0), tf.less(y, 6)) : tf.greater(y, 0);
          return [tf.mul(dy, tf.cast(pass, "float32"))];
        }),
    };
  });
  return op(x);
}
