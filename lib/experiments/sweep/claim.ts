/**
 * Atomic run claims, so two executors on one sweep (two shells, a local run next to a Slurm array, two array tasks)
 * never run the same id at once. A claim is `claims/<id>.lock`, created with O_EXCL (`wx`), holding who took it;
 * the holder touches it every `heartbeatMs`. A lock is stale when its holder's process is gone (same host) or it has
 * not been touched for `staleMs` (another host, a frozen node). Breaking a stale lock is itself claimed (O_EXCL
 * `<id>.break`), and the lock is re-read under it, so two executors that both find it stale cannot both take it.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { randomBytes } from "node:crypto";

/** What a lock file holds. */
export interface ClaimInfo {
  id: string;
  host: string;
  pid: number;
  /** "local", "in-process", "slurm" … */
  executor: string;
  /** Slurm `<array job>_<task>` when run by an array task. */
  job?: string;
  claimedAt: string;
  /** Random; release only removes a lock with its own token. */
  token: string;
}

/** Timing of claims (defaults: heartbeat 15 s, stale after 120 s without one). */
export interface ClaimTiming {
  heartbeatMs?: number;
  staleMs?: number;
}

/** A held claim. */
export interface Claim {
  info: ClaimInfo;
  file: string;
  release(): void;
}

function lockFile(dir: string, id: string): string {
  return path.join(dir, "claims", `${id}.lock`);
}

/** Reads a lock (undefined when absent or unreadable mid-write). */
export function readClaim(dir: string, id: string): { info: ClaimInfo; mtimeMs: number } | undefined {
  const file = lockFile(dir, id);
  try {
    const st = fs.statSync(file);
    return { info: JSON.parse(fs.readFileSync(file, "utf8")) as ClaimInfo, mtimeMs: st.mtimeMs };
  } catch {
    return undefined;
  }
}

/** Whether a process id is alive on this host. */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Why a lock is stale, or undefined while its holder is alive. */
export function staleReason(c: { info: ClaimInfo; mtimeMs: number }, timing: ClaimTiming = {}): string | undefined {
  const staleMs = timing.staleMs ?? 120_000;
  if (c.info.host === os.hostname() && !pidAlive(c.info.pid))
    return `its holder (pid ${c.info.pid} on ${c.info.host}) is gone`;
  const age = Date.now() - c.mtimeMs;
  if (age > staleMs)
    return `its holder (pid ${c.info.pid} on ${c.info.host}) sent no heartbeat for ${Math.round(age / 1000)} s`;
  return undefined;
}

function createLock(file: string, info: ClaimInfo): boolean {
  let fd: number;
  try {
    fd = fs.openSync(file, "wx");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw e;
  }
  try {
    fs.writeSync(fd, JSON.stringify(info));
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  return true;
}

/** Removes a stale lock under the `.break` claim; true when it was removed by us. */
function breakStale(dir: string, id: string, token: string, timing: ClaimTiming): boolean {
  const brk = path.join(dir, "claims", `${id}.break`);
  try {
    fs.closeSync(fs.openSync(brk, "wx"));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
    // A breaker that died mid-break leaves the file: clear it after a while; the next attempt retries.
    try {
      if (Date.now() - fs.statSync(brk).mtimeMs > (timing.staleMs ?? 120_000)) fs.rmSync(brk, { force: true });
    } catch {
      /* gone already */
    }
    return false;
  }
  try {
    const again = readClaim(dir, id);
    if (again === undefined || again.info.token !== token || staleReason(again, timing) === undefined) return false;
    fs.rmSync(lockFile(dir, id), { force: true });
    return true;
  } finally {
    fs.rmSync(brk, { force: true });
  }
}

/**
 * Tries to claim a run: the claim, or null when a live executor holds it. A stale lock is broken and taken over
 * (`onStale` hears why, so the caller can record the lost attempt as failed).
 */
export function tryClaim(
  dir: string,
  id: string,
  who: Pick<ClaimInfo, "executor" | "job">,
  timing: ClaimTiming = {},
  onStale?: (prev: ClaimInfo, reason: string) => void,
): Claim | null {
  fs.mkdirSync(path.join(dir, "claims"), { recursive: true });
  const file = lockFile(dir, id);
  const info: ClaimInfo = {
    id,
    host: os.hostname(),
    pid: process.pid,
    executor: who.executor,
    ...(who.job ? { job: who.job } : {}),
    claimedAt: new Date().toISOString(),
    token: randomBytes(8).toString("hex"),
  };
  if (!createLock(file, info)) {
    const cur = readClaim(dir, id);
    if (cur === undefined) return null; // being written or just released: let the next pass decide
    const why = staleReason(cur, timing);
    if (why === undefined || !breakStale(dir, id, cur.info.token, timing)) return null;
    onStale?.(cur.info, why);
    if (!createLock(file, info)) return null;
  }
  const beat = setInterval(() => {
    try {
      const now = new Date();
      fs.utimesSync(file, now, now);
    } catch {
      /* released or broken */
    }
  }, timing.heartbeatMs ?? 15_000);
  beat.unref();
  let released = false;
  return {
    info,
    file,
    release() {
      if (released) return;
      released = true;
      clearInterval(beat);
      const cur = readClaim(dir, id);
      if (cur?.info.token === info.token) fs.rmSync(file, { force: true });
    },
  };
}
