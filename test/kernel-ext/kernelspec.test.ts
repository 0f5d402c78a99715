import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { ConfigError } from "../../lib/errors";
import { buildKernelSpec, DISPLAY_NAME, findJupyterPython, kernelEntry } from "../../lib/jupyter/kernelspec";
import { parseKernelArgs } from "../../kernel-ext/main";
import { DEFAULT_PRELUDE, resolvePrelude } from "../../kernel-ext/prelude";
import { aliasTarget } from "../../kernel-ext/resolve_alias";
import { installScope } from "../../lib/cli/commands/kernel";

describe("kernel-ext kernelspec", () => {
  it("builds kernel.json with absolute node and entry paths", () => {
    const spec = buildKernelSpec({ version: "9.9.9" });
    assert.equal(spec.display_name, DISPLAY_NAME);
    assert.equal(spec.language, "typescript");
    assert.ok(path.isAbsolute(spec.argv[0]) && path.isAbsolute(spec.argv[1]));
    assert.equal(spec.argv[1], kernelEntry());
    assert.deepEqual(spec.argv.slice(2), ["--config-path", "{connection_file}"]);
    assert.deepEqual(buildKernelSpec({ noPrelude: true }).argv.slice(-1), ["--no-prelude"]);
    assert.deepEqual(buildKernelSpec({ preludePath: "/p.ts" }).argv.slice(-2), ["--prelude", "/p.ts"]);
  });

  it("says how to install Jupyter when no python has it", () => {
    const e = (() => {
      try {
        findJupyterPython("/nonexistent/python", ["/nonexistent/python3"]);
      } catch (err) {
        return err;
      }
      return undefined;
    })();
    assert.ok(e instanceof ConfigError);
    assert.match(e.message, /apt-get install jupyter-client/);
    assert.match(e.message, /pip install jupyterlab/);
  });

  it("rejects two install locations", () => {
    assert.throws(() => installScope({ user: true, prefix: "/x" }), ConfigError);
    assert.deepEqual(installScope({ prefix: "/x" }), { prefix: "/x" });
  });

  it("parses kernel argv", () => {
    assert.deepEqual(parseKernelArgs(["--config-path", "/c.json", "--no-prelude"]), {
      configPath: "/c.json",
      preludePath: undefined,
      noPrelude: true,
    });
    assert.equal(parseKernelArgs(["--prelude=/p.ts", "-f", "/c"]).preludePath, "/p.ts");
  });

  it("resolves the prelude from argv, env, or default", () => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "prelude-")), "p.ts");
    fs.writeFileSync(file, "const custom = 1;");
    assert.equal(resolvePrelude({}, {}).code, DEFAULT_PRELUDE);
    assert.equal(resolvePrelude({}, { PEFTLAB_PRELUDE: "none" }).code, null);
    assert.equal(resolvePrelude({}, { PEFTLAB_PRELUDE: file }).code, "const custom = 1;");
    assert.equal(resolvePrelude({ noPrelude: true }, { PEFTLAB_PRELUDE: file }).code, null);
    assert.throws(() => resolvePrelude({ preludePath: "/missing.ts" }, {}), ConfigError);
  });

  it("aliases only paths under the notebook's node_modules/<package>", () => {
    const al = [
      { name: "peftlab", dir: "/repo" },
      { name: "@tensorflow/tfjs", dir: "/nm/tfjs" },
    ];
    assert.equal(
      aliasTarget("/nb/node_modules/peftlab/dist/lib/index.d.ts", "/nb", al),
      path.join("/repo", "dist/lib/index.d.ts"),
    );
    assert.equal(aliasTarget("/nb/node_modules/@tensorflow/tfjs", "/nb", al), "/nm/tfjs");
    assert.equal(aliasTarget("/nb/node_modules/peftlabx/a", "/nb", al), undefined);
    assert.equal(aliasTarget("/other/node_modules/peftlab/a", "/nb", al), undefined);
  });
});
