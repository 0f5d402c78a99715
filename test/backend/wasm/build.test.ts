/**
 * The committed wasm kernels are reproducible: each .wasm equals its base64 copy in simd_kernels_wasm.ts, and where
 * the pinned toolchain (Debian's clang-16 + lld-16, 16.0.6; .ci/run installs it) is present, scripts/build-wasm.sh
 * rebuilds all of them into a temp folder byte for byte.
 */
import { strict as assert } from "node:assert";
import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as built from "../../../lib/backend/wasm/simd_kernels_wasm";

const ROOT = path.resolve(__dirname, "../../..");
const WASM_DIR = path.join(ROOT, "lib/backend/wasm");
const BUILDS: [string, string][] = [
  ["simd_kernels.wasm", built.SIMD_KERNELS_WASM_BASE64],
  ["simd_kernels_fma.wasm", built.SIMD_KERNELS_FMA_WASM_BASE64],
  ["sgemm_shared.wasm", built.SGEMM_SHARED_WASM_BASE64],
  ["sgemm_shared_fma.wasm", built.SGEMM_SHARED_FMA_WASM_BASE64],
];
const PINNED = "16.0.6";

/** Why the pinned toolchain cannot run here, or undefined when it can. */
function toolchainMissing(): string | undefined {
  const clang = spawnSync("clang-16", ["--version"], { encoding: "utf8" });
  if (clang.error || clang.status !== 0) return "clang-16 is not installed (apt-get install clang-16 lld-16)";
  if (!clang.stdout.includes(`clang version ${PINNED}`))
    return `clang-16 is not ${PINNED}: ${clang.stdout.split("\n")[0]}`;
  const ld = spawnSync("wasm-ld-16", ["--version"], { encoding: "utf8" });
  if (ld.error || !ld.stdout.includes(`LLD ${PINNED}`))
    return `wasm-ld-16 ${PINNED} is not installed (apt-get install lld-16)`;
  return undefined;
}

describe("wasm kernels build (scripts/build-wasm.sh, clang 16.0.6)", function () {
  this.timeout(300000);

  it("each committed .wasm equals its base64 copy in simd_kernels_wasm.ts", () => {
    for (const [name, b64] of BUILDS) {
      const file = fs.readFileSync(path.join(WASM_DIR, name));
      assert.ok(Buffer.from(b64, "base64").equals(file), `${name} differs from its base64: run scripts/build-wasm.sh`);
    }
  });

  it("records the pinned compiler", () => {
    assert.match(built.SIMD_KERNELS_BUILT_WITH, new RegExp(`clang version ${PINNED.replace(/\./g, "\\.")}\\b`));
  });

  it("a rebuild equals every committed .wasm and simd_kernels_wasm.ts byte for byte", function () {
    const missing = toolchainMissing();
    if (missing) {
      console.log(`      skipped: ${missing}`);
      this.skip();
    }
    const out = fs.mkdtempSync(path.join(os.tmpdir(), "peftlab-wasm-"));
    try {
      execFileSync("bash", [path.join(ROOT, "scripts/build-wasm.sh"), out], { stdio: "pipe" });
      for (const name of [...BUILDS.map(([n]) => n), "simd_kernels_wasm.ts"]) {
        const fresh = fs.readFileSync(path.join(out, name));
        const committed = fs.readFileSync(path.join(WASM_DIR, name));
        assert.ok(
          fresh.equals(committed),
          `${name}: the rebuild differs from the committed file (run scripts/build-wasm.sh)`,
        );
      }
    } finally {
      fs.rmSync(out, { recursive: true, force: true });
    }
  });

  it("refuses another compiler version with a message saying what to install", function () {
    if (toolchainMissing()) this.skip();
    // A wrapper that reports another version: the script must stop before building anything.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "peftlab-clang-"));
    try {
      const fake = path.join(dir, "clang");
      fs.writeFileSync(fake, '#!/bin/sh\necho "Debian clang version 14.0.6"\n', { mode: 0o755 });
      const r = spawnSync("bash", [path.join(ROOT, "scripts/build-wasm.sh"), path.join(dir, "out")], {
        encoding: "utf8",
        env: { ...process.env, CLANG: fake },
      });
      assert.equal(r.status, 2, r.stderr);
      assert.match(r.stderr, /clang 16\.0\.6 only/);
      assert.match(r.stderr, /clang-16 and lld-16/);
      assert.ok(!fs.existsSync(path.join(dir, "out", "simd_kernels.wasm")));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
