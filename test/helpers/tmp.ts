/** Temporary folders for tests: a fresh one per call, under the OS temp dir, named by `prefix`. */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

/** A new empty folder `<tmpdir>/<prefix>XXXXXX`. */
export function tmpDir(prefix = "peftlab-test-"): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}
