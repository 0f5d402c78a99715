/**
 * Exact singular values of LoRA updates. ΔW = s·A·B (tfjs layout: A [in, r], B [r, out]) has rank ≤ r, so its
 * non-zero singular values are those of a small core: with A = Q₁R₁ and Bᵀ = Q₂R₂ (thin QR), A·B = Q₁(R₁R₂ᵀ)Q₂ᵀ,
 * and Q₁, Q₂ have orthonormal columns, so σ(ΔW) = s·σ(R₁R₂ᵀ). The core is r×r; its SVD runs on the host in
 * float64 with one-sided Jacobi rotations (Hestenes), which keeps small singular values accurate (no squaring).
 * Cost O((in + out)·r²) instead of an SVD of the in×out matrix.
 */
import { ShapeError } from "../../errors";
import type { LoraLayer } from "./layer";
import type { LoraModel } from "./model";

/** R (p×cols, row-major, p = min(rows, cols)) of a Householder QR of a row-major rows×cols matrix. */
export function qrR(a: ArrayLike<number>, rows: number, cols: number): { r: Float64Array; p: number } {
  const m = Float64Array.from(a as ArrayLike<number>);
  const p = Math.min(rows, cols);
  const v = new Float64Array(rows);
  for (let k = 0; k < p; k++) {
    let norm = 0;
    for (let i = k; i < rows; i++) norm += m[i * cols + k] ** 2;
    norm = Math.sqrt(norm);
    if (norm === 0) continue;
    const alpha = m[k * cols + k] > 0 ? -norm : norm;
    for (let i = k; i < rows; i++) v[i] = m[i * cols + k];
    v[k] -= alpha;
    let vv = 0;
    for (let i = k; i < rows; i++) vv += v[i] * v[i];
    if (vv === 0) continue;
    // Reflect columns k..cols−1: M ← (I − 2vvᵀ/vᵀv)·M.
    for (let j = k; j < cols; j++) {
      let dot = 0;
      for (let i = k; i < rows; i++) dot += v[i] * m[i * cols + j];
      const f = (2 * dot) / vv;
      for (let i = k; i < rows; i++) m[i * cols + j] -= f * v[i];
    }
  }
  const r = new Float64Array(p * cols);
  for (let i = 0; i < p; i++) for (let j = i; j < cols; j++) r[i * cols + j] = m[i * cols + j];
  return { r, p };
}

/** Singular values (descending) of a small row-major rows×cols matrix by one-sided Jacobi rotations. */
export function jacobiSingularValues(a: ArrayLike<number>, rows: number, cols: number, maxSweeps = 60): number[] {
  // Work on the orientation with fewer columns: rotations act on column pairs.
  const tall = rows >= cols;
  const n = tall ? cols : rows;
  const len = tall ? rows : cols;
  const u: Float64Array[] = Array.from({ length: n }, (_, j) => {
    const c = new Float64Array(len);
    for (let i = 0; i < len; i++) c[i] = tall ? a[i * cols + j] : a[j * cols + i];
    return c;
  });
  for (let sweep = 0; sweep < maxSweeps; sweep++) {
    let rotated = false;
    for (let p = 0; p < n - 1; p++) {
      for (let q = p + 1; q < n; q++) {
        let alpha = 0;
        let beta = 0;
        let gamma = 0;
        for (let i = 0; i < len; i++) {
          alpha += u[p][i] * u[p][i];
          beta += u[q][i] * u[q][i];
          gamma += u[p][i] * u[q][i];
        }
        if (Math.abs(gamma) <= 1e-15 * Math.sqrt(alpha * beta) || gamma === 0) continue;
        rotated = true;
        // The rotation that zeroes the (p, q) entry of UᵀU (Golub & Van Loan 8.6.3).
        const zeta = (beta - alpha) / (2 * gamma);
        const t = Math.sign(zeta || 1) / (Math.abs(zeta) + Math.sqrt(1 + zeta * zeta));
        const c = 1 / Math.sqrt(1 + t * t);
        const s = c * t;
        for (let i = 0; i < len; i++) {
          const x = u[p][i];
          const y = u[q][i];
          u[p][i] = c * x - s * y;
          u[q][i] = s * x + c * y;
        }
      }
    }
    if (!rotated) break;
  }
  return u.map((c) => Math.sqrt(c.reduce((s, x) => s + x * x, 0))).sort((x, y) => y - x);
}

