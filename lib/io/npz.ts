/**
 * NumPy .npz archives (numpy.savez / savez_compressed): a zip of .npy members. `NpzFile` lists members and reads
 * their headers without inflating them, then decodes one member at a time.
 */
import { DataError } from "../errors";
import { decodeNpy, npyHeaderEnd, parseNpyHeader, type NpyArray, type NpyHeader } from "./npy";
import { ZipReader, type ZipEntry } from "./zip";

/** What `NpzFile.describe` reports about one member, without decoding its data. */
export interface NpzMemberInfo extends NpyHeader {
  /** Member name without `.npy`. */
  name: string;
  /** Bytes the member occupies in the archive (compressed). */
  storedBytes: number;
  compressed: boolean;
}

/** A .npz archive opened for lazy reading. Call `close()` when done. */
export class NpzFile {
  private readonly byName: Map<string, ZipEntry>;

  private constructor(private readonly zip: ZipReader) {
    this.byName = new Map();
    for (const e of zip.entries) {
      if (e.name.endsWith("/")) continue; // directory entries carry no array
      this.byName.set(e.name.endsWith(".npy") ? e.name.slice(0, -4) : e.name, e);
    }
  }

  /** Opens `path` and reads its member list only. */
  static open(path: string): NpzFile {
    return new NpzFile(ZipReader.open(path));
  }

  /** The archive's path. */
  get path(): string {
    return this.zip.path;
  }

  /** Member names without `.npy`, in archive order. */
  keys(): string[] {
    return [...this.byName.keys()];
  }

  /** Whether the archive has a member of this name (without `.npy`). */
  has(name: string): boolean {
    return this.byName.has(name);
  }

  /** A member's dtype, shape and sizes, from its .npy header only. */
  describe(name: string): NpzMemberInfo {
    const e = this.entry(name);
    const where = this.where(name);
    let prefix = this.zip.readPrefix(e, 12);
    prefix = this.zip.readPrefix(e, npyHeaderEnd(prefix, where));
    const h = parseNpyHeader(prefix, where);
    return { ...h, name, storedBytes: e.compressedSize, compressed: e.method !== 0 };
  }

  /** Decodes one member. */
  get(name: string): NpyArray {
    const e = this.entry(name);
    return decodeNpy(this.zip.read(e), this.where(name));
  }

  /** Releases the file descriptor. */
  close(): void {
    this.zip.close();
  }

  private where(name: string): string {
    return `${this.zip.path}[${name}]`;
  }

  private entry(name: string): ZipEntry {
    const e = this.byName.get(name);
    if (e === undefined) {
      throw new DataError(`Array "${name}" is not in the .npz archive`, {
        where: this.zip.path,
        expected: `one of ${this.keys().join(", ")}`,
        got: JSON.stringify(name),
        fix: "use one of the listed names (without .npy)",
      });
    }
    return e;
  }
}

/** Reads every member of a .npz archive, keyed by name without `.npy`. */
export function readNpz(path: string): Record<string, NpyArray> {
  const f = NpzFile.open(path);
  try {
    const out: Record<string, NpyArray> = {};
    for (const k of f.keys()) out[k] = f.get(k);
    return out;
  } finally {
    f.close();
  }
}
