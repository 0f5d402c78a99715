/** `peftlab kernel install|list|uninstall`: the "TypeScript (peftlab)" Jupyter kernelspec. Logic lives in lib/jupyter. */
import * as fs from "node:fs";
import * as path from "node:path";
import type { Command } from "commander";
import { ConfigError } from "../../errors";
import {
  buildKernelSpec,
  DISPLAY_NAME,
  findJupyterPython,
  installKernelSpec,
  KERNEL_NAME,
  listKernelSpecs,
  uninstallKernelSpec,
  type InstallScope,
} from "../../jupyter";
import { packageRoot } from "../../paths";
import { formatTable, writeOut } from "../output";

interface InstallOpts {
  user?: boolean;
  sysPrefix?: boolean;
  prefix?: string;
  python?: string;
  prelude?: string | false;
}

/** The install scope from the flags; more than one is an error. */
export function installScope(o: InstallOpts): InstallScope {
  const chosen = [o.user && "--user", o.sysPrefix && "--sys-prefix", o.prefix && "--prefix"].filter(Boolean);
  if (chosen.length > 1) {
    throw new ConfigError("Choose one install location", {
      where: "peftlab kernel install",
      expected: "one of --user, --sys-prefix, --prefix P",
      got: chosen.join(" "),
      fix: "pass only one of them",
    });
  }
  if (o.user) return { user: true };
  if (o.sysPrefix) return { sysPrefix: true };
  if (o.prefix) return { prefix: o.prefix };
  return {};
}

/** Adds `kernel` and its subcommands to the program. */
export function register(program: Command): void {
  const kernel = program.command("kernel").description(`manage the "${DISPLAY_NAME}" Jupyter kernel`);
  kernel
    .command("install")
    .description(`install the "${DISPLAY_NAME}" kernelspec (name "${KERNEL_NAME}")`)
    .option("--user", "install for the current user")
    .option("--sys-prefix", "install into the python's sys.prefix (a virtualenv or conda env)")
    .option("--prefix <dir>", "install under <dir>/share/jupyter/kernels")
    .option("--python <path>", "python with Jupyter (default: /usr/bin/python3, then python3, python on PATH)")
    .option("--prelude <file>", "run this TypeScript file instead of the default prelude")
    .option("--no-prelude", "start kernels without a prelude")
    .action(function (this: Command, o: InstallOpts) {
      const python = findJupyterPython(o.python);
      const noPrelude = o.prelude === false;
      const spec = buildKernelSpec({
        preludePath: typeof o.prelude === "string" ? o.prelude : undefined,
        noPrelude,
        version: readVersion(),
      });
      const dir = installKernelSpec(python, spec, installScope(o));
      writeOut(
        this,
        `installed kernelspec "${KERNEL_NAME}" (${DISPLAY_NAME}) in ${dir}\n  python: ${python}\n  argv: ${spec.argv.join(" ")}\n`,
      );
    });
  kernel
    .command("list")
    .description("list the Jupyter kernelspecs the chosen python sees")
    .option("--python <path>", "python with Jupyter")
    .option("--json", "print JSON")
    .action(function (this: Command, o: { python?: string; json?: boolean }) {
      const specs = listKernelSpecs(findJupyterPython(o.python));
      if (o.json) return writeOut(this, `${JSON.stringify(specs, null, 2)}\n`);
      const rows = Object.entries(specs).map(([name, s]) => [name, s.spec.display_name, s.resource_dir]);
      writeOut(this, formatTable(["name", "display name", "folder"], rows));
    });
  kernel
    .command("uninstall")
    .description(`remove the "${KERNEL_NAME}" kernelspec`)
    .option("--python <path>", "python with Jupyter")
    .action(function (this: Command, o: { python?: string }) {
      const python = findJupyterPython(o.python);
      if (!(KERNEL_NAME in listKernelSpecs(python))) {
        throw new ConfigError("The peftlab kernelspec is not installed", {
          where: "peftlab kernel uninstall",
          expected: `a kernelspec named "${KERNEL_NAME}"`,
          got: "none",
          fix: "nothing to do; `peftlab kernel list` shows what is installed",
        });
      }
      writeOut(this, `removed ${uninstallKernelSpec(python)}\n`);
    });
}

function readVersion(): string {
  return (JSON.parse(fs.readFileSync(path.join(packageRoot(), "package.json"), "utf8")) as { version: string }).version;
}
