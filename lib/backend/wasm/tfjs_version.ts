/**
 * peftlab's wasm kernels drive tfjs-backend-wasm's internals (its `dataIdMap`, `Module.asm.memory`, `_malloc`) and
 * replace kernels by tfjs-core's registry semantics, so they run only on the exact tfjs release they were written
 * against (package.json pins every @tensorflow/* package to it). The check runs before the overrides are installed,
 * as kernel-ext checks tslab's version before driving its internals.
 */
import * as tf from "@tensorflow/tfjs";
import { BackendError } from "../../errors";

/** The tfjs release (tfjs-core and tfjs-backend-wasm) the kernels were written against. */
export const TFJS_VERSION = "4.22.0";

/** The versions of tfjs-core and tfjs-backend-wasm loaded in this process. */
export function loadedTfjsVersions(): { "tfjs-core": string; "tfjs-backend-wasm": string } {
  const wasm = require("@tensorflow/tfjs-backend-wasm") as { version_wasm: string };
  return { "tfjs-core": tf.version_core, "tfjs-backend-wasm": wasm.version_wasm };
}

/** Throws a BackendError unless both packages are exactly TFJS_VERSION. */
export function checkTfjsVersions(loaded = loadedTfjsVersions()): void {
  for (const [pkg, version] of Object.entries(loaded)) {
    if (version === TFJS_VERSION) continue;
    throw new BackendError(`Unsupported @tensorflow/${pkg} version for peftlab's wasm kernels`, {
      where: `node_modules/@tensorflow/${pkg}`,
      expected: TFJS_VERSION,
      got: version,
      fix:
        `npm install --save-exact @tensorflow/tfjs@${TFJS_VERSION} @tensorflow/tfjs-backend-wasm@${TFJS_VERSION} ` +
        "(the kernels use tfjs-backend-wasm's internals), or set PEFTLAB_KERNELS=tfjs to run tfjs's own kernels",
    });
  }
}
