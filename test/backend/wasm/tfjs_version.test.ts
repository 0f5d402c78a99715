import { strict as assert } from "node:assert";
import { initBackend } from "../../../lib/backend";
import { BackendError } from "../../../lib/errors";
import { checkTfjsVersions, loadedTfjsVersions, TFJS_VERSION } from "../../../lib/backend/wasm/tfjs_version";
import { TEST_BACKENDS } from "../../helpers/backends";

describe("tfjs version check before the wasm kernels are installed", () => {
  it("package.json pins every @tensorflow/* package to the version the kernels were written against", () => {
    const pj = require("../../../package.json") as Record<string, Record<string, string> | undefined>;
    const deps = { ...pj.dependencies, ...pj.optionalDependencies, ...pj.devDependencies };
    const tfjs = Object.entries(deps).filter(([n]) => n.startsWith("@tensorflow/"));
    assert.ok(tfjs.some(([n]) => n === "@tensorflow/tfjs-backend-wasm"));
    for (const [n, v] of tfjs) assert.equal(v, TFJS_VERSION, `${n} is pinned to ${v}`);
  });

  it("accepts the installed tfjs", () => {
    assert.deepEqual(loadedTfjsVersions(), { "tfjs-core": TFJS_VERSION, "tfjs-backend-wasm": TFJS_VERSION });
    checkTfjsVersions();
  });

  for (const pkg of ["tfjs-core", "tfjs-backend-wasm"] as const) {
    it(`refuses another ${pkg} with a BackendError that says what to do`, () => {
      const loaded = { "tfjs-core": TFJS_VERSION, "tfjs-backend-wasm": TFJS_VERSION, [pkg]: "4.23.0" };
      assert.throws(
        () => checkTfjsVersions(loaded),
        (e: unknown) =>
          e instanceof BackendError &&
          e.message.includes(`@tensorflow/${pkg}`) &&
          e.message.includes("4.23.0") &&
          e.message.includes(`npm install --save-exact @tensorflow/tfjs@${TFJS_VERSION}`) &&
          e.message.includes("PEFTLAB_KERNELS=tfjs"),
      );
    });
  }

  it("initBackend on wasm passes it and installs the overrides", async function () {
    if (!TEST_BACKENDS.includes("wasm")) this.skip();
    const c = await initBackend({ prefer: "wasm", log: null, env: {} });
    assert.equal(c.name, "wasm");
    assert.ok(c.overrides.length > 0, "overrides installed");
  });
});
