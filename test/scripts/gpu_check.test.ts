/**
 * scripts/gpu-check.sh --quick runs here on SwiftShader (the same script runs unquick on a GPU machine from the
 * bundle of scripts/gpu-bundle.sh): every step exits 0 and the summary JSON has parity, throughput and GPU bytes.
 */
import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { skipWithoutWebgpu } from "../helpers/backends";

const ROOT = path.resolve(__dirname, "../..");

describe("scripts/gpu-check.sh --quick (SwiftShader)", function () {
  this.timeout(900000);
  before(async function () {
    await skipWithoutWebgpu(this);
    if (!fs.existsSync(path.join(ROOT, "dist/lib/cli/main.js"))) {
      console.log("      skipped: dist/ is not built (npm run build)");
      this.skip();
    }
  });

  it("runs info, parity and the webgpu and CPU benches, and writes gpu-check.json", () => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), "peftlab-gpu-check-"));
    try {
      const r = spawnSync("bash", [path.join(ROOT, "scripts/gpu-check.sh"), "--quick"], {
        cwd: ROOT,
        env: { ...process.env, OUT: out, PEFTLAB_BACKEND: "" },
        encoding: "utf8",
        timeout: 800000,
      });
      assert.equal(r.status, 0, `${r.stdout.slice(-3000)}\n${r.stderr.slice(-2000)}`);
      const s = JSON.parse(fs.readFileSync(path.join(out, "gpu-check.json"), "utf8"));
      assert.equal(s.quick, true);
      assert.match(s.adapter, /\S/);
      assert.deepEqual(
        s.steps.map((x: { name: string }) => x.name),
        ["info", "parity_reference", "bench_webgpu", "bench_cpu"],
      );
      for (const st of s.steps) assert.equal(st.exit, 0, `${st.name} exit ${st.exit}`);
      assert.ok(s.parity.cases.length >= 10 && s.parity.cases.every((c: { status: string }) => c.status === "ok"));
      assert.ok(s.parity.worst !== null && s.parity.worst <= 1e-4, `worst ${s.parity.worst}`);
      for (const w of s.workloads) {
        assert.ok(w.webgpuImgPerS > 0 && w.cpuImgPerS > 0, JSON.stringify(w));
        assert.ok(w.peakGpuBytes > 0, `${w.workload}: peak GPU bytes`);
      }
      assert.equal(s.cpuBackend, "wasm");
      assert.ok(fs.readFileSync(path.join(out, "gpu-check.log"), "utf8").includes("done:"));
    } finally {
      fs.rmSync(out, { recursive: true, force: true });
    }
  });
});
