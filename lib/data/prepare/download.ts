/**
 * The one downloader every data-script and `peftlab weights get` use: HTTPS (or HTTP to 127.0.0.1 for tests), resume
 * with HTTP Range into `<dest>.part`, retries, md5/sha256 verification, atomic rename into place, progress on a TTY.
 * Secrets in `headers` (an HF token) are sent, never printed or written.
 */
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { SingleBar, Presets } from "cli-progress";
import { DataError } from "../../errors";

export interface DownloadOptions {
  url: string;
  /** Final path; the partial file is `<dest>.part`. */
  dest: string;
  md5?: string;
  sha256?: string;
  /** Expected byte size when the source publishes it. */
  size?: number;
  headers?: Record<string, string>;
  /** Network attempts (each resumes where the last stopped). Default 5. */
  retries?: number;
  /** Progress bar on stderr (default: when stderr is a TTY). */
  progress?: boolean;
  /** Log line sink (default: stderr). */
  log?: (line: string) => void;
}

export interface DownloadResult {
  path: string;
  bytes: number;
  /** Attempts that resumed a partial file with a Range request. */
  resumes: number;
  skipped: boolean;
  md5: string;
  sha256: string;
}

/** Downloads `url` to `dest` with resume and checksum verification; an existing verified file is kept. */
export async function download(o: DownloadOptions): Promise<DownloadResult> {
  checkUrl(o.url);
  fs.mkdirSync(path.dirname(path.resolve(o.dest)), { recursive: true });
  const log = o.log ?? ((s: string) => process.stderr.write(s + "\n"));
  if (fs.existsSync(o.dest)) {
    const h = await hashFile(o.dest);
    if (matches(o, h, fs.statSync(o.dest).size))
      return { path: o.dest, bytes: fs.statSync(o.dest).size, resumes: 0, skipped: true, ...h };
    log(`${o.dest}: existing file fails its checksum; downloading again`);
    fs.rmSync(o.dest);
  }
  const part = `${o.dest}.part`;
  const retries = o.retries ?? 5;
  let resumes = 0;
  let lastErr: unknown;
  for (let attempt = 0; attempt < retries; attempt++) {
    const have = fs.existsSync(part) ? fs.statSync(part).size : 0;
    if (have > 0) resumes++;
    try {
      await fetchInto(o, part, have);
      lastErr = undefined;
      break;
    } catch (e) {
      lastErr = e;
      if (e instanceof DataError) throw e;
      // An unknown host will not resolve on a retry (offline machine, typo in --base-url): stop at once.
      if (networkCode(e) === "ENOTFOUND") break;
      if (attempt + 1 < retries) {
        log(`${o.url}: ${networkError(e)}; retrying (${attempt + 1}/${retries - 1})`);
        await new Promise((r) => setTimeout(r, Math.min(8000, 250 * 2 ** attempt)));
      }
    }
  }
  if (lastErr !== undefined) {
    throw new DataError("Download failed", {
      where: o.url,
      expected: "a complete download",
      got: networkError(lastErr),
      fix:
        "check the network (or pass --base-url with a reachable mirror) and run the command again; " +
        "it resumes where it stopped",
    });
  }
  const bytes = fs.statSync(part).size;
  const h = await hashFile(part);
  if (!matches(o, h, bytes)) {
    fs.rmSync(part);
    const which = o.sha256
      ? ["sha256", o.sha256, h.sha256]
      : o.md5
        ? ["md5", o.md5, h.md5]
        : ["size", String(o.size), String(bytes)];
    throw new DataError(`Checksum mismatch for downloaded file (${which[0]})`, {
      where: `${o.url} → ${o.dest}`,
      expected: which[1],
      got: which[2],
      fix: "the partial file was deleted; run again. If it fails again, the source changed: check its page",
    });
  }
  fs.renameSync(part, o.dest);
  return { path: o.dest, bytes, resumes, skipped: false, ...h };
}

