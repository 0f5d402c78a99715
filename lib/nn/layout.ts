/**
 * The one place where PyTorch layouts become tfjs layouts and back. Pure functions over HostTensors.
 *
 * - linear:    torch [out, in]            ⇄ tfjs [in, out]
 * - conv2d:    torch [out, in/g, kh, kw]  ⇄ tfjs [kh, kw, in/g, out]
 * - depthwise: torch [C·m, 1, kh, kw]     ⇄ tfjs [kh, kw, C, m]   (groups == in channels, multiplier m)
 * - none:      unchanged (biases, norms, embeddings, tokens)
 */
import { CheckpointError } from "../errors";
import type { HostTensor } from "../io/host_tensor";

export type ParamLayout = "linear" | "conv2d" | "depthwise" | "none";

/** Converts a tensor from PyTorch layout to tfjs layout. */
export function torchToTf(h: HostTensor, layout: ParamLayout, where = "tensor"): HostTensor {
  switch (layout) {
    case "none":
      return h;
    case "linear":
      expectRank(h, 2, where, "[out, in]");
      return permute(h, [1, 0]);
    case "conv2d":
      expectRank(h, 4, where, "[out, in/groups, kh, kw]");
      return permute(h, [2, 3, 1, 0]);
    case "depthwise": {
      expectRank(h, 4, where, "[C*m, 1, kh, kw]");
      const [cm, one, kh, kw] = h.shape;
      if (one !== 1) {
        throw new CheckpointError("Depthwise conv weight must have 1 input channel per group", {
          where,
          expected: "[C*m, 1, kh, kw]",
          got: `[${h.shape.join(", ")}]`,
        });
      }
      return depthwiseTorchToTf(h, cm, kh, kw);
    }
  }
}

/** Converts a tensor from tfjs layout back to PyTorch layout (inverse of torchToTf). */
export function tfToTorch(h: HostTensor, layout: ParamLayout, where = "tensor"): HostTensor {
  switch (layout) {
    case "none":
      return h;
    case "linear":
      expectRank(h, 2, where, "[in, out]");
      return permute(h, [1, 0]);
    case "conv2d":
      expectRank(h, 4, where, "[kh, kw, in/groups, out]");
      return permute(h, [3, 2, 0, 1]);
    case "depthwise": {
      expectRank(h, 4, where, "[kh, kw, C, m]");
      const [kh, kw, c, m] = h.shape;
      // tfjs [kh,kw,C,m] → [C,m,kh,kw] → torch [C*m,1,kh,kw]; torch channel index is c*m + j.
      const p = permute(h, [2, 3, 0, 1]);
      return { dtype: p.dtype, shape: [c * m, 1, kh, kw], data: p.data };
    }
  }
}

/** The torch shape a parameter of tfjs shape `shape` and layout `layout` has on disk. */
export function torchShapeOf(shape: readonly number[], layout: ParamLayout): number[] {
  switch (layout) {
    case "none":
      return [...shape];
    case "linear":
      return [shape[1], shape[0]];
    case "conv2d":
      return [shape[3], shape[2], shape[0], shape[1]];
    case "depthwise":
      return [shape[2] * shape[3], 1, shape[0], shape[1]];
  }
}

function depthwiseTorchToTf(h: HostTensor, cm: number, kh: number, kw: number): HostTensor {
  // torch [C*m,1,kh,kw] viewed as [C*m,kh,kw] → tfjs [kh,kw,C*m] == [kh,kw,C,m] with channel = c*m+j.
  const p = permute({ dtype: h.dtype, shape: [cm, kh, kw], data: h.data }, [1, 2, 0]);
  return { dtype: p.dtype, shape: [kh, kw, cm, 1], data: p.data };
}

function expectRank(h: HostTensor, rank: number, where: string, layout: string): void {
  if (h.shape.length !== rank) {
    throw new CheckpointError("Parameter has the wrong rank for its layer", {
      where,
      expected: `rank ${rank} ${layout}`,
      got: `[${h.shape.join(", ")}]`,
      fix: "check that the checkpoint matches the architecture (see the converters in lib/models/convert)",
    });
  }
}

/** Generic N-d permutation of a row-major host tensor. */
export function permute(h: HostTensor, perm: number[]): HostTensor {
  const shape = h.shape;
  const rank = shape.length;
  const outShape = perm.map((p) => shape[p]);
  const inStrides = stridesOf(shape);
  const n = h.data.length;
  const Ctor = h.data.constructor as new (n: number) => typeof h.data;
  const out = new Ctor(n);
  const src = h.data as unknown as { [i: number]: number | bigint };
  const dst = out as unknown as { [i: number]: number | bigint };
  const idx = new Array<number>(rank).fill(0);
  // Walk output indices in order; map each to its input offset.
  const permStrides = perm.map((p) => inStrides[p]);
  for (let o = 0; o < n; o++) {
    let off = 0;
    for (let d = 0; d < rank; d++) off += idx[d] * permStrides[d];
    dst[o] = src[off];
    for (let d = rank - 1; d >= 0; d--) {
      if (++idx[d] < outShape[d]) break;
      idx[d] = 0;
    }
  }
  return { dtype: h.dtype, shape: outShape, data: out };
}

function stridesOf(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i];
  }
  return s;
}
