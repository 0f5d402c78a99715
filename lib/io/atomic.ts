/** Atomic file writes: write a temporary file in the same folder, fsync, then rename over the target. */
import * as fs from "node:fs";
import * as path from "node:path";
import type { ErrorDetail, PeftlabError } from "../errors";

/** Writes `data` to `file` atomically: readers see the old file or the new one, never a partial one. */
export function writeFileAtomic(file: string, data: Uint8Array | string): void {
  const dir = path.dirname(path.resolve(file));
  fs.mkdirSync(dir, { recursive: true });
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.${Date.now()}.tmp`);
  const fd = fs.openSync(tmp, "w");
  try {
    fs.writeSync(fd, typeof data === "string" ? Buffer.from(data, "utf8") : data);
    fs.fsyncSync(fd);
  } catch (e) {
    fs.closeSync(fd);
    fs.rmSync(tmp, { force: true }); // a full disk must not also keep the partial temporary file
    throw e;
  }
  fs.closeSync(fd);
  try {
    fs.renameSync(tmp, file);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
}

/** Writes several buffers (header then body, say) to `file` atomically without concatenating them in memory. */
export function writeChunksAtomic(file: string, chunks: Iterable<Uint8Array>): void {
  const dir = path.dirname(path.resolve(file));
  fs.mkdirSync(dir, { recursive: true });
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.${Date.now()}.tmp`);
  const fd = fs.openSync(tmp, "w");
  try {
    for (const c of chunks) fs.writeSync(fd, c);
    fs.fsyncSync(fd);
  } catch (e) {
    fs.closeSync(fd);
    fs.rmSync(tmp, { force: true });
    throw e;
  }
  fs.closeSync(fd);
  try {
    fs.renameSync(tmp, file);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
}

/** OS error codes of a write that failed for lack of space or permission, with what to do about each. */
const WRITE_FIXES: Record<string, string> = {
  ENOSPC: "the disk is full: free space (or point the folder at a bigger disk) and resume",
  EDQUOT: "the disk quota is exhausted: free space within the quota and resume",
  EROFS: "the file system is read-only: point the folder at a writable disk and resume",
  EACCES: "the folder is not writable by this user: fix its permissions or choose another folder, then resume",
  EPERM: "the folder is not writable by this user: fix its permissions or choose another folder, then resume",
};

/**
 * Turns an OS error from a write (ENOSPC, EROFS, EACCES, ...) into `Err` naming the file and the code; other errors
 * (peftlab's own included) are returned unchanged. `what` says what was being written.
 */
export function writeFailure(
  e: unknown,
  where: string,
  what: string,
  Err: new (what: string, d?: ErrorDetail) => PeftlabError,
): unknown {
  const code = (e as NodeJS.ErrnoException)?.code;
  if (typeof code !== "string" || !/^E[A-Z]+$/.test(code)) return e;
  return new Err(`Cannot write ${what}`, {
    where: (e as NodeJS.ErrnoException).path ?? where,
    expected: "a successful write",
    got: `${code} (${(e as Error).message.split(",")[0]})`,
    fix: WRITE_FIXES[code] ?? "check the folder is writable and has free space, then resume",
  });
}
