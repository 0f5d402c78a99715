/**
 * `peftlab bench --quick` end to end: tiny workloads in child processes, a fake reference command, the baseline
 * variant, the printed table and a well-formed JSON report with every field.
 */
import { strict as assert } from "node:assert";
import { nativeStatus } from "../../lib/backend/addon/loader";
import { simdVariant } from "../../lib/backend/wasm/loader";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { runCli } from "../../lib/cli/main";
import { median } from "../../lib/bench/measure";
import { BENCH_SCHEMA, type BenchReport, type WorkloadResult } from "../../lib/bench/types";

async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const code = await runCli(args, { out: (s) => (out += s), err: (s) => (err += s) });
  return { code, out, err };
}

const RESULT_KEYS: (keyof WorkloadResult)[] = [
  "workload",
  "title",
  "variant",
  "status",
  "backend",
  "threads",
  "fma",
  "gemm",
  "simd",
  "overrides",
  "batchSize",
  "imageSize",
  "imagesPerRepeat",
  "warmup",
  "repeats",
  "timesS",
  "medianS",
  "imgPerS",
  "gflopPerImage",
  "gflops",
  "flopFormula",
  "memory",
  "topKernels",
  "extra",
  "loadBefore",
  "loadAfter",
  "wallS",
];

describe("peftlab bench --quick", function () {
  this.timeout(300000);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "peftlab-bench-test-"));
  const out = path.join(dir, "nested", "bench.json");
  let run: { code: number; out: string; err: string };
  let rep: BenchReport;

  before(async () => {
    const fake = `${JSON.stringify(process.execPath)} -e 'console.log("torch 0.0 threads=2 ViT-S/16 B=16: LoRA train 2.0 img/s, inference 4.0 img/s")'`;
    run = await cli([
      "bench",
      "--quick",
      "--backend",
      "wasm",
      "--workloads",
      "vit_lora_train,vit_infer,vit_infer_merged,data_loader",
      "--repeats",
      "2",
      "--baseline",
      "--baseline-repeats",
      "1",
      "--compare",
      fake,
      "--out",
      out,
    ]);
    rep = JSON.parse(fs.readFileSync(out, "utf8")) as BenchReport;
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("exits 0 and prints the table with ratios and the report path", () => {
    assert.equal(run.code, 0, run.err);
    for (const w of ["vit_lora_train", "vit_infer_merged", "data_loader", "tfjs-kernels", "peftlab/ref", out])
      assert.ok(run.out.includes(w), w);
    assert.match(run.out, /load average/);
  });

  it("writes a well-formed JSON report with every field", () => {
    assert.equal(rep.schema, BENCH_SCHEMA);
    assert.ok(!Number.isNaN(Date.parse(rep.date)));
    assert.equal(rep.host.cpus, os.cpus().length);
    assert.equal(rep.host.loadStart.length, 3);
    assert.deepEqual(rep.options.workloads, ["vit_lora_train", "vit_infer", "vit_infer_merged", "data_loader"]);
    assert.equal(rep.results.length, 8, "peftlab + tfjs-kernels per workload");
    assert.deepEqual(fs.readdirSync(path.dirname(out)), ["bench.json"], "no temporary file left behind");
    for (const r of rep.results) {
      for (const k of RESULT_KEYS) assert.ok(k in r, `${r.workload}/${r.variant}: missing ${k}`);
      assert.equal(r.status, "ok", `${r.workload}/${r.variant}: ${r.reason}`);
      assert.equal(r.backend, "wasm");
      assert.ok(r.threads >= 1);
      assert.equal(r.timesS.length, r.variant === "peftlab" ? 2 : 1);
      assert.ok(Math.abs(r.medianS! - median(r.timesS)) < 1e-3);
      assert.ok(Math.abs(r.imgPerS! - r.imagesPerRepeat! / r.medianS!) / r.imgPerS! < 0.01);
      assert.ok(r.memory!.maxRssMiB > 10);
      assert.ok(r.memory!.wasmHeapMiB! > 0);
      if (r.variant === "peftlab") assert.ok(r.overrides.includes("_FusedMatMul"), "overrides listed");
      else assert.deepEqual(r.overrides, [], "the baseline runs without overrides");
      assert.equal(r.fma, r.variant === "peftlab" && simdVariant() === "fma", "fma only with peftlab's kernels");
      const peftlabGemm = nativeStatus().addon ? "native avx2+fma" : `wasm ${simdVariant()}`;
      assert.equal(r.gemm, r.variant === "peftlab" ? peftlabGemm : "tfjs", "the GEMM that ran");
      if (r.workload === "data_loader") {
        assert.equal(r.gflops, null);
      } else {
        assert.ok(r.gflops! > 0 && r.gflopPerImage! > 0 && r.flopFormula!.length > 10);
        assert.ok(Math.abs(r.gflops! - r.gflopPerImage! * r.imgPerS!) / r.gflops! < 0.01);
        assert.ok(r.memory!.tfPeakBytes! > 0);
        assert.ok(
          r.topKernels.length > 0 &&
            r.topKernels.every((k) => !k.kernel.endsWith("__op") && k.kernel !== "unnamed scope"),
        );
      }
    }
    const merged = rep.results.find((r) => r.workload === "vit_infer_merged" && r.variant === "peftlab")!;
    assert.equal(merged.fastPathOf, "vit_infer");
    assert.ok((merged.extra.mergedVsUnmergedMaxAbsDiff as number) < 1e-4);
  });

  it("stores the reference run and the ratios", () => {
    assert.equal(rep.references.length, 1);
    assert.equal(rep.references[0].torchVersion, "0.0");
    const train = rep.ratios.find((x) => x.workload === "vit_lora_train")!;
    const mine = rep.results.find((r) => r.workload === "vit_lora_train" && r.variant === "peftlab")!.imgPerS!;
    assert.equal(train.referenceImgPerS, 2);
    assert.ok(Math.abs(train.ratio! - mine / 2) < 1e-3);
    assert.deepEqual(rep.ratios.map((x) => x.workload).sort(), ["vit_infer", "vit_infer_merged", "vit_lora_train"]);
  });

  it("lists workloads, and rejects an unknown one or a bad flag with exit code 2", async () => {
    const list = await cli(["bench", "--list"]);
    assert.equal(list.code, 0);
    for (const w of ["vit_lora_train", "mnv2_train", "feature_cache", "data_loader", "vit_last4_prefix_train"])
      assert.ok(list.out.includes(w), w);
    const bad = await cli(["bench", "--workloads", "nope", "--out", path.join(dir, "x.json")]);
    assert.equal(bad.code, 2);
    assert.match(bad.err, /Unknown benchmark workload "nope"/);
    const reps = await cli(["bench", "--repeats", "two", "--out", path.join(dir, "y.json")]);
    assert.equal(reps.code, 2);
    assert.match(reps.err, /--repeats/);
    assert.ok(!fs.existsSync(path.join(dir, "x.json")) && !fs.existsSync(path.join(dir, "y.json")));
  });
});
