/**
 * A deterministic stain / colour shift in HED space (Ruifrok & Johnston colour deconvolution, the matrix of
 * scikit-image's rgb2hed), used as the "unseen domain" of the CI stand-in for seed 001's cross-domain test: a slide
 * from another lab or scanner differs mostly in haematoxylin and eosin uptake, which this models as a per-channel
 * scale and offset of the stain concentrations: hed' = α·hed + β, then back to RGB.
 */
import { ConfigError } from "../errors";

/** Per-stain scale α and offset β (haematoxylin, eosin, DAB/residual). */
export interface HedShift {
  alpha: [number, number, number];
  beta: [number, number, number];
}

/** Named shifts. `unseen-lab`: stronger haematoxylin, paler eosin (the CI notebooks' unseen domain). */
export const HED_SHIFTS: Readonly<Record<string, HedShift>> = {
  "unseen-lab": { alpha: [1.35, 0.7, 1.0], beta: [0.04, -0.03, 0.0] },
  identity: { alpha: [1, 1, 1], beta: [0, 0, 0] },
};

// scikit-image's rgb_from_hed (rows: H, E, D optical-density vectors, unit length) and its inverse.
const RGB_FROM_HED = [
  [0.65, 0.7, 0.29],
  [0.07, 0.99, 0.11],
  [0.27, 0.57, 0.78],
];
const HED_FROM_RGB = invert3(RGB_FROM_HED);

function invert3(m: number[][]): number[][] {
  const [a, b, c] = m[0];
  const [d, e, f] = m[1];
  const [g, h, i] = m[2];
  const det = a * (e * i - f * h) - b * (d * i - f * g) + c * (d * h - e * g);
  return [
    [(e * i - f * h) / det, (c * h - b * i) / det, (b * f - c * e) / det],
    [(f * g - d * i) / det, (a * i - c * g) / det, (c * d - a * f) / det],
    [(d * h - e * g) / det, (b * g - a * h) / det, (a * e - b * d) / det],
  ];
}

/** Resolves a preset name or explicit shift; unknown names are a ConfigError listing the presets. */
export function resolveHedShift(shift: string | HedShift): HedShift {
  if (typeof shift !== "string") return shift;
  const s = HED_SHIFTS[shift];
  if (!s) {
    throw new ConfigError(`Unknown stain shift "${shift}"`, {
      where: "hedShift(shift)",
      expected: `one of ${Object.keys(HED_SHIFTS).join(", ")} or { alpha, beta }`,
      got: shift,
      fix: "pick a preset or pass explicit alpha/beta per stain",
    });
  }
  return s;
}

/**
 * Applies the shift to RGB pixels in [0, 1] (interleaved, 3 channels, any length); returns a new array in [0, 1].
 * Pure and deterministic: the same input and shift always give the same output.
 */
export function hedShift(rgb01: ArrayLike<number>, shift: string | HedShift): Float32Array {
  const { alpha, beta } = resolveHedShift(shift);
  if (rgb01.length % 3 !== 0) {
    throw new ConfigError("hedShift needs interleaved RGB values", {
      where: "hedShift(rgb01)",
      expected: "a length divisible by 3",
      got: String(rgb01.length),
    });
  }
  const out = new Float32Array(rgb01.length);
  const eps = 1e-6;
  for (let p = 0; p < rgb01.length; p += 3) {
    // Optical density → stain concentrations (hed = OD · HED_FROM_RGB) → shifted → back to OD → RGB.
    const od = [0, 1, 2].map((c) => -Math.log10(Math.max(rgb01[p + c], eps)));
    const hed = [0, 0, 0];
    for (let s = 0; s < 3; s++) {
      let h = 0;
      for (let c = 0; c < 3; c++) h += od[c] * HED_FROM_RGB[c][s];
      hed[s] = alpha[s] * h + beta[s];
    }
    for (let c = 0; c < 3; c++) {
      let o = 0;
      for (let s = 0; s < 3; s++) o += hed[s] * RGB_FROM_HED[s][c];
      out[p + c] = Math.min(1, Math.max(0, 10 ** -o));
    }
  }
  return out;
}
