/**
 * tf.addN for any number of tensors on every backend. tfjs-backend-webgpu's AddN binds every input as a storage buffer
 * in one shader, so more than 7 inputs exceed WebGPU's default maxStorageBuffersPerShaderStage (8, output included)
 * and the pipeline is invalid: Dawn reports a validation error and the result is garbage. This sums in chunks of at
 * most 7 inputs, carrying the running sum as the first input of the next chunk: on the cpu backend that is the same
 * left-to-right order as one tf.addN, so results are bit-identical there.
 */
import * as tf from "@tensorflow/tfjs";

/** Inputs per AddN dispatch: WebGPU's default 8 storage buffers per shader stage, less the output. */
export const ADD_N_CHUNK = 7;

/** Elementwise sum of same-shape tensors (at least one), in chunks that every backend can run. */
export function addNChunked<T extends tf.Tensor>(ts: T[]): T {
  return tf.tidy(() => {
    let acc = tf.addN(ts.slice(0, ADD_N_CHUNK)) as T;
    for (let i = ADD_N_CHUNK; i < ts.length; i += ADD_N_CHUNK - 1) {
      acc = tf.addN([acc, ...ts.slice(i, i + ADD_N_CHUNK - 1)]) as T;
    }
    return acc;
  });
}
