/**
 * A small seeded PRNG (mulberry32, public domain by Tommy Ettinger): 32-bit state, fast, and identical on every
 * platform, so bootstrap intervals are reproducible from their seed. Not for cryptography.
 */

/** A seeded uniform generator. */
export interface Prng32 {
  /** Uniform float in [0, 1) with 32 bits of randomness. */
  next(): number;
  /** Uniform integer in [0, n). */
  nextInt(n: number): number;
}

/** Creates a mulberry32 generator from a 32-bit seed (any number; it is truncated to uint32). */
export function mulberry32(seed: number): Prng32 {
  let a = seed >>> 0;
  const nextU32 = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
  return {
    next: () => nextU32() / 4294967296,
    nextInt: (n: number) => Math.floor((nextU32() / 4294967296) * n),
  };
}
