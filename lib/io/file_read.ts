/** Positioned reads with typed errors, shared by the lazy checkpoint and archive readers. */
import * as fs from "node:fs";
import type { CheckpointError, DataError } from "../errors";

/** The error class a reader throws (CheckpointError for weights, DataError for data archives). */
export type ReadErrorClass = typeof CheckpointError | typeof DataError;

/** Opens `path` read-only, or throws `Err` naming the path and the OS error code. */
export function openForRead(path: string, Err: ReadErrorClass, what: string): number {
  try {
    return fs.openSync(path, "r");
  } catch (e) {
    throw new Err(`Cannot open ${what}`, {
      where: path,
      expected: `a readable ${what}`,
      got: (e as NodeJS.ErrnoException).code ?? (e as Error).message,
      fix: "check the path (relative paths resolve from the working directory)",
    });
  }
}

/** Reads exactly `length` bytes at `position` into a fresh buffer (so typed-array views on it are aligned). */
export function readAt(fd: number, position: number, length: number, where: string, Err: ReadErrorClass): Uint8Array {
  const out = new Uint8Array(new ArrayBuffer(length));
  let done = 0;
  while (done < length) {
    const n = fs.readSync(fd, out, done, Math.min(length - done, 1 << 30), position + done);
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
