/** Where shared data lives: `PEFTLAB_SHARED`, default `../shared` beside the peftlab checkout (not the working directory). */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { ConfigError } from "./errors";

/**
 * The shared-data root, absolute: `PEFTLAB_SHARED` (resolved against the working directory), else `shared/` beside
 * the peftlab checkout (`<packageRoot>/../shared`), so a notebook whose working directory is notebooks/ finds it too.
 */
export function sharedRoot(env: NodeJS.ProcessEnv = process.env): string {
  if (env.PEFTLAB_SHARED && env.PEFTLAB_SHARED !== "") return path.resolve(env.PEFTLAB_SHARED);
  return path.resolve(packageRoot(), "..", "shared");
}

/** peftlab's cache root: `PEFTLAB_CACHE`, default ~/.cache/peftlab (features, the kernel's code cache). */
export function cacheRoot(env: NodeJS.ProcessEnv = process.env): string {
  return env.PEFTLAB_CACHE && env.PEFTLAB_CACHE !== ""
    ? env.PEFTLAB_CACHE
    : path.join(os.homedir(), ".cache", "peftlab");
}

/** A path inside the shared root. */
export function sharedPath(...parts: string[]): string {
  return path.join(sharedRoot(), ...parts);
}

/** True when the shared root exists (developer machines and CI; not a user's machine). */
export function hasShared(): boolean {
  return fs.existsSync(sharedRoot());
}

/** Expands `${VAR}` references (e.g. `${PEFTLAB_SHARED}`) from the environment; unknown variables are an error. */
export function expandEnv(s: string, env: NodeJS.ProcessEnv = process.env): string {
  return s.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_m, name: string) => {
    if (name === "PEFTLAB_SHARED") return sharedRoot(env);
    const v = env[name];
    if (v === undefined) {
      throw new ConfigError(`Environment variable ${name} is not set`, {
        where: JSON.stringify(s),
        expected: `\${${name}} to be defined`,
        got: "undefined",
        fix: `export ${name}=... before running, or write the path literally`,
      });
    }
    return v;
  });
}

/** The root of the peftlab package (the nearest folder above this file whose package.json is peftlab's; from lib/ and dist/lib/). */
export function packageRoot(from = __dirname): string {
  for (let d = from; ; d = path.dirname(d)) {
    const pj = path.join(d, "package.json");
    try {
      if (fs.existsSync(pj) && (JSON.parse(fs.readFileSync(pj, "utf8")) as { name?: string }).name === "peftlab")
        return d;
    } catch {
      // not ours (unreadable or not JSON): keep climbing
    }
    if (path.dirname(d) === d) return path.resolve(from, path.basename(from) === "lib" ? ".." : "../..");
  }
}
