/**
 * Resizing an absolute position embedding to a new patch grid, like timm's resample_abs_pos_embed: prefix rows are
 * kept, the patch rows are resized as a [D, H, W] image with PyTorch's bicubic (A = −0.75, align_corners=False,
 * no antialias). tfjs has no bicubic resize, so this runs on host arrays (it is done once, at load time).
 */
import { ShapeError } from "../errors";
import { hostTensor, type HostTensor } from "../io/host_tensor";

/** PyTorch's cubic convolution constant (upsample_bicubic2d). */
const A = -0.75;

/** Cubic convolution weights for the 4 taps at offsets −1, 0, 1, 2 around a source index with fraction t. */
export function cubicWeights(t: number): [number, number, number, number] {
  const near = (x: number) => ((A + 2) * x - (A + 3)) * x * x + 1; // |x| ≤ 1
  const far = (x: number) => ((A * x - 5 * A) * x + 8 * A) * x - 4 * A; // 1 < |x| < 2
  return [far(t + 1), near(t), near(1 - t), far(2 - t)];
}

/** 1-D interpolation matrix [outSize, inSize] of torch's bicubic with align_corners=False and edge clamping. */
export function bicubicMatrix(inSize: number, outSize: number): Float64Array {
  const m = new Float64Array(outSize * inSize);
  const scale = inSize / outSize;
  for (let o = 0; o < outSize; o++) {
    // torch: area_pixel_compute_source_index with cubic=true does not clamp negative sources.
    const src = (o + 0.5) * scale - 0.5;
    const i0 = Math.floor(src);
    const w = cubicWeights(src - i0);
    for (let k = 0; k < 4; k++) {
      const idx = Math.min(Math.max(i0 - 1 + k, 0), inSize - 1);
      m[o * inSize + idx] += w[k];
    }
  }
  return m;
}

/** Bicubic resize of a channels-last grid [H, W, C] (row-major Float32Array) to [outH, outW, C]. */
export function resizeBicubicHWC(
  data: ArrayLike<number>,
  h: number,
  w: number,
  c: number,
  outH: number,
  outW: number,
): Float32Array {
  const mh = bicubicMatrix(h, outH);
  const mw = bicubicMatrix(w, outW);
  // Separable: first along W ([H, outW, C]), then along H ([outH, outW, C]); float64 accumulation.
  const tmp = new Float64Array(h * outW * c);
  for (let y = 0; y < h; y++) {
    for (let ox = 0; ox < outW; ox++) {
      for (let x = 0; x < w; x++) {
        const wt = mw[ox * w + x];
        if (wt === 0) continue;
        const src = (y * w + x) * c;
        const dst = (y * outW + ox) * c;
        for (let ch = 0; ch < c; ch++) tmp[dst + ch] += wt * data[src + ch];
      }
    }
  }
  const out = new Float64Array(outH * outW * c);
  for (let oy = 0; oy < outH; oy++) {
    for (let y = 0; y < h; y++) {
      const wt = mh[oy * h + y];
      if (wt === 0) continue;
      for (let ox = 0; ox < outW; ox++) {
        const src = (y * outW + ox) * c;
        const dst = (oy * outW + ox) * c;
        for (let ch = 0; ch < c; ch++) out[dst + ch] += wt * tmp[src + ch];
      }
    }
  }
  return Float32Array.from(out);
}

/**
 * Resamples a position embedding [1, P + H·W, D] (P prefix rows) to a new grid, keeping prefix rows: timm's
 * resample_abs_pos_embed with antialias off. Returns the input unchanged when the grid already matches.
 */
export function resamplePosEmbed(
  pos: HostTensor,
  newGrid: [number, number],
  numPrefix: number,
  oldGrid?: [number, number],
): HostTensor {
  if (pos.shape.length !== 3 || pos.shape[0] !== 1) {
    throw new ShapeError("Position embedding must be [1, tokens, dim]", {
      where: "pos_embed",
      expected: "[1, P + H·W, D]",
      got: `[${pos.shape.join(", ")}]`,
    });
  }
  const [, n, d] = pos.shape;
  const patches = n - numPrefix;
  const side = Math.round(Math.sqrt(patches));
  const [gh, gw] = oldGrid ?? [side, side];
  if (gh * gw !== patches) {
    throw new ShapeError("Position embedding rows do not form the patch grid", {
      where: "pos_embed",
      expected: `${numPrefix} prefix rows + a ${gh}×${gw} grid`,
      got: `${n} rows`,
      fix: "pass the old grid size explicitly, or check numPrefix (cls/register tokens covered by pos_embed)",
    });
  }
  const [nh, nw] = newGrid;
  if (nh === gh && nw === gw) return pos;
  const src = pos.data instanceof Float32Array ? pos.data : Float32Array.from(pos.data as Float64Array);
  const grid = resizeBicubicHWC(src.subarray(numPrefix * d), gh, gw, d, nh, nw);
  const out = new Float32Array((numPrefix + nh * nw) * d);
  out.set(src.subarray(0, numPrefix * d), 0);
  out.set(grid, numPrefix * d);
  return hostTensor(out, [1, numPrefix + nh * nw, d], "float32");
}
