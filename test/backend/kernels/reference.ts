/**
 * Test helpers for the kernel overrides: seeded data, a naive broadcasting matmul, running a function on the
 * cpu backend as reference, and a relative-error assertion.
 */
import { strict as assert } from "node:assert";
import * as tf from "@tensorflow/tfjs";
import { applyKernelOverrides, removeKernelOverrides } from "../../../lib/backend/kernels";

/** Deterministic uniform(-1, 1) values (an LCG), the same on every backend. */
export function randArray(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2147483648 - 1;
  }
  return out;
}

/** Number of elements of a shape. */
export function sizeOf(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Naive float64 matmul with tf.matMul's semantics (transposes, broadcast leading dims). */
export function naiveMatMul(
  a: Float32Array,
  sa: number[],
  b: Float32Array,
  sb: number[],
  ta: boolean,
  tb: boolean,
): { data: Float64Array; shape: number[] } {
  const m = ta ? sa[sa.length - 1] : sa[sa.length - 2];
  const k = ta ? sa[sa.length - 2] : sa[sa.length - 1];
  const n = tb ? sb[sb.length - 2] : sb[sb.length - 1];
  const ba = sa.slice(0, -2);
  const bb = sb.slice(0, -2);
  const rank = Math.max(ba.length, bb.length);
  const pa = [...new Array(rank - ba.length).fill(1), ...ba];
  const pb = [...new Array(rank - bb.length).fill(1), ...bb];
  const bo = pa.map((d, i) => Math.max(d, pb[i]));
  const out = new Float64Array(sizeOf(bo) * m * n);
  const idx = new Array<number>(rank).fill(0);
  for (let s = 0; s < sizeOf(bo); s++) {
    let ia = 0;
    let ib = 0;
    for (let d = 0; d < rank; d++) {
      ia = ia * pa[d] + (pa[d] === 1 ? 0 : idx[d]);
      ib = ib * pb[d] + (pb[d] === 1 ? 0 : idx[d]);
    }
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let acc = 0;
        for (let p = 0; p < k; p++) {
          const av = a[ia * m * k + (ta ? p * m + i : i * k + p)];
          const bv = b[ib * k * n + (tb ? j * k + p : p * n + j)];
          acc += av * bv;
        }
        out[s * m * n + i * n + j] = acc;
      }
    }
    for (let d = rank - 1; d >= 0; d--) {
      if (++idx[d] < bo[d]) break;
      idx[d] = 0;
    }
  }
  return { data: out, shape: [...bo, m, n] };
}

/**
 * Runs `fn` on tfjs's own cpu kernels (peftlab's cpu overrides removed for the call), then restores the previous
 * backend and the overrides; returns fn's result. This is the reference every override is compared with.
 */
export async function onCpu<T>(fn: () => T): Promise<T> {
  const prev = tf.getBackend();
  await tf.setBackend("cpu");
  const hadOverrides = removeKernelOverrides("cpu");
  try {
    return fn();
  } finally {
    if (hadOverrides) applyKernelOverrides("cpu");
    await tf.setBackend(prev);
  }
}

/** Asserts max|got − want| ≤ rtol · max(1, max|want|), naming the case on failure. */
export function assertClose(got: ArrayLike<number>, want: ArrayLike<number>, what: string, rtol = 1e-4): void {
  assert.equal(got.length, want.length, `${what}: length ${got.length} vs ${want.length}`);
  let scale = 1;
  for (let i = 0; i < want.length; i++) scale = Math.max(scale, Math.abs(want[i]));
  let worst = 0;
  let at = -1;
  for (let i = 0; i < want.length; i++) {
    const d = Math.abs(got[i] - want[i]);
    if (!(d <= worst)) {
      worst = d;
      at = i;
    }
  }
  assert.ok(worst <= rtol * scale, `${what}: max abs diff ${worst} at ${at} (scale ${scale}, rtol ${rtol})`);
}

/** One test: `run` on the active backend gives tfjs's cpu kernels' shape and, within rtol, their values. */
export function itMatchesCpu(title: string, run: () => { values: Float32Array; shape: number[] }, rtol = 1e-5): void {
  it(`${title} matches the cpu kernel`, async () => {
    const got = run();
    const want = await onCpu(run);
    assert.deepEqual(got.shape, want.shape);
    assertClose(got.values, want.values, title, rtol);
  });
}

/** A conv case of the override tests: input and filter shapes, stride, padding, dilation and the fused epilogue. */
export interface ConvCase {
  name: string;
  x: number[];
  f: number[];
  s: number;
  pad: "same" | "valid" | number[][];
  dil?: number;
  /** Bias length (0: none). */
  bias: number;
  act: string;
  /** PReLU weights' length (0 or absent: none). */
  prelu?: number;
}

/** The seeded x, filter, bias and PReLU weights of a case (bias seed 3, PReLU seed 4). */
export interface ConvOperands {
  x: tf.Tensor4D;
  f: tf.Tensor4D;
  bias?: tf.Tensor1D;
  prelu?: tf.Tensor1D;
}

/**
 * One itMatchesCpu per case, for the plain op (only cases with no bias and a linear epilogue) and the fused one.
 * `op` builds the output from the case's seeded operands; `fused` says which form to call.
 */
export function convCasesMatchCpu<C extends ConvCase>(
  cases: C[],
  names: { plain: string; fused: string },
  op: (c: C, v: ConvOperands, fused: boolean) => tf.Tensor,
): void {
  for (const c of cases) {
    for (const fused of [false, true]) {
      if (!fused && (c.bias || c.act !== "linear")) continue;
      itMatchesCpu(`${fused ? names.fused : names.plain} ${c.name}`, () => {
        const y = tf.tidy(() =>
          op(
            c,
            {
              x: tf.tensor(randArray(sizeOf(c.x), 1), c.x) as tf.Tensor4D,
              f: tf.tensor(randArray(sizeOf(c.f), 2), c.f) as tf.Tensor4D,
              bias: c.bias ? tf.tensor1d(randArray(c.bias, 3)) : undefined,
              prelu: c.prelu ? tf.tensor1d(randArray(c.prelu, 4)) : undefined,
            },
            fused,
          ),
        );
        const out = { values: y.dataSync() as Float32Array, shape: y.shape };
        y.dispose();
        return out;
      });
    }
  }
}