/** The system error code under a fetch failure (undici puts it in `cause`), e.g. ENOTFOUND or ECONNREFUSED. */
function networkCode(e: unknown): string | undefined {
  const cause = (e as { cause?: { code?: unknown } } | undefined)?.cause;
  return typeof cause?.code === "string" ? cause.code : undefined;
}

/** A one-line description of a network failure, naming its cause ("fetch failed" alone says nothing). */
export function networkError(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  const cause = (e as { cause?: unknown } | undefined)?.cause;
  const detail = cause instanceof Error ? cause.message : networkCode(e);
  return detail && !msg.includes(detail) ? `${msg} (${detail})` : msg;
}

function checkUrl(url: string): void {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new DataError("Not a valid URL", {
      where: url,
      expected: "an absolute https://… URL",
      got: JSON.stringify(url),
      fix: "check --base-url / --url / --endpoint",
    });
  }
  const local = u.hostname === "127.0.0.1" || u.hostname === "localhost";
  if (u.protocol !== "https:" && !(local && u.protocol === "http:")) {
    throw new DataError("Downloads must use HTTPS", {
      where: url,
      expected: "https://…",
      got: u.protocol,
      fix: "use the https URL of the source",
    });
  }
}

function matches(o: DownloadOptions, h: { md5: string; sha256: string }, size: number): boolean {
  if (o.size !== undefined && size !== o.size) return false;
  if (o.sha256 && h.sha256 !== o.sha256.toLowerCase()) return false;
  if (o.md5 && h.md5 !== o.md5.toLowerCase()) return false;
  return true;
}

/** Streams the body into `part` from byte `have`; returns true when the file is complete. */
async function fetchInto(o: DownloadOptions, part: string, have: number): Promise<boolean> {
  const headers: Record<string, string> = { "user-agent": "peftlab-data", ...(o.headers ?? {}) };
  if (have > 0) headers.range = `bytes=${have}-`;
  const res = await fetch(o.url, { headers, redirect: "follow" });
  if (res.status === 416 && have > 0) return true; // Range past the end: the part file is already whole
  if (res.status === 401 || res.status === 403 || res.status === 404) {
    throw new DataError(`Server answered ${res.status}`, {
      where: o.url,
      expected: "200 or 206",
      got: `${res.status} ${res.statusText}`,
      fix:
        res.status === 404
          ? "the file moved: check the source's page"
          : "this source needs a login or token (see data-scripts/README.md)",
    });
  }
  if (!res.ok || !res.body) throw new Error(`HTTP ${res.status} ${res.statusText}`);
  const append = res.status === 206 && have > 0;
  const total = Number(res.headers.get("content-length") ?? 0) + (append ? have : 0);
  const out = fs.createWriteStream(part, { flags: append ? "a" : "w" });
  const bar =
    (o.progress ?? process.stderr.isTTY)
      ? new SingleBar(
          { format: `${path.basename(o.dest)} [{bar}] {percentage}% {value}/{total} B` },
          Presets.shades_classic,
        )
      : undefined;
  bar?.start(total || 0, append ? have : 0);
  let got = append ? have : 0;
  try {
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      if (!out.write(chunk)) await new Promise<void>((r) => out.once("drain", () => r()));
      got += chunk.length;
      bar?.update(got);
    }
  } finally {
    bar?.stop();
    await new Promise<void>((r, j) => out.end((e?: Error | null) => (e ? j(e) : r())));
  }
  if (total > 0 && got < total) throw new Error(`connection closed after ${got} of ${total} bytes`);
  return true;
}

/** md5 and sha256 of a file, streamed. */
export async function hashFile(file: string): Promise<{ md5: string; sha256: string }> {
  const md5 = crypto.createHash("md5");
  const sha = crypto.createHash("sha256");
  for await (const chunk of fs.createReadStream(file, { highWaterMark: 1 << 20 })) {
    md5.update(chunk as Buffer);
    sha.update(chunk as Buffer);
  }
  return { md5: md5.digest("hex"), sha256: sha.digest("hex") };
}
