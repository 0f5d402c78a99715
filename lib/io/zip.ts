/**
 * A lazy, read-only zip reader for .npz archives: it reads the central directory (zip64 included, which NumPy
 * always writes) from the end of the file, then reads and inflates one member at a time with fflate. A member's
 * prefix (the .npy header) can be read without inflating the whole member.
 */
import * as fs from "node:fs";
import { Inflate, inflateSync } from "fflate";
import { DataError } from "../errors";
import { openForRead, readAt } from "./file_read";

/** One member of a zip archive, from its central-directory record. */
export interface ZipEntry {
  name: string;
  /** 0 stored, 8 deflated. */
  method: number;
  compressedSize: number;
  size: number;
  crc32: number;
  localHeaderOffset: number;
}

const SIG_EOCD = 0x06054b50;
const SIG_EOCD64_LOCATOR = 0x07064b50;
const SIG_EOCD64 = 0x06064b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_LOCAL = 0x04034b50;
/** Deflate's largest possible expansion (258 bytes from 2 bits, rounded up). */
const MAX_DEFLATE_RATIO = 1032;

/** A zip archive opened for lazy reading. Call `close()` when done. */
export class ZipReader {
  private fd: number | undefined;
  private readonly starts = new Map<ZipEntry, number>();

  private constructor(
    readonly path: string,
    fd: number,
    readonly entries: ZipEntry[],
  ) {
    this.fd = fd;
  }

  /** Opens `path` and reads its central directory. */
  static open(path: string): ZipReader {
    const fd = openForRead(path, DataError, "zip archive");
    try {
      return new ZipReader(path, fd, readCentralDirectory(fd, fs.fstatSync(fd).size, path));
    } catch (e) {
      fs.closeSync(fd);
      throw e;
    }
  }

  /** Reads and decompresses one whole member, checking its size and CRC-32. */
  read(entry: ZipEntry): Uint8Array {
    const comp = this.readCompressed(entry);
    let out: Uint8Array;
    if (entry.method === 0 && entry.size !== entry.compressedSize) {
      throw this.err("stored zip member has two different sizes", entry, `${entry.compressedSize}`, `${entry.size}`);
    }
    if (entry.method === 8 && entry.size > MAX_DEFLATE_RATIO * entry.compressedSize + 64) {
      // Deflate cannot expand data more than ~1032:1, so a larger size field is corrupt: refuse it before allocating.
      throw this.err(
        "zip member size is impossible for its compressed size",
        entry,
        `at most ${MAX_DEFLATE_RATIO}× ${entry.compressedSize} bytes`,
        `${entry.size}`,
      );
    }
    if (entry.method === 0) out = comp;
    else {
      try {
        out = inflateSync(comp, { out: new Uint8Array(entry.size) });
      } catch (e) {
        throw this.err("zip member does not inflate", entry, "valid deflate data", (e as Error).message);
      }
    }
    if (out.length !== entry.size)
      throw this.err("zip member has the wrong size", entry, `${entry.size}`, `${out.length}`);
    const crc = crc32(out);
    if (crc !== entry.crc32) {
      throw this.err("zip member fails its CRC-32 check", entry, hex(entry.crc32), hex(crc));
    }
    return out;
  }

  /** Reads at least the first `n` decompressed bytes of a member (fewer only if the member is shorter). */
  readPrefix(entry: ZipEntry, n: number): Uint8Array {
    const want = Math.min(n, entry.size);
    const start = this.dataStart(entry);
    if (entry.method === 0) return readAt(this.requireFd(), start, want, this.path, DataError);
    const parts: Uint8Array[] = [];
    let have = 0;
    const inf = new Inflate((chunk) => {
      parts.push(chunk);
      have += chunk.length;
    });
    const step = 16384;
    for (let pos = 0; pos < entry.compressedSize && have < want; pos += step) {
      const len = Math.min(step, entry.compressedSize - pos);
      try {
        inf.push(readAt(this.requireFd(), start + pos, len, this.path, DataError), pos + len >= entry.compressedSize);
      } catch (e) {
        if (e instanceof DataError) throw e;
        throw this.err("zip member does not inflate", entry, "valid deflate data", (e as Error).message);
      }
    }
    const out = new Uint8Array(Math.min(have, want));
    let o = 0;
    for (const p of parts) {
      if (o >= out.length) break;
      const take = Math.min(p.length, out.length - o);
      out.set(p.subarray(0, take), o);
      o += take;
    }
    return out;
  }