/**
 * Singular values (descending, min(r, n, m) of them) of scale·A·B for A [n, r] and B [r, m], row-major, without
 * forming the n×m product.
 */
export function lowRankSingularValues(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  dims: { n: number; r: number; m: number },
  scale = 1,
): number[] {
  const { n, r, m } = dims;
  if (a.length !== n * r || b.length !== r * m) {
    throw new ShapeError("Low-rank factors do not match their dimensions", {
      where: "lowRankSingularValues",
      expected: `A ${n}×${r} (${n * r} values), B ${r}×${m} (${r * m} values)`,
      got: `A ${a.length} values, B ${b.length} values`,
      fix: "pass A as [in, r] and B as [r, out], row-major",
    });
  }
  const bt = new Float64Array(m * r); // Bᵀ [m, r]
  for (let i = 0; i < r; i++) for (let j = 0; j < m; j++) bt[j * r + i] = b[i * m + j];
  const { r: r1, p: p1 } = qrR(a, n, r); // [p1, r]
  const { r: r2, p: p2 } = qrR(bt, m, r); // [p2, r]
  const core = new Float64Array(p1 * p2); // R₁·R₂ᵀ [p1, p2]
  for (let i = 0; i < p1; i++) {
    for (let j = 0; j < p2; j++) {
      let s = 0;
      for (let k = 0; k < r; k++) s += r1[i * r + k] * r2[j * r + k];
      core[i * p2 + j] = s;
    }
  }
  return jacobiSingularValues(core, p1, p2).map((s) => s * Math.abs(scale));
}

/** Exact singular values (descending) of a LoRA layer's ΔW = B·A·scaling (qkv masks and conv kernels included). */
export function loraDeltaSingularValues(layer: LoraLayer): number[] {
  const aT = layer.loraA.weight.variable; // Linear [in, r]; Conv2d [k, k, in, r]
  const bT = layer.loraB.weight.variable; // Linear [r, out]; Conv2d [1, 1, r, out]
  const r = layer.rank;
  const n = aT.size / r;
  const m = bT.size / r;
  const a = aT.dataSync();
  let b = bT.dataSync() as Float32Array;
  if (layer.bMask) {
    const mask = layer.bMask.dataSync();
    b = b.map((v, i) => v * mask[i]);
  }
  return lowRankSingularValues(a, b, { n, r, m }, layer.scaling);
}

/** loraDeltaSingularValues with asynchronous reads (works on webgpu, where synchronous reads fail). */
export async function loraDeltaSingularValuesAsync(layer: LoraLayer): Promise<number[]> {
  const r = layer.rank;
  const n = layer.loraA.weight.variable.size / r;
  const m = layer.loraB.weight.variable.size / r;
  const a = await layer.loraA.weight.variable.data(); // Linear [in, r]; Conv2d [k, k, in, r]
  let b = (await layer.loraB.weight.variable.data()) as Float32Array; // Linear [r, out]; Conv2d [1, 1, r, out]
  if (layer.bMask) {
    const mask = await layer.bMask.data();
    b = b.map((v, i) => v * mask[i]);
  }
  return lowRankSingularValues(a, b, { n, r, m }, layer.scaling);
}

/** loraSpectra with asynchronous reads (works on every backend, webgpu included). */
export async function loraSpectraAsync(lm: LoraModel): Promise<{ name: string; singularValues: number[] }[]> {
  const out: { name: string; singularValues: number[] }[] = [];
  for (const [name, l] of lm.layers) out.push({ name, singularValues: await loraDeltaSingularValuesAsync(l) });
  return out;
}

/** ΔW spectra of every LoRA layer of a model, in model order: the input of lib/display's svdSpectrumChart. */
export function loraSpectra(lm: LoraModel): { name: string; singularValues: number[] }[] {
  return [...lm.layers].map(([name, l]) => ({ name, singularValues: loraDeltaSingularValues(l) }));
}
