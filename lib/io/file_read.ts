/** Positioned reads with typed errors, shared by the lazy checkpoint and archive readers. */
import * as fs from "node:fs";
import type { ErrorDetail, PeftlabError } from "../errors";

/** The error class a reader throws (CheckpointError for weights, DataError for data, ConfigError for configs). */
export type ReadErrorClass = new (what: string, detail?: ErrorDetail) => PeftlabError;

/** What a path is when it is not a regular file, for error messages ("a directory", "a FIFO", ...). */
function kindOf(st: fs.Stats): string {
  if (st.isDirectory()) return "a directory";
  if (st.isFIFO()) return "a FIFO (named pipe)";
  if (st.isSocket()) return "a socket";
  if (st.isCharacterDevice()) return "a character device";
  if (st.isBlockDevice()) return "a block device";
  return "not a regular file";
}

/**
 * Throws `Err` naming `path` unless it is a readable regular file (symlinks are followed). Checked before opening, so
 * a FIFO is refused instead of blocking the open, and a directory is refused instead of failing later with EISDIR.
 */
export function checkRegularFile(path: string, Err: ReadErrorClass, what: string): void {
  let st: fs.Stats;
  try {
    st = fs.statSync(path);
  } catch (e) {
    throw new Err(`Cannot open ${what}`, {
      where: path,
      expected: `a readable ${what}`,
      got: (e as NodeJS.ErrnoException).code ?? (e as Error).message,
      fix: "check the path (relative paths resolve from the working directory)",
    });
  }
  if (!st.isFile()) {
    throw new Err(`Cannot read ${what}: the path is not a file`, {
      where: path,
      expected: `a regular ${what}`,
      got: kindOf(st),
      fix: st.isDirectory() ? `pass the ${what} inside the folder, not the folder itself` : `pass a regular ${what}`,
    });
  }
}

/** Opens `path` read-only, or throws `Err` naming the path and the OS error code (directories and FIFOs included). */
export function openForRead(path: string, Err: ReadErrorClass, what: string): number {
  checkRegularFile(path, Err, what);
  try {
    return fs.openSync(path, "r");
  } catch (e) {
    throw new Err(`Cannot open ${what}`, {
      where: path,
      expected: `a readable ${what}`,
      got: (e as NodeJS.ErrnoException).code ?? (e as Error).message,
      fix:
        (e as NodeJS.ErrnoException).code === "EACCES"
          ? "the file is not readable by this user; fix its permissions (chmod u+r)"
          : "check the path (relative paths resolve from the working directory)",
    });
  }
}

/** Reads a whole regular file as UTF-8 text, or throws `Err` naming the path (see readWholeFile). */
export function readTextFile(path: string, Err: ReadErrorClass, what: string): string {
  return Buffer.from(readWholeFile(path, Err, what)).toString("utf8");
}

/** Reads a whole regular file, or throws `Err` naming the path (directories, FIFOs, missing or unreadable files). */
export function readWholeFile(path: string, Err: ReadErrorClass, what: string): Uint8Array {
  const fd = openForRead(path, Err, what);
  try {
    const size = fs.fstatSync(fd).size;
    return readAt(fd, 0, size, path, Err);
  } finally {
    fs.closeSync(fd);
  }
}

/** Reads exactly `length` bytes at `position` into a fresh buffer (so typed-array views on it are aligned). */
export function readAt(fd: number, position: number, length: number, where: string, Err: ReadErrorClass): Uint8Array {
  // Sizes and offsets usually come from the file itself: check them against the file before allocating anything.
  const size = fs.fstatSync(fd).size;
  if (!Number.isSafeInteger(position) || !Number.isSafeInteger(length) || position < 0 || length < 0) {
    throw new Err("Invalid read range (corrupt size or offset field)", {
      where: `${where}:${position}`,
      expected: "a non-negative offset and length",
      got: `offset ${position}, length ${length}`,
      fix: "the file is corrupt; re-create or re-download it",
    });
  }
  if (position + length > size) {
    throw new Err("Unexpected end of file", {
      where: `${where}:${Math.min(position, size)}`,
      expected: `${length} bytes at offset ${position}`,
      got: `a ${size}-byte file`,
      fix: "the file is truncated or a size field is corrupt; re-create or re-download it",
    });
  }
  const out = new Uint8Array(new ArrayBuffer(length));
  let done = 0;
  while (done < length) {
    let n: number;
    try {
      n = fs.readSync(fd, out, done, Math.min(length - done, 1 << 30), position + done);
    } catch (e) {
      throw new Err("Cannot read file", {
        where: `${where}:${position + done}`,
        expected: `${length} bytes at offset ${position}`,
        got: (e as NodeJS.ErrnoException).code ?? (e as Error).message,
        fix: "check that the path is a readable regular file",
      });
    }
    if (n === 0) {
      throw new Err("Unexpected end of file", {
        where: `${where}:${position + done}`,
        expected: `${length} bytes at offset ${position}`,
        got: `${done} bytes`,
        fix: "the file is truncated or changed while being read; re-create it and retry",
      });
    }
    done += n;
  }
  return out;
}
