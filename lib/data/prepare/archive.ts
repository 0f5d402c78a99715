/**
 * Archive extraction for the data-scripts: zip (fflate, streamed) and tar / tar.gz (the `tar` package). Entries that
 * would land outside the destination (`..`, absolute paths) are refused.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { Unzip, UnzipInflate } from "fflate";
import * as tar from "tar";
import { DataError } from "../../errors";

/** Extracts `archive` (.zip, .tar, .tar.gz, .tgz) into `dest`; `filter` picks entries by their path. Returns the
 * number of files written. */
export async function extractArchive(
  archive: string,
  dest: string,
  filter?: (entry: string) => boolean,
): Promise<number> {
  fs.mkdirSync(dest, { recursive: true });
  if (/\.zip$/i.test(archive)) return extractZip(archive, dest, filter);
  if (/\.(tar|tar\.gz|tgz)$/i.test(archive)) {
    let n = 0;
    await tar.x({
      file: archive,
      cwd: dest,
      filter: (p: string) => {
        const keep = safeJoin(dest, p, archive) !== undefined && (filter ? filter(p) : true);
        if (keep && !p.endsWith("/")) n++;
        return keep;
      },
    });
    return n;
  }
  throw new DataError("Unknown archive type", {
    where: archive,
    expected: ".zip, .tar, .tar.gz or .tgz",
    got: path.extname(archive),
  });
}

function safeJoin(dest: string, entry: string, archive: string): string | undefined {
  const target = path.resolve(dest, entry);
  if (path.isAbsolute(entry) || !target.startsWith(path.resolve(dest) + path.sep)) {
    throw new DataError("Archive entry escapes the destination folder", {
      where: `${archive}: ${entry}`,
      expected: "a relative path inside the archive",
      got: entry,
      fix: "do not extract this archive",
    });
  }
  return target;
}

async function extractZip(archive: string, dest: string, filter?: (entry: string) => boolean): Promise<number> {
  let n = 0;
  const writes: Promise<void>[] = [];
  const unzip = new Unzip((file) => {
    if (file.name.endsWith("/") || (filter && !filter(file.name))) return;
    const target = safeJoin(dest, file.name, archive)!;
    fs.mkdirSync(path.dirname(target), { recursive: true });
    const out = fs.createWriteStream(target);
    n++;
    writes.push(
      new Promise<void>((resolve, reject) => {
        out.on("error", reject);
        file.ondata = (err, chunk, final) => {
          if (err) return reject(err);
          out.write(chunk);
          if (final) out.end(() => resolve());
        };
        file.start();
      }),
    );
  });
  unzip.register(UnzipInflate);
  for await (const chunk of fs.createReadStream(archive, { highWaterMark: 1 << 20 })) unzip.push(chunk as Uint8Array);
  unzip.push(new Uint8Array(0), true);
  await Promise.all(writes);
  return n;
}
