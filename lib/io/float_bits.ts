/**
 * Bit-exact conversions between float16 / bfloat16 and float32, and byte-order helpers shared by the checkpoint and
 * array readers. Conversions work on raw bit patterns (Uint32Array views), so NaN payloads survive a round trip.
 */

/** True on little-endian hosts (every platform Node ships for today); readers swap bytes otherwise. */
export const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** float16 bit pattern → float32 bit pattern, exact for zeros, subnormals, normals, infinities and NaNs. */
export function halfBitsToFloatBits(h: number): number {
  const sign = (h & 0x8000) << 16;
  const exp = (h >> 10) & 0x1f;
  let mant = h & 0x3ff;
  if (exp === 0) {
    if (mant === 0) return sign >>> 0;
    // Subnormal half: normalise so the leading 1 becomes the implicit bit of a normal float32.
    let e = 127 - 15 + 1;
    while ((mant & 0x400) === 0) {
      mant <<= 1;
      e--;
    }
    return (sign | (e << 23) | ((mant & 0x3ff) << 13)) >>> 0;
  }
  if (exp === 0x1f) return (sign | 0x7f800000 | (mant << 13)) >>> 0;
  return (sign | ((exp - 15 + 127) << 23) | (mant << 13)) >>> 0;
}

/** float32 bit pattern → float16 bit pattern, rounding to nearest even; overflow gives ±inf, NaN stays NaN. */
export function floatBitsToHalfBits(x: number): number {
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  const mant = x & 0x7fffff;
  if (exp === 0xff) {
    if (mant === 0) return sign | 0x7c00;
    const m = mant >>> 13;
    return sign | 0x7c00 | (m === 0 ? 0x200 : m); // keep the top payload bits; never collapse a NaN to inf
  }
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign; // below half the smallest subnormal: rounds to ±0
    const m = mant | 0x800000;
    const shift = 14 - e;
    let half = m >>> shift;
    const rem = m & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (rem > halfway || (rem === halfway && (half & 1) === 1)) half++;
    return sign | half;
  }
  let half = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (half & 1) === 1)) half++; // a carry into the exponent gives inf correctly
  return sign | half;
}

/** float32 bit pattern → bfloat16 bit pattern, rounding to nearest even; NaN stays NaN. */
export function floatBitsToBfloatBits(x: number): number {
  if ((x & 0x7f800000) === 0x7f800000 && (x & 0x7fffff) !== 0) {
    const hi = x >>> 16;
    return (hi & 0x7f) === 0 ? hi | 0x40 : hi;
  }
  return ((x >>> 0) + 0x7fff + ((x >>> 16) & 1)) >>> 16;
}

/** Widens float16 bit patterns to a new Float32Array. */
export function halfToFloat32(src: Uint16Array): Float32Array {
  const bits = new Uint32Array(src.length);
  for (let i = 0; i < src.length; i++) bits[i] = halfBitsToFloatBits(src[i]);
  return new Float32Array(bits.buffer);
}

/** Widens bfloat16 bit patterns to a new Float32Array (bf16 is the top half of a float32). */
export function bfloat16ToFloat32(src: Uint16Array): Float32Array {
  const bits = new Uint32Array(src.length);
  for (let i = 0; i < src.length; i++) bits[i] = src[i] << 16;
  return new Float32Array(bits.buffer);
}

/** Narrows float32 (or float64, through float32) values to float16 bit patterns. */
export function float32ToHalf(src: Float32Array | Float64Array): Uint16Array {
  const f = src instanceof Float32Array ? src : Float32Array.from(src);
  const bits = new Uint32Array(f.buffer, f.byteOffset, f.length);
  const out = new Uint16Array(f.length);
  for (let i = 0; i < f.length; i++) out[i] = floatBitsToHalfBits(bits[i]);
  return out;
}

/** Narrows float32 (or float64, through float32) values to bfloat16 bit patterns. */
export function float32ToBfloat16(src: Float32Array | Float64Array): Uint16Array {
  const f = src instanceof Float32Array ? src : Float32Array.from(src);
  const bits = new Uint32Array(f.buffer, f.byteOffset, f.length);
  const out = new Uint16Array(f.length);
  for (let i = 0; i < f.length; i++) out[i] = floatBitsToBfloatBits(bits[i]);
  return out;
}

/** Reverses the byte order of each `width`-byte element in place. */
export function swapBytesInPlace(bytes: Uint8Array, width: number): void {
  if (width <= 1) return;
  for (let i = 0; i + width <= bytes.length; i += width) {
    for (let a = i, b = i + width - 1; a < b; a++, b--) {
      const t = bytes[a];
      bytes[a] = bytes[b];
      bytes[b] = t;
    }
  }
}
