/** Start-up chores of the kernel process that are not the prelude's business. */
import Module from "node:module";
import * as path from "node:path";

/**
 * Keeps tfjs's "Hi, looks like you are running TensorFlow.js in Node.js…" banner out of notebooks: the cpu backend
 * prints it on its first tensor write, so mark that write as done. Uses the tfjs that cells in `rootDir` import (after
 * the package aliases are installed). Returns false where tfjs or its cpu backend is unavailable.
 */
export function quietTfjsNodeBanner(rootDir: string): boolean {
  try {
    const req = Module.createRequire(path.join(rootDir, "__peftlab__.js"));
    const tf = req("@tensorflow/tfjs") as { findBackend(name: string): unknown };
    const cpu = tf.findBackend("cpu") as { firstUse?: boolean } | null;
    if (!cpu || !("firstUse" in cpu)) return false;
    cpu.firstUse = false;
    return true;
  } catch {
    return false;
  }
}
