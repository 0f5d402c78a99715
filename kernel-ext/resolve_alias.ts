/**
 * Makes `import … from "peftlab"` (and the prelude's tf and arquero) resolve in notebooks that sit outside a project
 * with them in node_modules, e.g. this repository's own notebooks (the package has no self-link) or a notebook in /tmp.
 *
 * Both resolvers need it: TypeScript (tslab's converter reads files through ts.sys, as tslab itself does to serve
 * `import "tslab"`) and Node's require. Only packages that do not already resolve from the notebook folder are aliased,
 * so a real install always wins. Used only in the kernel process.
 */
import * as fs from "node:fs";
import Module from "node:module";
import * as path from "node:path";
import * as ts from "@tslab/typescript-for-tslab";

export interface PackageAlias {
  /** The package name as imported. */
  name: string;
  /** The package's root folder (holding its package.json). */
  dir: string;
}

/** The root of the peftlab package this file belongs to (works from kernel-ext/ and dist/kernel-ext/). */
export function peftlabRoot(from = __dirname): string {
  for (let d = from; ; d = path.dirname(d)) {
    const pj = path.join(d, "package.json");
    if (fs.existsSync(pj) && (JSON.parse(fs.readFileSync(pj, "utf8")) as { name?: string }).name === "peftlab")
      return d;
    if (path.dirname(d) === d) return path.resolve(from, "..", "..");
  }
}

/** peftlab, @tensorflow/tfjs and arquero as the peftlab package sees them. */
export function defaultAliases(root = peftlabRoot()): PackageAlias[] {
  const req = Module.createRequire(path.join(root, "package.json"));
  const out: PackageAlias[] = [{ name: "peftlab", dir: root }];
  for (const name of ["@tensorflow/tfjs", "arquero"]) {
    try {
      out.push({ name, dir: path.dirname(req.resolve(`${name}/package.json`)) });
    } catch {
      // Not installed: nothing to alias; the import reports itself.
    }
  }
  return out;
}

/** The aliases that do not resolve from `rootDir` by themselves. */
export function missingAliases(rootDir: string, aliases: PackageAlias[]): PackageAlias[] {
  const req = Module.createRequire(path.join(rootDir, "__peftlab__.js"));
  return aliases.filter((a) => {
    try {
      req.resolve(`${a.name}/package.json`);
      return false;
    } catch {
      return true;
    }
  });
}

/** Maps `<rootDir>/node_modules/<name>/rest` to `<dir>/rest`; undefined for any other path. */
export function aliasTarget(p: string, rootDir: string, aliases: readonly PackageAlias[]): string | undefined {
  const norm = p.replace(/\\/g, "/");
  for (const a of aliases) {
    const prefix = `${rootDir.replace(/\\/g, "/")}/node_modules/${a.name}`;
    if (norm === prefix) return a.dir;
    if (norm.startsWith(`${prefix}/`)) return path.join(a.dir, norm.slice(prefix.length + 1));
  }
  return undefined;
}

type Resolver = (request: string, parent: unknown, isMain: boolean, options?: unknown) => string;

/** Installs the aliases into ts.sys and Node's resolver; returns what was aliased. */
export function installPackageAliases(rootDir: string, aliases = defaultAliases()): PackageAlias[] {
  const todo = missingAliases(rootDir, aliases);
  if (todo.length === 0) return todo;
  const sys = ts.sys as unknown as Record<string, (...a: unknown[]) => unknown>;
  for (const fn of ["fileExists", "readFile", "directoryExists", "realpath", "getDirectories", "readDirectory"]) {
    const orig = sys[fn];
    if (typeof orig !== "function") continue;
    sys[fn] = (p: unknown, ...rest: unknown[]) => {
      const t = typeof p === "string" ? aliasTarget(p, rootDir, todo) : undefined;
      return orig.call(ts.sys, t ?? p, ...rest);
    };
  }
  const mod = Module as unknown as { _resolveFilename: Resolver };
  const resolve = mod._resolveFilename;
  mod._resolveFilename = function (this: unknown, request, parent, isMain, options) {
    try {
      return resolve.call(this, request, parent, isMain, options);
    } catch (e) {
      const a = todo.find((x) => request === x.name || request.startsWith(`${x.name}/`));
      if (!a || (e as { code?: string }).code !== "MODULE_NOT_FOUND") throw e;
      return resolve.call(this, path.join(a.dir, request.slice(a.name.length)), parent, isMain, options);
    }
  } as Resolver;
  return todo;
}
