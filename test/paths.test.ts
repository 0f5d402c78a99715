import { strict as assert } from "node:assert";
import * as path from "node:path";
import { ConfigError } from "../lib/errors";
import { expandEnv, packageRoot, sharedPath, sharedRoot } from "../lib/paths";

describe("paths", () => {
  const repo = path.resolve(__dirname, "..");
  const cases: { name: string; env: NodeJS.ProcessEnv; want: string }[] = [
    { name: "unset: shared/ beside the checkout", env: {}, want: path.resolve(repo, "..", "shared") },
    { name: "empty: as unset", env: { PEFTLAB_SHARED: "" }, want: path.resolve(repo, "..", "shared") },
    { name: "absolute: as given", env: { PEFTLAB_SHARED: "/data/shared" }, want: "/data/shared" },
    { name: "relative: against the working directory", env: { PEFTLAB_SHARED: "x/y" }, want: path.resolve("x/y") },
  ];
  for (const c of cases) {
    it(`sharedRoot, PEFTLAB_SHARED ${c.name}`, () => assert.equal(sharedRoot(c.env), c.want));
  }

  it("the default does not depend on the working directory (a notebook runs in notebooks/)", () => {
    const cwd = process.cwd();
    try {
      process.chdir(path.join(repo, "notebooks"));
      assert.equal(sharedRoot({}), path.resolve(repo, "..", "shared"));
    } finally {
      process.chdir(cwd);
    }
  });

  it("packageRoot is the checkout, sharedPath joins under the root", () => {
    assert.equal(packageRoot(), repo);
    assert.equal(sharedPath("data", "x.npz"), path.join(sharedRoot(), "data", "x.npz"));
  });

  it("expandEnv: ${PEFTLAB_SHARED} is the absolute root, an unknown variable a ConfigError", () => {
    assert.equal(expandEnv("${PEFTLAB_SHARED}/d", { PEFTLAB_SHARED: "/s" }), "/s/d");
    assert.equal(expandEnv("a${HOME_X}b", { HOME_X: "-" }), "a-b");
    assert.throws(
      () => expandEnv("${NOPE_NOT_SET}", {}),
      (e: unknown) => e instanceof ConfigError && /NOPE_NOT_SET/.test(e.message),
    );
  });
});
