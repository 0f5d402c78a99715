/**
 * Seeded pseudo-random numbers for splits, samplers and augmentation: xoshiro128** seeded through splitmix32.
 * Every random choice in lib/data comes from here, so a (seed, epoch, position) triple always replays the same way.
 */

/** A seeded generator with the draws lib/data needs. */
export interface Rng {
  /** Uniform 32-bit unsigned integer. */
  nextU32(): number;
  /** Uniform float in [0, 1). */
  random(): number;
  /** Uniform integer in [0, n). */
  int(n: number): number;
  /** Uniform float in [lo, hi). */
  uniform(lo: number, hi: number): number;
  /** True with probability p. */
  chance(p: number): boolean;
  /** Shuffles `a` in place (Fisher-Yates) and returns it. */
  shuffle<T>(a: T[]): T[];
}

function splitmix32(state: number): () => number {
  let s = state >>> 0;
  return () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
}

/** Mixes a seed with further integers (epoch, index, ...) into one 32-bit seed; order matters. */
export function deriveSeed(seed: number, ...parts: number[]): number {
  let h = splitmix32(toU32(seed))();
  for (const p of parts) h = splitmix32((h ^ Math.imul(toU32(p) + 0x632be5ab, 0x9e3779b1)) >>> 0)();
  return h >>> 0;
}

function toU32(x: number): number {
  if (!Number.isFinite(x)) return 0;
  // Seeds above 2^32 keep their high bits instead of being silently truncated.
  const hi = Math.floor(x / 4294967296);
  return ((x >>> 0) ^ Math.imul(hi, 0x27d4eb2d)) >>> 0;
}

/** Creates a seeded generator; the same seed gives the same stream on every platform. */
export function createRng(seed: number): Rng {
  const sm = splitmix32(toU32(seed));
  let a = sm(),
    b = sm(),
    c = sm(),
    d = sm();
  if ((a | b | c | d) === 0) a = 1;
  const nextU32 = (): number => {
    const r = Math.imul(rotl(Math.imul(b, 5) >>> 0, 7), 9) >>> 0;
    const t = (b << 9) >>> 0;
    c ^= a;
    d ^= b;
    b ^= c;
    a ^= d;
    c ^= t;
    d = rotl(d, 11);
    return r;
  };
  const random = (): number => nextU32() / 4294967296;
  const int = (n: number): number => {
    if (!(n >= 1)) return 0;
    // Rejection sampling keeps small ranges unbiased.
    const limit = Math.floor(4294967296 / n) * n;
    let x = nextU32();
    while (x >= limit) x = nextU32();
    return x % n;
  };
  return {
    nextU32,
    random,
    int,
    uniform: (lo, hi) => lo + (hi - lo) * random(),
    chance: (p) => p > 0 && random() < p,
    shuffle<T>(arr: T[]): T[] {
      for (let i = arr.length - 1; i > 0; i--) {
        const j = int(i + 1);
        const tmp = arr[i];
        arr[i] = arr[j];
        arr[j] = tmp;
      }
      return arr;
    },
  };
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

/** A seeded permutation of 0..n-1. */
export function permutation(n: number, seed: number): number[] {
  const a = Array.from({ length: n }, (_, i) => i);
  return createRng(seed).shuffle(a);
}

/** Python's round(): halves go to the even neighbour (torchvision's crop and resize arithmetic uses it). */
export function roundHalfEven(x: number): number {
  const f = Math.floor(x);
  const d = x - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}