  /** Releases the file descriptor. */
  close(): void {
    if (this.fd !== undefined) fs.closeSync(this.fd);
    this.fd = undefined;
  }

  private readCompressed(entry: ZipEntry): Uint8Array {
    return readAt(this.requireFd(), this.dataStart(entry), entry.compressedSize, this.path, DataError);
  }

  /** Where a member's data start, after checking its local header against the central directory. */
  private dataStart(entry: ZipEntry): number {
    const cached = this.starts.get(entry);
    if (cached !== undefined) return cached;
    const fd = this.requireFd();
    const h = readAt(fd, entry.localHeaderOffset, 30, this.path, DataError);
    const v = new DataView(h.buffer);
    if (v.getUint32(0, true) !== SIG_LOCAL) {
      throw this.err("zip local header signature is wrong", entry, hex(SIG_LOCAL), hex(v.getUint32(0, true)));
    }
    const nameLen = v.getUint16(26, true);
    const extraLen = v.getUint16(28, true);
    const tail = readAt(fd, entry.localHeaderOffset + 30, nameLen + extraLen, this.path, DataError);
    const local: ZipEntry = {
      name: Buffer.from(tail.subarray(0, nameLen)).toString(v.getUint16(6, true) & 0x800 ? "utf8" : "latin1"),
      method: v.getUint16(8, true),
      crc32: v.getUint32(14, true),
      compressedSize: v.getUint32(18, true),
      size: v.getUint32(22, true),
      localHeaderOffset: entry.localHeaderOffset,
    };
    applyZip64Extra(local, tail.subarray(nameLen));
    const mismatch = (field: string, cd: string | number, lh: string | number) =>
      this.err(`zip local header disagrees with the central directory (${field})`, entry, `${cd}`, `${lh}`);
    if (local.name !== entry.name) throw mismatch("name", entry.name, local.name);
    if (local.method !== entry.method) throw mismatch("compression method", entry.method, local.method);
    // Bit 3: CRC and sizes follow the data in a data descriptor, and the local header holds zeros.
    if ((v.getUint16(6, true) & 0x8) === 0) {
      if (local.crc32 !== entry.crc32) throw mismatch("CRC-32", hex(entry.crc32), hex(local.crc32));
      if (local.compressedSize !== entry.compressedSize)
        throw mismatch("compressed size", entry.compressedSize, local.compressedSize);
      if (local.size !== entry.size) throw mismatch("size", entry.size, local.size);
    }
    const start = entry.localHeaderOffset + 30 + nameLen + extraLen;
    if (start + entry.compressedSize > fs.fstatSync(fd).size) {
      throw this.err("zip member data runs past the end of the file", entry, "a complete member", "a truncated one");
    }
    this.starts.set(entry, start);
    return start;
  }

  private requireFd(): number {
    if (this.fd === undefined) {
      throw new DataError("zip archive is closed", {
        where: this.path,
        expected: "an open archive",
        got: "closed",
        fix: "read members before calling close(), or open the archive again",
      });
    }
    return this.fd;
  }

  private err(what: string, e: ZipEntry, expected: string, got: string): DataError {
    return new DataError(what, {
      where: `${this.path}:${e.localHeaderOffset} (${e.name})`,
      expected,
      got,
      fix: "the archive is corrupt or truncated; re-create or re-download it",
    });
  }
}

