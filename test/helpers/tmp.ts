/** Temporary folders for tests: a fresh one per call, under the OS temp dir, named by `prefix`. */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

/** A new empty folder `<tmpdir>/<prefix>XXXXXX`. */
export function tmpDir(prefix = "peftlab-test-"): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/**
 * A shared-data folder with a PBC-like image folder `<root>/data/pbc-jpeg/class<c>/<i>.jpg` (`classes` × `perClass`
 * empty files: for code that lists and splits the folder but never decodes it). Returns the root.
 */
export function fakePbcShared(prefix: string, classes = 8, perClass = 20): string {
  const root = tmpDir(prefix);
  for (let c = 0; c < classes; c++) {
    const d = path.join(root, "data", "pbc-jpeg", `class${c}`);
    fs.mkdirSync(d, { recursive: true });
    for (let i = 0; i < perClass; i++) fs.writeFileSync(path.join(d, `${i}.jpg`), "");
  }
  return root;
}
