/**
 * The TypeScript prelude run through tslab's executor before the first cell, so `peftlab`, `tf`, `aq` and the display
 * helpers are imported and typed in every cell. Configurable: `--prelude PATH` / `--no-prelude` (kernelspec argv) win
 * over `PEFTLAB_PRELUDE` (a path, or `none` to disable), which wins over the default below.
 */
import { ConfigError } from "../lib";
import { choosePrelude, type PreludeChoice } from "./prelude_code";

export { DEFAULT_PRELUDE, SINK_LOCAL, type PreludeChoice } from "./prelude_code";

/** Decides the prelude from argv options and the environment; a prelude file that does not exist is a ConfigError. */
export function resolvePrelude(
  opts: { preludePath?: string; noPrelude?: boolean },
  env: NodeJS.ProcessEnv = process.env,
): PreludeChoice {
  const c = choosePrelude(opts, env);
  if (c.missing) {
    throw new ConfigError("Prelude file not found", {
      where: c.missing.where,
      expected: "a readable .ts file",
      got: c.missing.file,
      fix: "point it at an existing file, or use PEFTLAB_PRELUDE=none / --no-prelude to disable the prelude",
    });
  }
  return { code: c.code, source: c.source };
}