function readCentralDirectory(fd: number, size: number, path: string): ZipEntry[] {
  const bad = (what: string, at: number, expected: string, got: string) =>
    new DataError(what, { where: `${path}:${at}`, expected, got, fix: "pass a zip archive written by numpy.savez" });
  // The end record is 22 bytes plus a comment of at most 65535 bytes.
  const tailLen = Math.min(size, 22 + 65535);
  const tailStart = size - tailLen;
  const tail = readAt(fd, tailStart, tailLen, path, DataError);
  const tv = new DataView(tail.buffer);
  let eocd = -1;
  for (let i = tailLen - 22; i >= 0; i--) {
    if (tv.getUint32(i, true) === SIG_EOCD) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0)
    throw bad(
      "Not a zip archive (no end-of-central-directory record)",
      size,
      "a zip/.npz file",
      `${size} bytes without one`,
    );
  let count = tv.getUint16(eocd + 10, true);
  let cdSize = tv.getUint32(eocd + 12, true);
  let cdOffset = tv.getUint32(eocd + 16, true);
  if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
    const loc = eocd - 20;
    if (loc < 0 || tv.getUint32(loc, true) !== SIG_EOCD64_LOCATOR) {
      throw bad("zip64 end-of-central-directory locator is missing", tailStart + eocd, "a zip64 locator", "none");
    }
    const recAt = Number(tv.getBigUint64(loc + 8, true));
    const rec = new DataView(readAt(fd, recAt, 56, path, DataError).buffer);
    if (rec.getUint32(0, true) !== SIG_EOCD64)
      throw bad("zip64 end record signature is wrong", recAt, hex(SIG_EOCD64), hex(rec.getUint32(0, true)));
    count = Number(rec.getBigUint64(32, true));
    cdSize = Number(rec.getBigUint64(40, true));
    cdOffset = Number(rec.getBigUint64(48, true));
  }
  if (cdOffset + cdSize > size) {
    throw bad("zip central directory runs past the end of the file", cdOffset, `<= ${size}`, `${cdOffset + cdSize}`);
  }
  const cd = readAt(fd, cdOffset, cdSize, path, DataError);
  const v = new DataView(cd.buffer);
  const entries: ZipEntry[] = [];
  let p = 0;
  for (let k = 0; k < count; k++) {
    if (p + 46 > cd.length || v.getUint32(p, true) !== SIG_CENTRAL) {
      throw bad(
        "zip central directory record is corrupt",
        cdOffset + p,
        hex(SIG_CENTRAL),
        p + 4 <= cd.length ? hex(v.getUint32(p, true)) : "end of data",
      );
    }
    const flags = v.getUint16(p + 8, true);
    const nameLen = v.getUint16(p + 28, true);
    const extraLen = v.getUint16(p + 30, true);
    const commentLen = v.getUint16(p + 32, true);
    const name = Buffer.from(cd.subarray(p + 46, p + 46 + nameLen)).toString(flags & 0x800 ? "utf8" : "latin1");
    const e: ZipEntry = {
      name,
      method: v.getUint16(p + 10, true),
      crc32: v.getUint32(p + 16, true),
      compressedSize: v.getUint32(p + 20, true),
      size: v.getUint32(p + 24, true),
      localHeaderOffset: v.getUint32(p + 42, true),
    };
    applyZip64Extra(e, cd.subarray(p + 46 + nameLen, p + 46 + nameLen + extraLen));
    if (flags & 1) throw bad("Encrypted zip members are not supported", cdOffset + p, "unencrypted", name);
    if (e.method !== 0 && e.method !== 8) {
      throw bad(
        "Unsupported zip compression method",
        cdOffset + p,
        "0 (stored) or 8 (deflate)",
        `${e.method} for ${name}`,
      );
    }
    if (e.localHeaderOffset + 30 + e.compressedSize > size) {
      throw bad(
        "zip member data runs past the end of the file (truncated archive)",
        e.localHeaderOffset,
        `<= ${size} bytes`,
        `${e.localHeaderOffset + 30 + e.compressedSize}`,
      );
    }
    entries.push(e);
    p += 46 + nameLen + extraLen + commentLen;
  }
  return entries;
}

/** Replaces 0xFFFFFFFF sizes and offsets with the 64-bit values in the zip64 extra field (id 1). */
function applyZip64Extra(e: ZipEntry, extra: Uint8Array): void {
  const v = new DataView(extra.buffer, extra.byteOffset, extra.byteLength);
  for (let q = 0; q + 4 <= extra.length;) {
    const id = v.getUint16(q, true);
    const len = v.getUint16(q + 2, true);
    if (id === 1) {
      let r = q + 4;
      const next = (): number => {
        const x = Number(v.getBigUint64(r, true));
        r += 8;
        return x;
      };
      if (e.size === 0xffffffff) e.size = next();
      if (e.compressedSize === 0xffffffff) e.compressedSize = next();
      if (e.localHeaderOffset === 0xffffffff) e.localHeaderOffset = next();
    }
    q += 4 + len;
  }
}

let CRC_TABLE: Uint32Array | undefined;

/** CRC-32 (IEEE), as zip stores it. */
export function crc32(data: Uint8Array): number {
  if (!CRC_TABLE) {
    CRC_TABLE = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      CRC_TABLE[n] = c >>> 0;
    }
  }
  let c = 0xffffffff;
  for (let i = 0; i < data.length; i++) c = CRC_TABLE[(c ^ data[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function hex(n: number): string {
  return `0x${(n >>> 0).toString(16).padStart(8, "0")}`;
}
