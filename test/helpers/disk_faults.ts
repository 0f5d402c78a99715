/**
 * Disk faults for tests, injected into node:fs (which every peftlab module shares): writes to matching paths fail
 * with ENOSPC (a full disk) or EROFS (a read-only file system), as the kernel would report them. Restore with the
 * returned function. Only the calls peftlab's writers use are patched: openSync, writeSync, mkdirSync, renameSync.
 */
import type * as fs from "node:fs";
// The module object itself (not an import namespace of getters), so that patching it reaches every importer.
import fsModule = require("node:fs");

type FsFn = (...args: never[]) => unknown;

function osError(code: "ENOSPC" | "EROFS", syscall: string, p: string): NodeJS.ErrnoException {
  const text = code === "ENOSPC" ? "no space left on device" : "read-only file system";
  return Object.assign(new Error(`${code}: ${text}, ${syscall} '${p}'`), { code, errno: -28, syscall, path: p });
}

/**
 * From now on, writes to paths that `match` fail with `code`: for ENOSPC the file opens but its first write fails;
 * for EROFS the open (for writing), mkdir and rename fail.
 */
export function injectDiskFault(code: "ENOSPC" | "EROFS", match: (p: string) => boolean): () => void {
  const f = fsModule as unknown as Record<string, FsFn>;
  const orig = { openSync: f.openSync, writeSync: f.writeSync, mkdirSync: f.mkdirSync, renameSync: f.renameSync };
  const faulty = new Map<number, string>();
  const writing = (flags: unknown) => typeof flags === "string" && /[wa+]/.test(flags);
  f.openSync = ((p: fs.PathLike, flags?: unknown, mode?: unknown) => {
    const s = String(p);
    if (match(s) && writing(flags) && code === "EROFS") throw osError(code, "open", s);
    const fd = (orig.openSync as (...a: unknown[]) => number)(p, flags, mode);
    if (match(s) && writing(flags)) faulty.set(fd, s);
    else faulty.delete(fd);
    return fd;
  }) as FsFn;
  f.writeSync = ((fd: number, ...rest: unknown[]) => {
    const p = faulty.get(fd);
    if (p !== undefined) throw osError(code, "write", p);
    return (orig.writeSync as (...a: unknown[]) => number)(fd, ...rest);
  }) as FsFn;
  f.mkdirSync = ((p: fs.PathLike, ...rest: unknown[]) => {
    if (code === "EROFS" && match(String(p))) throw osError(code, "mkdir", String(p));
    return (orig.mkdirSync as (...a: unknown[]) => unknown)(p, ...rest);
  }) as FsFn;
  f.renameSync = ((a: fs.PathLike, b: fs.PathLike) => {
    if (code === "EROFS" && match(String(b))) throw osError(code, "rename", String(b));
    return (orig.renameSync as (...x: unknown[]) => unknown)(a, b);
  }) as FsFn;
  return () => Object.assign(f, orig);
}
