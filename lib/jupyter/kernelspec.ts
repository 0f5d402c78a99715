/**
 * The "TypeScript (peftlab)" kernelspec: building kernel.json, finding a python with Jupyter, and installing, listing
 * and removing the spec through jupyter_client's KernelSpecManager (so every Jupyter install location rule applies).
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { ConfigError } from "../errors";
import { packageRoot } from "../paths";

export const KERNEL_NAME = "peftlab";
export const DISPLAY_NAME = "TypeScript (peftlab)";

export interface KernelSpecJson {
  argv: string[];
  display_name: string;
  language: string;
  interrupt_mode: "signal" | "message";
  env: Record<string, string>;
  metadata: Record<string, unknown>;
}

/** The built kernel entry (absolute), dist/kernel-ext/main.js under the peftlab root. */
export function kernelEntry(root = packageRoot()): string {
  return path.join(root, "dist", "kernel-ext", "main.js");
}

/** kernel.json: node and the kernel entry as absolute paths, optional prelude arguments. */
export function buildKernelSpec(
  o: { node?: string; entry?: string; preludePath?: string; noPrelude?: boolean; version?: string } = {},
): KernelSpecJson {
  const argv = [o.node ?? process.execPath, o.entry ?? kernelEntry(), "--config-path", "{connection_file}"];
  if (o.noPrelude) argv.push("--no-prelude");
  else if (o.preludePath) argv.push("--prelude", path.resolve(o.preludePath));
  return {
    argv,
    display_name: DISPLAY_NAME,
    language: "typescript",
    interrupt_mode: "signal",
    env: {},
    metadata: { peftlab: { version: o.version ?? "unknown" } },
  };
}

/** Runs `python -c code` and returns stdout; throws with stderr on failure. */
function py(python: string, code: string, args: string[] = [], env?: NodeJS.ProcessEnv): string {
  const r = spawnSync(python, ["-c", code, ...args], { encoding: "utf8", env: env ?? process.env });
  if (r.error || r.status !== 0) {
    throw new ConfigError("A Jupyter command failed", {
      where: `${python} -c …`,
      expected: "exit status 0",
      got: r.error ? r.error.message : `status ${r.status}: ${r.stderr.trim().split("\n").slice(-3).join(" | ")}`,
      fix: "check the Jupyter installation of that python (python -m jupyter kernelspec list)",
    });
  }
  return r.stdout;
}

/** True when `python` runs and can import jupyter_client. */
export function hasJupyter(python: string): boolean {
  const r = spawnSync(python, ["-c", "import jupyter_client"], { encoding: "utf8" });
  return !r.error && r.status === 0;
}

/** The first python with Jupyter among --python, /usr/bin/python3, python3 and python on PATH. */
export function findJupyterPython(preferred?: string, candidates = ["/usr/bin/python3", "python3", "python"]): string {
  const tried: string[] = [];
  for (const c of [preferred, ...candidates]) {
    if (!c || tried.includes(c)) continue;
    tried.push(c);
    if (hasJupyter(c)) return c;
  }
  throw new ConfigError("No python with Jupyter found", {
    where: "peftlab kernel",
    expected: "a python that can `import jupyter_client`",
    got: `none of ${tried.join(", ")}`,
    fix: "install Jupyter (Debian/Ubuntu: apt-get install jupyter-client jupyter-notebook; anywhere: pip install jupyterlab) or pass --python /path/to/python",
  });
}

export type InstallScope = { user: true } | { sysPrefix: true } | { prefix: string } | Record<string, never>;

/** Installs the kernelspec; returns the folder Jupyter installed it into. */
export function installKernelSpec(python: string, spec: KernelSpecJson, scope: InstallScope = {}): string {
  const src = fs.mkdtempSync(path.join(os.tmpdir(), "peftlab-kernelspec-"));
  try {
    fs.writeFileSync(path.join(src, "kernel.json"), JSON.stringify(spec, null, 2));
    const code = [
      "import sys, json",
      "from jupyter_client.kernelspec import KernelSpecManager",
      "a = json.loads(sys.argv[1])",
      "prefix = sys.prefix if a.get('sysPrefix') else a.get('prefix')",
      "d = KernelSpecManager().install_kernel_spec(a['src'], a['name'], user=bool(a.get('user')), prefix=prefix, replace=True)",
      "print(d)",
    ].join("\n");
    return py(python, code, [JSON.stringify({ src, name: KERNEL_NAME, ...scope })]).trim();
  } finally {
    fs.rmSync(src, { recursive: true, force: true });
  }
}

/** All kernelspecs Jupyter sees: name → {resource_dir, spec}. */
export function listKernelSpecs(
  python: string,
  env?: NodeJS.ProcessEnv,
): Record<string, { resource_dir: string; spec: KernelSpecJson }> {
  const code =
    "import json\nfrom jupyter_client.kernelspec import KernelSpecManager\nprint(json.dumps(KernelSpecManager().get_all_specs()))";
  return JSON.parse(py(python, code, [], env)) as Record<string, { resource_dir: string; spec: KernelSpecJson }>;
}

/** Removes the peftlab kernelspec; returns the folder removed. */
export function uninstallKernelSpec(python: string): string {
  const code = `from jupyter_client.kernelspec import KernelSpecManager\nprint(KernelSpecManager().remove_kernel_spec(${JSON.stringify(KERNEL_NAME)}))`;
  return py(python, code).trim();
}
