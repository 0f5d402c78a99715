/**
 * V8 code cache for the kernel's TypeScript (an 8 MB CommonJS bundle): the worker compiles it from cached bytecode
 * instead of from source. The cache is written once, after the worker's warm-up, so it holds the functions that
 * building a program and compiling the prelude ran (V8 compiles functions lazily; a cache taken right after loading
 * would hold only the top level). Node 20 has no module.enableCompileCache (Node 22.1), hence this small loader.
 *
 * Safe by construction: the cache file is named by the module's source hash, V8 checks its version, its flags and a
 * checksum and rejects a mismatch (then the module compiles from source and a fresh cache is written), writes are
 * atomic (temporary file, rename), and an unwritable cache folder only costs the speed-up.
 */
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import Module from "node:module";
import * as os from "node:os";
import * as path from "node:path";
import * as vm from "node:vm";

/**
 * The kernel's cache folder: `PEFTLAB_CACHE`/kernel, default ~/.cache/peftlab/kernel. The same root as peftlab's
 * `cacheRoot()` (lib/paths.ts; a test holds them equal): the worker reads it before peftlab is loaded.
 */
export function kernelCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const root =
    env.PEFTLAB_CACHE && env.PEFTLAB_CACHE !== "" ? env.PEFTLAB_CACHE : path.join(os.homedir(), ".cache", "peftlab");
  return path.join(root, "kernel");
}

/** How loading went: "hit" (cache accepted), "miss" (none), "rejected" (stale), "off" (no cache folder). */
export type CacheUse = "hit" | "miss" | "rejected" | "off";

export interface CachedModule<T> {
  exports: T;
  use: CacheUse;
  /** The cache file (absent when off). */
  file?: string;
  /**
   * Writes the cache from the functions compiled so far, unless it was a hit; returns what it did ("written",
   * "kept", or why not). Call it after the module did its typical work.
   */
  save(): string;
}

/**
 * The cache file for a module: named by a hash of its source (so an edited or reinstalled module never meets a stale
 * cache; hashing 8 MB takes about 20 ms) and by node's version and architecture.
 */
export function cacheFileFor(file: string, dir: string, source = fs.readFileSync(file, "utf8")): string {
  const hash = crypto
    .createHash("sha256")
    .update([process.version, process.arch, source].join("\0"))
    .digest("hex")
    .slice(0, 16);
  return path.join(dir, `${path.basename(file, ".js")}-${hash}.v8cache`);
}

/**
 * Requires the CommonJS module `request` (resolved from `fromFile`) through the code cache in `dir`, and registers it
 * in Node's module cache, so later `require(request)` calls (tslab's) get the same exports. A module that is already
 * loaded is returned as is ("off"). `dir` null: no cache.
 */
export function requireWithCodeCache<T>(request: string, fromFile: string, dir: string | null): CachedModule<T> {
  const req = Module.createRequire(fromFile);
  const file = req.resolve(request);
  const loaded = req.cache[file];
  if (dir === null || loaded !== undefined) {
    return { exports: req(request) as T, use: "off", save: () => "off" };
  }
  const source = fs.readFileSync(file, "utf8");
  const cacheFile = cacheFileFor(file, dir, source);
  let cached: Buffer | undefined;
  try {
    cached = fs.readFileSync(cacheFile);
  } catch {
    cached = undefined; // none yet (or unreadable): compile from source
  }
  const script = new vm.Script(Module.wrap(source), { filename: file, cachedData: cached });
  const use: CacheUse = cached === undefined ? "miss" : script.cachedDataRejected === true ? "rejected" : "hit";
  const mod = new Module(file, require.main ?? undefined);
  mod.filename = file;
  mod.paths = (Module as unknown as { _nodeModulePaths(d: string): string[] })._nodeModulePaths(path.dirname(file));
  const wrapper = script.runInThisContext() as (...a: unknown[]) => void;
  req.cache[file] = mod;
  try {
    wrapper.call(mod.exports, mod.exports, Module.createRequire(file), mod, file, path.dirname(file));
  } catch (e) {
    delete req.cache[file];
    throw e;
  }
  mod.loaded = true;
  return {
    exports: mod.exports as T,
    use,
    file: cacheFile,
    save: () => {
      if (use === "hit") return "kept";
      try {
        const data = script.createCachedData();
        fs.mkdirSync(dir, { recursive: true });
        const tmp = `${cacheFile}.${process.pid}.${Date.now()}.tmp`;
        fs.writeFileSync(tmp, data);
        fs.renameSync(tmp, cacheFile);
        return "written";
      } catch (e) {
        return `not written (${e instanceof Error ? e.message : String(e)})`;
      }
    },
  };
}
