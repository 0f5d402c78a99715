/** Small hand-built inputs for the fuzz regression tests. */

/** A 54-byte BMP header (BITMAPINFOHEADER, 24 bits, uncompressed) with no pixel data. */
export function bmpHeaderOnly(width: number, height: number): Uint8Array {
  const b = Buffer.alloc(54);
  b.write("BM", 0, "latin1");
  b.writeUInt32LE(54, 2);
  b.writeUInt32LE(54, 10);
  b.writeUInt32LE(40, 14);
  b.writeInt32LE(width, 18);
  b.writeInt32LE(height, 22);
  b.writeUInt16LE(1, 26);
  b.writeUInt16LE(24, 28);
  return new Uint8Array(b);
}
